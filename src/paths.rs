//! Where letdown keeps its files, following the XDG base directory spec.
//!
//! Config and user routines live under `$XDG_CONFIG_HOME/letdown`, synthesized speech under
//! `$XDG_CACHE_HOME/letdown`, recorded prompts a user adds under `$XDG_DATA_HOME/letdown/audio`.
//! One struct carries them so tests and callers can point everything at a temporary place.

use std::path::PathBuf;

/// The directories letdown reads and writes.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `config.toml` lives here.
    pub config_dir: PathBuf,
    /// User routines (`*.toml`), which override built-in ones of the same name.
    pub routines_dir: PathBuf,
    /// Routines an installation ships as files (`$XDG_DATA_HOME/letdown/routines`, then each
    /// `$XDG_DATA_DIRS/letdown/routines`, e.g. the package's `/usr/share/letdown/routines`):
    /// found by name when neither the user's own nor a built-in routine has that name.
    pub shared_routines_dirs: Vec<PathBuf>,
    /// Synthesized speech cache.
    pub cache_dir: PathBuf,
    /// Directories searched for recorded prompt files, in order.
    pub audio_dirs: Vec<PathBuf>,
    /// Where the feed log and schedules are kept.
    pub data_dir: PathBuf,
}

impl Paths {
    /// The standard locations for the current user (honours the XDG_* variables).
    pub fn from_env() -> Self {
        let dirs = directories::ProjectDirs::from("", "", "letdown");
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let (config_dir, cache_dir, data_dir) = match &dirs {
            Some(d) => (
                d.config_dir().to_path_buf(),
                d.cache_dir().to_path_buf(),
                d.data_dir().to_path_buf(),
            ),
            None => (
                home.join(".config/letdown"),
                home.join(".cache/letdown"),
                home.join(".local/share/letdown"),
            ),
        };
        let data_dirs = std::env::var("XDG_DATA_DIRS")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/usr/local/share:/usr/share".into());
        // The user's data dir first, then the system's (a package's files).
        let shared: Vec<PathBuf> = std::iter::once(data_dir.clone())
            .chain(
                data_dirs
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(|d| PathBuf::from(d).join("letdown")),
            )
            .collect();
        Self {
            audio_dirs: shared.iter().map(|d| d.join("audio")).collect(),
            shared_routines_dirs: shared.iter().map(|d| d.join("routines")).collect(),
            data_dir,
            routines_dir: config_dir.join("routines"),
            config_dir,
            cache_dir,
        }
    }

    /// Everything in one folder, side by side (`config`, `config/routines`, `cache`, `data`),
    /// with no shared routines or audio folders: a home of its own for tests and benchmarks.
    pub fn under(dir: &std::path::Path) -> Self {
        Self {
            config_dir: dir.join("config"),
            routines_dir: dir.join("config/routines"),
            shared_routines_dirs: Vec::new(),
            cache_dir: dir.join("cache"),
            audio_dirs: Vec::new(),
            data_dir: dir.join("data"),
        }
    }

    /// The config file's path.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
}
