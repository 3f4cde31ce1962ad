//! The state on disk: `$XDG_DATA_HOME/letdown/state.sqlite3`, an SQLite database.
//!
//! Why SQLite: feeds accumulate for years (5 years at 10 a day is 18,000 of them), and the old
//! store rewrote and flushed one JSON file of all of them on every change. Here a change is one
//! transaction holding only what changed (a logged feed is one row), committed to a write-ahead
//! log and flushed before it is acknowledged; a crash or `kill -9` at any moment leaves every
//! acknowledged change and never half of one. Loading is one query.
//!
//! Nothing the user had is ever overwritten:
//! - a database that cannot be opened or read is moved aside (with its write-ahead log) as
//!   `state.sqlite3.unreadable-TIME`, and a new one started; if it cannot be moved, it is left
//!   as it is and every change is refused until it is dealt with;
//! - the JSON file of earlier versions (`state.json`) is read once, copied into the database,
//!   and then renamed `state.json.migrated`; one that cannot be read is moved aside as
//!   `state.json.corrupt-TIME`.
//! - if the database is deleted or replaced while letdownd runs, the next change writes the
//!   whole state into the file now at the path, so nothing acknowledged is lost.

mod db;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::State;

/// The state file's name in the data directory.
pub const FILE_NAME: &str = "state.sqlite3";
/// The file earlier versions kept the state in, migrated on first start.
pub const LEGACY_FILE_NAME: &str = "state.json";

/// The state database, and what it holds.
pub struct Store {
    path: PathBuf,
    conn: Option<Connection>,
    /// Device and inode of the file `conn` has open: a change of either means the file was
    /// replaced or deleted under us.
    identity: Option<(u64, u64)>,
    /// What the file holds: the last state read or written.
    on_disk: State,
    /// Why no change may be written (an unreadable file that could not be moved aside).
    refused: Option<String>,
    /// The JSON file of an earlier version, renamed once its content is safely in the database.
    legacy: Option<PathBuf>,
    /// A delay before every write, so tests can play a slow disk.
    #[cfg(test)]
    pub slow_for_tests: Option<std::time::Duration>,
}

/// What opening found.
pub struct Loaded {
    /// The state (empty if there was none or it was unreadable).
    pub state: State,
    /// Problems to log (a file moved aside and where to), and notes (a migration).
    pub warnings: Vec<String>,
}

impl Store {
    /// Opens the store in `dir` (the data directory) and reads it; see the module's comment for
    /// what happens to unreadable and older files. Creates nothing until the first change.
    pub fn open(dir: &Path) -> (Store, Loaded) {
        let mut store = Store {
            path: dir.join(FILE_NAME),
            conn: None,
            identity: None,
            on_disk: State::default(),
            refused: None,
            legacy: None,
            #[cfg(test)]
            slow_for_tests: None,
        };
        let mut warnings = Vec::new();
        let legacy = dir.join(LEGACY_FILE_NAME);
        let state = if std::fs::symlink_metadata(&store.path).is_ok() {
            match store.connect() {
                Ok(()) => store.on_disk.clone(),
                Err(e) => {
                    warnings.push(store.set_aside(&e));
                    State::default()
                }
            }
        } else if std::fs::symlink_metadata(&legacy).is_ok() {
            match read_legacy(&legacy) {
                Ok(state) => {
                    store.legacy = Some(legacy);
                    // Migrate now; if it cannot be written yet, the next change does it.
                    match store.save(state.clone()) {
                        Ok(()) => warnings.push(format!(
                            "moved the feeds and schedules of {} into {}; the old file is kept as {}.migrated",
                            dir.join(LEGACY_FILE_NAME).display(),
                            store.path.display(),
                            LEGACY_FILE_NAME
                        )),
                        Err(e) => warnings.push(format!(
                            "read {} but cannot write {} yet ({e}); will try again at the next change",
                            dir.join(LEGACY_FILE_NAME).display(),
                            store.path.display()
                        )),
                    }
                    state
                }
                Err(e) => {
                    match move_aside(&legacy, "corrupt") {
                        Ok(aside) => warnings.push(format!(
                            "{} is not valid state ({e}); moved it to {} and started empty",
                            legacy.display(),
                            aside.display()
                        )),
                        Err(m) => {
                            // It stays; it will never be overwritten either (state lives in
                            // the database now).
                            warnings.push(format!(
                                "{} is not valid state ({e}) and could not be moved aside ({m}); started empty without touching it",
                                legacy.display()
                            ))
                        }
                    }
                    State::default()
                }
            }
        } else {
            State::default()
        };
        (store, Loaded { state, warnings })
    }

    /// What the file holds: the last state read or written.
    pub fn on_disk(&self) -> &State {
        &self.on_disk
    }

    /// The database's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves an unreadable database aside (or, if it cannot be, refuses all changes); returns
    /// what to log.
    fn set_aside(&mut self, problem: &str) -> String {
        self.conn = None;
        self.identity = None;
        self.on_disk = State::default();
        match move_aside(&self.path, "unreadable") {
            Ok(aside) => format!(
                "{}: {problem}; moved it to {} and started empty",
                self.path.display(),
                aside.display()
            ),
            Err(m) => {
                let why = format!(
                    "{} cannot be read ({problem}) and could not be moved aside ({m}); it is left untouched and no change is saved until it is moved or fixed",
                    self.path.display()
                );
                self.refused = Some(why.clone());
                why
            }
        }
    }

    /// Makes `conn` an open connection to the file now at the path, reading it if it is not
    /// the one read last.
    fn connect(&mut self) -> Result<(), String> {
        let path = &self.path;
        let identity = match std::fs::metadata(path) {
            Ok(m) => Some((m.dev(), m.ino())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
        };
        if self.conn.is_some() && identity.is_some() && identity == self.identity {
            return Ok(());
        }
        self.conn = None;
        let created = identity.is_none();
        if created {
            let dir = path.parent().ok_or("the state file has no directory")?;
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let conn = db::open(path, created).map_err(|e| e.to_string())?;
        let on_disk = if created {
            if let Some(dir) = path.parent()
                && let Ok(d) = std::fs::File::open(dir)
            {
                // The new file's name is durable too.
                let _ = d.sync_all();
            }
            State::default()
        } else {
            db::read(&conn)?
        };
        let m =
            std::fs::metadata(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        self.identity = Some((m.dev(), m.ino()));
        self.on_disk = on_disk;
        self.conn = Some(conn);
        Ok(())
    }

    /// Writes `next` durably: on Ok it is on disk, on Err nothing changed on disk.
    pub fn save(&mut self, next: State) -> Result<(), String> {
        if let Some(why) = &self.refused {
            return Err(why.clone());
        }
        #[cfg(test)]
        if let Some(d) = self.slow_for_tests {
            std::thread::sleep(d);
        }
        self.connect()?;
        let conn = self.conn.as_mut().expect("connected");
        db::write_difference(conn, &self.on_disk, &next)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        self.on_disk = next;
        if let Some(legacy) = self.legacy.take() {
            let mut done = legacy.clone().into_os_string();
            done.push(".migrated");
            if let Err(e) = std::fs::rename(&legacy, &done) {
                log::warn!("cannot rename {} after moving it: {e}", legacy.display());
            }
        }
        Ok(())
    }
}

/// Reads the JSON state of earlier versions.
fn read_legacy(path: &Path) -> Result<State, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Renames `path` (and an SQLite write-ahead log beside it) to `PATH.TAG-UNIXTIME`, never over
/// an existing file.
fn move_aside(path: &Path, tag: &str) -> std::io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let mut aside = with(&format!(".{tag}-{stamp}"));
    let mut n = 1;
    while std::fs::symlink_metadata(&aside).is_ok() {
        aside = with(&format!(".{tag}-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &aside)?;
    for side_file in ["-wal", "-journal"] {
        let from = with(side_file);
        if from.exists() {
            let mut to = aside.clone().into_os_string();
            to.push(side_file);
            let _ = std::fs::rename(&from, to);
        }
    }
    let _ = std::fs::remove_file(with("-shm"));
    Ok(aside)
}

#[cfg(test)]
mod tests;
