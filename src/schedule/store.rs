//! The state file: `$XDG_DATA_HOME/letdown/state.json`, written atomically.
//!
//! Every change is written to a temporary file in the same directory, flushed to disk, renamed
//! over the old file and the directory flushed, so a crash or `kill -9` at any moment leaves
//! either the old state or the new one, never a mix. A change is acknowledged only after that.
//! A file that cannot be read as state is moved aside (never overwritten) and said so.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::State;

/// Where the state lives.
pub struct Store {
    path: PathBuf,
}

/// What loading found.
pub struct Loaded {
    /// The state (empty if there was none or it was unreadable).
    pub state: State,
    /// A problem to log: where an unreadable file was moved.
    pub warning: Option<String>,
}

impl Store {
    /// A store at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is an empty state; an unreadable one is moved aside.
    pub fn load(&self) -> Loaded {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Loaded {
                    state: State::default(),
                    warning: None,
                };
            }
            Err(e) => {
                return Loaded {
                    state: State::default(),
                    warning: Some(format!(
                        "cannot read {}: {e}; starting with no schedules (the file is left as it is)",
                        self.path.display()
                    )),
                };
            }
        };
        match serde_json::from_slice::<State>(&text) {
            Ok(state) => Loaded {
                state,
                warning: None,
            },
            Err(e) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let aside = self.path.with_extension(format!("json.corrupt-{stamp}"));
                let moved = std::fs::rename(&self.path, &aside);
                Loaded {
                    state: State::default(),
                    warning: Some(match moved {
                        Ok(()) => format!(
                            "{} is not valid state ({e}); moved it to {} and started empty",
                            self.path.display(),
                            aside.display()
                        ),
                        Err(m) => format!(
                            "{} is not valid state ({e}) and could not be moved aside ({m}); started empty without touching it",
                            self.path.display()
                        ),
                    }),
                }
            }
        }
    }

    /// Writes `state` atomically. On error the file on disk is unchanged.
    pub fn save(&self, state: &State) -> Result<(), String> {
        let dir = self
            .path
            .parent()
            .ok_or("the state file has no directory")?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".state-")
            .tempfile_in(dir)
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        tmp.write_all(&json)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| format!("cannot write the state: {e}"))?;
        tmp.persist(&self.path)
            .map_err(|e| format!("cannot replace {}: {e}", self.path.display()))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
