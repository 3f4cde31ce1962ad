//! Folders watched for changes (inotify), without a thread or a timer: the coach awaits the
//! watch's descriptor beside everything else, and can also drain it without waiting, so a
//! request made right after a file was written sees that it changed.
//!
//! A folder that is not there yet is watched through its nearest existing parent, for the one
//! name on the way to it: an unrelated file written beside it (in `~/.config`, say) is no
//! change. Watches are added again after each change is acted on ([`Watch::watch_dir`] is
//! cheap to repeat), so a folder made since is then watched itself.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use tokio::io::unix::AsyncFd;

/// A change in a watched folder: the folder, and the name in it (when the event has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The folder watched.
    pub dir: PathBuf,
    /// The file or folder in it that changed.
    pub name: Option<OsString>,
}

/// What one watch descriptor stands for.
struct Watched {
    dir: PathBuf,
    /// Watched for itself: every event in it counts.
    itself: bool,
    /// Watched as the nearest parent of folders not there yet: only these names count.
    toward: HashSet<OsString>,
}

/// An inotify instance over some folders.
pub struct Watch {
    fd: AsyncFd<Fd>,
    watched: Mutex<HashMap<WatchDescriptor, Watched>>,
}

/// The events a watch wants: a file written, made, moved or removed, or its mode changed.
fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_ATTRIB
}

impl Watch {
    /// A watch over no folder yet. Needs a tokio runtime.
    pub fn new() -> Result<Self, String> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| format!("cannot make an inotify watch: {e}"))?;
        // SAFETY: the inotify descriptor is owned by `Fd`, which the AsyncFd owns: it stays
        // open and the same for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(ino), tokio::io::Interest::READABLE) }
            .map_err(|e| format!("cannot wait on an inotify watch: {e}"))?;
        Ok(Self {
            fd,
            watched: Mutex::default(),
        })
    }

    /// Watches `dir`, or while it is not there, its nearest existing parent for the name that
    /// leads to it. Reads the disk (the folders on the way): call it beside the coach.
    pub fn watch_dir(&self, dir: &Path) -> Result<(), String> {
        let mut at = dir;
        let mut toward = None;
        loop {
            match self.fd.get_ref().0.add_watch(at, flags()) {
                Ok(wd) => {
                    let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
                    let w = watched.entry(wd).or_insert_with(|| Watched {
                        dir: at.to_path_buf(),
                        itself: false,
                        toward: HashSet::new(),
                    });
                    match toward {
                        None => w.itself = true,
                        Some(name) => {
                            w.toward.insert(name);
                        }
                    }
                    return Ok(());
                }
                Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {
                    let Some(parent) = at.parent() else {
                        return Err(format!("no folder on the way to {}", dir.display()));
                    };
                    toward = at.file_name().map(|n| n.to_os_string());
                    at = parent;
                }
                Err(e) => return Err(format!("cannot watch {}: {e}", at.display())),
            }
        }
    }

    /// The changes waiting, without waiting for any.
    pub fn take(&self) -> Vec<Change> {
        let mut changes = Vec::new();
        while let Ok(events) = self.fd.get_ref().0.read_events() {
            if events.is_empty() {
                break;
            }
            changes.extend(self.relevant(events));
        }
        changes
    }

    /// Waits for the next changes (at least one).
    pub async fn changes(&self) -> Vec<Change> {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            match guard.get_inner().0.read_events() {
                Ok(events) => {
                    let changes = self.relevant(events);
                    if !changes.is_empty() {
                        return changes;
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => {
                    log::warn!("a folder watch failed: {e}");
                    return std::future::pending().await;
                }
            }
        }
    }

    /// The events that are changes: every event in a folder watched for itself; in a parent,
    /// only those of the names leading to a folder watched for.
    fn relevant(&self, events: Vec<InotifyEvent>) -> Vec<Change> {
        let watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        events
            .into_iter()
            .filter_map(|e| {
                let w = watched.get(&e.wd)?;
                let counts = w.itself || e.name.as_ref().is_some_and(|n| w.toward.contains(n));
                counts.then(|| Change {
                    dir: w.dir.clone(),
                    name: e.name,
                })
            })
            .collect()
    }
}

/// The inotify instance, as tokio wants it.
struct Fd(Inotify);

impl std::os::fd::AsRawFd for Fd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_file_written_in_a_watched_folder_is_a_change_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let w = Watch::new().unwrap();
        w.watch_dir(dir.path()).unwrap();
        assert!(w.take().is_empty());
        std::fs::write(dir.path().join("a.toml"), "x").unwrap();
        // Seen without waiting: the write is done, so its event is queued.
        let changes = w.take();
        assert!(
            changes
                .iter()
                .any(|c| c.name.as_deref() == Some("a.toml".as_ref())),
            "{changes:?}"
        );
        std::fs::remove_file(dir.path().join("a.toml")).unwrap();
        tokio::time::timeout(Duration::from_secs(2), w.changes())
            .await
            .expect("the removal was not seen");
    }

    #[tokio::test]
    async fn a_folder_not_there_yet_is_watched_through_its_parent_for_its_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let want = dir.path().join("letdown/routines");
        let w = Watch::new().unwrap();
        w.watch_dir(&want).unwrap();
        std::fs::write(dir.path().join("other-app.conf"), "x").unwrap();
        assert!(w.take().is_empty(), "an unrelated file counted");
        std::fs::create_dir_all(&want).unwrap();
        assert!(!w.take().is_empty(), "the folder's making was not seen");
        // Watched again, it is watched itself now.
        w.watch_dir(&want).unwrap();
        std::fs::write(want.join("mine.toml"), "x").unwrap();
        let changes = w.take();
        assert!(
            changes.iter().any(|c| c.dir == want),
            "a file in the new folder was not seen: {changes:?}"
        );
    }
}
