//! Finding routines by name: the built-in ones and the user's own.
//!
//! Built-in routines are compiled into the binary, so they work wherever the binary does. User
//! routines are `*.toml` files in the config dir's `routines/` folder; one with the same name as
//! a built-in routine replaces it.

use std::path::{Path, PathBuf};

use super::{ParseOptions, Routine, parse_routine};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::paths::Paths;

/// The routines shipped with letdown: (file name, contents).
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "lactation-massage.toml",
        include_str!("../../routines/lactation-massage.toml"),
    ),
    (
        "quick-before-feed.toml",
        include_str!("../../routines/quick-before-feed.toml"),
    ),
];

/// Where a routine came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutineSource {
    /// Compiled into letdown.
    BuiltIn,
    /// A file on disk.
    File(PathBuf),
}

/// A routine found while listing, valid or not.
#[derive(Debug, Clone)]
pub struct RoutineEntry {
    /// Its name (the file stem if the file could not be read).
    pub name: String,
    /// Where it came from.
    pub source: RoutineSource,
    /// The routine, or every problem found in it.
    pub routine: Result<Routine, Vec<Diagnostic>>,
}

/// The set of routines a user can start.
pub struct Library {
    paths: Paths,
}

impl Library {
    /// A library that looks in `paths`.
    pub fn new(paths: Paths) -> Self {
        Self { paths }
    }

    fn options(&self, base_dir: Option<&Path>) -> ParseOptions {
        ParseOptions {
            base_dir: base_dir.map(Path::to_path_buf),
            audio_dirs: self.paths.audio_dirs.clone(),
        }
    }

    /// Reads a routine file from disk.
    pub fn load_file(&self, path: &Path) -> RoutineEntry {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let routine = match std::fs::read_to_string(path) {
            Ok(text) => parse_routine(path, &text, &self.options(path.parent())),
            Err(e) => Err(vec![Diagnostic {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                field: String::new(),
                message: format!("cannot read the file: {e}"),
            }]),
        };
        RoutineEntry {
            name: routine.as_ref().map(|r| r.name.clone()).unwrap_or(stem),
            source: RoutineSource::File(path.to_path_buf()),
            routine,
        }
    }

    fn built_in(&self) -> Vec<RoutineEntry> {
        BUILT_IN
            .iter()
            .map(|(file, text)| {
                let path = PathBuf::from(format!("built-in:{file}"));
                let routine = parse_routine(&path, text, &self.options(None));
                RoutineEntry {
                    name: routine
                        .as_ref()
                        .map(|r| r.name.clone())
                        .unwrap_or_else(|_| file.trim_end_matches(".toml").to_string()),
                    source: RoutineSource::BuiltIn,
                    routine,
                }
            })
            .collect()
    }

    fn user(&self) -> Vec<RoutineEntry> {
        let Ok(dir) = std::fs::read_dir(&self.paths.routines_dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files.iter().map(|p| self.load_file(p)).collect()
    }

    /// Every routine, user routines replacing built-in ones of the same name, sorted by name.
    pub fn list(&self) -> Vec<RoutineEntry> {
        let user = self.user();
        let mut all: Vec<RoutineEntry> = self
            .built_in()
            .into_iter()
            .filter(|b| !user.iter().any(|u| u.name == b.name))
            .collect();
        all.extend(user);
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Finds a routine by name, or reads it from a path (anything containing `/` or ending in
    /// `.toml`), with the prompts recorded for it by `letdown record` in place of synthesis.
    pub fn find(&self, name_or_path: &str) -> Result<Routine, LoadError> {
        let mut routine = self.find_as_written(name_or_path)?;
        crate::recordings::apply(&mut routine, &self.paths.data_dir);
        Ok(routine)
    }

    /// Finds a routine as its file has it, without recordings.
    pub fn find_as_written(&self, name_or_path: &str) -> Result<Routine, LoadError> {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            let path = Path::new(name_or_path);
            if !path.exists() {
                return Err(LoadError::NotFound {
                    name: name_or_path.to_string(),
                    known: Vec::new(),
                });
            }
            return self
                .load_file(path)
                .routine
                .map_err(|e| LoadError::Invalid(Diagnostics(e)));
        }
        let all = self.list();
        let known = all.iter().map(|e| e.name.clone()).collect();
        match all.into_iter().find(|e| e.name == name_or_path) {
            Some(e) => e.routine.map_err(|e| LoadError::Invalid(Diagnostics(e))),
            None => Err(LoadError::NotFound {
                name: name_or_path.to_string(),
                known,
            }),
        }
    }
}

/// Why a routine could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No routine by that name or path.
    #[error("no routine named \"{name}\"{}", if known.is_empty() { String::new() } else { format!("; known routines: {}", known.join(", ")) })]
    NotFound {
        /// What was asked for.
        name: String,
        /// The names that do exist.
        known: Vec<String>,
    },
    /// The routine exists but has problems.
    #[error("{0}")]
    Invalid(Diagnostics),
}
