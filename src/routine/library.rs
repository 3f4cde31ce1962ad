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
    (
        "hands-on-pumping.toml",
        include_str!("../../routines/hands-on-pumping.toml"),
    ),
    (
        "hand-expression.toml",
        include_str!("../../routines/hand-expression.toml"),
    ),
    (
        "engorgement-relief.toml",
        include_str!("../../routines/engorgement-relief.toml"),
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

    /// The routine files in `dir`, by file name (none when it cannot be read).
    fn in_dir(&self, dir: &Path) -> Vec<RoutineEntry> {
        let Ok(dir) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files.iter().map(|p| self.load_file(p)).collect()
    }

    /// Every routine, sorted by name. Of several with one name, the first of these wins: the
    /// user's own (config dir), the built-in ones, then those shipped as files in the data dirs
    /// (the user's, then the system's), so a file an older package left in /usr/share never
    /// replaces what a newer binary has built in.
    pub fn list(&self) -> Vec<RoutineEntry> {
        let mut all = self.in_dir(&self.paths.routines_dir);
        let layers = std::iter::once(self.built_in()).chain(
            self.paths
                .shared_routines_dirs
                .iter()
                .map(|d| self.in_dir(d)),
        );
        for layer in layers {
            let new: Vec<RoutineEntry> = layer
                .into_iter()
                .filter(|e| !all.iter().any(|a| a.name == e.name))
                .collect();
            all.extend(new);
        }
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
        if is_path(name_or_path) {
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
        named_in(&self.list(), name_or_path)
    }
}

/// Whether a routine argument names a file rather than a routine: it has a `/` or ends in
/// `.toml`. (letdownd never reads such an argument; the CLI resolves it.)
pub fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.ends_with(".toml")
}

/// The routine called `name` among `all` (as [`Library::list`] gave them).
pub fn named_in(all: &[RoutineEntry], name: &str) -> Result<Routine, LoadError> {
    match all.iter().find(|e| e.name == name) {
        Some(e) => e
            .routine
            .clone()
            .map_err(|e| LoadError::Invalid(Diagnostics(e))),
        None => Err(LoadError::NotFound {
            name: name.to_string(),
            known: all.iter().map(|e| e.name.clone()).collect(),
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn routine(name: &str, title: &str) -> String {
        format!(
            "name = \"{name}\"\ntitle = \"{title}\"\n[[steps]]\ntitle = \"One\"\nsay = \"Breathe in.\"\nduration = \"30s\"\n"
        )
    }

    /// The user's own routine wins over a built-in one, a built-in one over a file shipped in a
    /// data dir, and the user's data dir over the system's; new names from every layer are found.
    #[test]
    fn user_files_first_then_built_in_then_shipped_files() {
        let dir = tempfile::tempdir().unwrap();
        let at = |rel: &str| dir.path().join(rel);
        let paths = Paths {
            config_dir: at("config"),
            routines_dir: at("config/routines"),
            shared_routines_dirs: vec![at("home-share/routines"), at("usr-share/routines")],
            cache_dir: at("cache"),
            audio_dirs: vec![],
            data_dir: at("home-share"),
        };
        let put = |rel: &str, name: &str, title: &str| {
            let p = at(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, routine(name, title)).unwrap();
        };
        put("config/routines/mine.toml", "lactation-massage", "Mine");
        put(
            "usr-share/routines/q.toml",
            "quick-before-feed",
            "Old package copy",
        );
        put(
            "home-share/routines/extra.toml",
            "extra",
            "From the source install",
        );
        put("usr-share/routines/extra.toml", "extra", "From the package");
        put(
            "usr-share/routines/only.toml",
            "only-packaged",
            "Packaged only",
        );
        let lib = Library::new(paths);
        let title = |name: &str| lib.find_as_written(name).unwrap().title;
        assert_eq!(title("lactation-massage"), "Mine");
        assert_ne!(title("quick-before-feed"), "Old package copy");
        assert_eq!(title("extra"), "From the source install");
        assert_eq!(title("only-packaged"), "Packaged only");
        // A name looked up in the list (as letdownd does, the list in memory) is only ever a
        // name: a path given as one is not read.
        let named = |name: &str| named_in(&lib.list(), name);
        let passwd = named("../../../../etc/passwd").unwrap_err();
        assert!(matches!(passwd, LoadError::NotFound { .. }), "{passwd}");
        let file = at("usr-share/routines/only.toml");
        assert!(named(file.to_str().unwrap()).is_err());
        assert!(lib.find_as_written(file.to_str().unwrap()).is_ok());
        assert_eq!(named("only-packaged").unwrap().title, "Packaged only");
        let names: Vec<String> = lib.list().into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "engorgement-relief",
                "extra",
                "hand-expression",
                "hands-on-pumping",
                "lactation-massage",
                "only-packaged",
                "quick-before-feed"
            ]
        );
    }
}
