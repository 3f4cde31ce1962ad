//! The routines letdownd can start, kept in memory: read beside the coach (the built-in ones,
//! the user's files, the shipped files, and the prompts recorded for each), and read again when
//! a watched folder changes or at a reload. Finding a routine at a start, a schedule or a voice
//! trial is then a lookup, never a read of the disk on the coach's thread.
//!
//! Nothing is missed for being in memory: a request that needs the routines first drains the
//! watch without waiting ([`Routines::current`]); when a file changed (written the moment
//! before, say), the coach holds the request until the new reading is in.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::error::CoachError;
use super::folder_watch::Watch;
use super::request::RoutineRow;
use crate::paths::Paths;
use crate::routine::{Library, LoadError, Routine, RoutineEntry, RoutineSource, named_in};
use crate::schedule::Side;

/// What happened to the routines, for the coach to act on.
pub enum Event {
    /// A watched folder changed: read again ([`Routines::on_event`] starts it).
    Changed,
    /// A reading is in.
    Read(Vec<RoutineEntry>),
}

/// Every routine, as last read, and the watch on their folders.
pub struct Routines {
    paths: Paths,
    /// As last read; empty until the first reading is in.
    entries: Vec<RoutineEntry>,
    /// The first reading is in.
    read_once: bool,
    /// A reading is in flight.
    reading: bool,
    /// Something changed since the reading in flight began: read again when it ends.
    dirty: bool,
    watch: Option<Arc<Watch>>,
    tx: mpsc::UnboundedSender<Vec<RoutineEntry>>,
    rx: mpsc::UnboundedReceiver<Vec<RoutineEntry>>,
}

impl Routines {
    /// Starts reading the routines in `paths` beside the caller (needs a tokio runtime).
    pub fn new(paths: Paths) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let watch = match Watch::new() {
            Ok(w) => Some(Arc::new(w)),
            Err(e) => {
                log::warn!("{e}; routine files changed take effect at `letdown reload`");
                None
            }
        };
        let mut routines = Self {
            paths,
            entries: Vec::new(),
            read_once: false,
            reading: false,
            dirty: true,
            watch,
            tx,
            rx,
        };
        routines.read();
        routines
    }

    /// Reads every routine again on a blocking thread (the watches are renewed there too),
    /// unless a reading is in flight, which is then read again when it ends.
    fn read(&mut self) {
        if self.reading {
            self.dirty = true;
            return;
        }
        self.reading = true;
        self.dirty = false;
        let (paths, watch, tx) = (self.paths.clone(), self.watch.clone(), self.tx.clone());
        tokio::task::spawn_blocking(move || {
            let entries = super::caught::caught("reading the routines", || Ok(read_all(&paths)))
                .unwrap_or_else(|e| {
                    log::error!("{e}");
                    Vec::new()
                });
            if let Some(w) = watch {
                for dir in watched_dirs(&paths, &entries) {
                    if let Err(e) = w.watch_dir(&dir) {
                        log::debug!("{e}");
                    }
                }
            }
            let _ = tx.send(entries);
        });
    }

    /// True when what is in memory is what the disk holds: no reading is in flight and no
    /// watched file changed. Otherwise a reading is under way, and what needs the routines
    /// waits for its [`Event::Read`].
    pub fn current(&mut self) -> bool {
        if self.watch.as_ref().is_some_and(|w| !w.take().is_empty()) {
            self.read();
        }
        self.read_once && !self.reading && !self.dirty
    }

    /// The next change to the routines.
    pub async fn next(&mut self) -> Event {
        let watch = self.watch.clone();
        let changed = async move {
            match watch {
                Some(w) => w.changes().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = changed => Event::Changed,
            Some(entries) = self.rx.recv() => Event::Read(entries),
        }
    }

    /// Acts on [`Routines::next`]'s event. True when a reading came in and nothing has changed
    /// since: what waited for the routines can go on.
    pub fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::Changed => {
                self.read();
                false
            }
            Event::Read(entries) => {
                self.take(entries);
                if self.dirty {
                    self.read();
                }
                self.current()
            }
        }
    }

    /// Takes in a reading (also a reload's).
    pub fn take(&mut self, entries: Vec<RoutineEntry>) {
        self.reading = false;
        self.read_once = true;
        self.entries = entries;
    }

    /// Every routine, sorted by name.
    pub fn list(&self) -> &[RoutineEntry] {
        &self.entries
    }

    /// Every routine as listed on the bus: name, title, and where it comes from (or why it
    /// is broken).
    pub fn rows(&self) -> Vec<RoutineRow> {
        self.entries
            .iter()
            .map(|e| {
                let source = match &e.source {
                    RoutineSource::BuiltIn => "built-in".to_string(),
                    RoutineSource::File(p) => p.display().to_string(),
                };
                match &e.routine {
                    Ok(r) => (e.name.clone(), r.title.clone(), source),
                    Err(errs) => (
                        e.name.clone(),
                        String::new(),
                        format!("broken: {}", errs[0]),
                    ),
                }
            })
            .collect()
    }

    /// The routine `name`, with its recorded prompts, as last read.
    pub fn find(&self, name: &str) -> Result<Routine, LoadError> {
        named_in(&self.entries, name)
    }

    /// The routine `name` as it starts when `next_side` is the side the feed log says comes
    /// next: saying so first, and with `sides_order = "next-feed"`, its side blocks beginning
    /// with that side. A name from the bus is only ever a name: no path is read.
    pub fn to_start(&self, name: &str, next_side: Option<Side>) -> Result<Routine, CoachError> {
        let routine = self.find(name).map_err(|e| match e {
            LoadError::NotFound { .. } => CoachError::UnknownRoutine(e.to_string()),
            LoadError::Invalid(d) => {
                CoachError::InvalidRoutine(format!("routine \"{name}\" has problems:\n{d}"))
            }
        })?;
        use crate::phrase::{Breast, Phrase};
        let (mut routine, first) = match next_side {
            Some(side @ Side::Left) => (routine.for_next_side(side.name()), Some(Breast::Left)),
            Some(side @ Side::Right) => (routine.for_next_side(side.name()), Some(Breast::Right)),
            _ => (routine, None),
        };
        routine.lead_in = first.map(Phrase::SideNext);
        Ok(routine)
    }
}

/// Every routine in `paths`, each with its recorded prompts (a blocking read).
pub fn read_all(paths: &Paths) -> Vec<RoutineEntry> {
    let mut entries = Library::new(paths.clone()).list();
    for e in &mut entries {
        if let Ok(r) = &mut e.routine {
            crate::recordings::apply(r, &paths.data_dir);
        }
    }
    entries
}

/// The folders whose changes change the routines: the user's, the shipped ones, and each
/// routine's recordings.
fn watched_dirs(paths: &Paths, entries: &[RoutineEntry]) -> Vec<std::path::PathBuf> {
    let mut dirs = vec![paths.routines_dir.clone()];
    dirs.extend(paths.shared_routines_dirs.iter().cloned());
    dirs.extend(
        entries
            .iter()
            .map(|e| crate::recordings::folder(&paths.data_dir, &e.name)),
    );
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Waits until the routines are current, acting on their events.
    async fn settle(r: &mut Routines) {
        while !r.current() {
            let e = tokio::time::timeout(Duration::from_secs(10), r.next())
                .await
                .expect("the routines were never read");
            r.on_event(e);
        }
    }

    fn routine(name: &str) -> String {
        format!(
            "name = \"{name}\"\ntitle = \"T\"\n[[steps]]\ntitle = \"One\"\nsay = \"Hi.\"\nduration = \"3s\"\n"
        )
    }

    /// A file written the moment before is seen by the next request: it is not current until
    /// read again. The folder did not exist when letdownd started.
    #[tokio::test]
    async fn a_routine_written_after_the_start_is_found_by_the_next_request() {
        let dir = tempfile::tempdir().unwrap();
        let p = Paths::under(dir.path());
        let mut r = Routines::new(p.clone());
        assert!(!r.current(), "current before the first reading");
        settle(&mut r).await;
        assert!(r.find("lactation-massage").is_ok());
        assert!(r.find("mine").is_err());
        std::fs::create_dir_all(&p.routines_dir).unwrap();
        std::fs::write(p.routines_dir.join("mine.toml"), routine("mine")).unwrap();
        assert!(!r.current(), "the new folder's file was not noticed");
        settle(&mut r).await;
        assert_eq!(r.find("mine").unwrap().name, "mine");
        // Removed: gone at the next request.
        std::fs::remove_file(p.routines_dir.join("mine.toml")).unwrap();
        assert!(!r.current());
        settle(&mut r).await;
        assert!(matches!(r.find("mine"), Err(LoadError::NotFound { .. })));
    }

    /// A recording made for a routine's prompt is part of the routine as kept in memory.
    #[tokio::test]
    async fn a_recorded_prompt_is_in_the_routine_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = Paths::under(dir.path());
        std::fs::create_dir_all(&p.routines_dir).unwrap();
        std::fs::write(p.routines_dir.join("mine.toml"), routine("mine")).unwrap();
        let mut r = Routines::new(p.clone());
        settle(&mut r).await;
        assert!(r.find("mine").unwrap().steps[0].audio.is_none());
        let file = crate::recordings::file_for(&p.data_dir, "mine", "Hi.");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"RIFF").unwrap();
        assert!(!r.current(), "the recording was not noticed");
        settle(&mut r).await;
        assert_eq!(r.find("mine").unwrap().steps[0].audio.as_ref(), Some(&file));
    }
}
