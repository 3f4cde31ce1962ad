//! Following the system time zone while letdownd runs.
//!
//! Daily sessions and the feed plan's fixed times are local times. A zone change (a trip,
//! `timedatectl set-timezone`) replaces `/etc/localtime` (or the file `TZ` names) without
//! setting the clock, so no timer notices. An inotify watch on that file's directory wakes the
//! coach when it changes; jiff's cached zone is dropped and everything is planned again. No
//! polling: an idle letdownd still has no timer ticking.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::folder_watch::Watch;

/// The file that says the system's zone: the path in `TZ` when it is one, else
/// `/etc/localtime`.
pub fn zone_file() -> PathBuf {
    zone_file_for(std::env::var_os("TZ"))
}

fn zone_file_for(tz: Option<OsString>) -> PathBuf {
    let tz = tz
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = tz.strip_prefix(':').unwrap_or(&tz);
    if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        PathBuf::from("/etc/localtime")
    }
}

/// Watches the zone file for changes.
pub struct ZoneWatch {
    watch: Option<Watch>,
    name: OsString,
}

impl ZoneWatch {
    /// Watches `file` (through its directory, since the file is usually replaced, not
    /// written). When that cannot be set up, it says so and never fires.
    pub fn new(file: &Path) -> Self {
        let name = file.file_name().unwrap_or_default().to_os_string();
        let dir = file.parent().unwrap_or(Path::new("/"));
        let watch = Watch::new().and_then(|w| w.watch_dir(dir).map(|()| w));
        let watch = match watch {
            Ok(w) => Some(w),
            Err(e) => {
                log::warn!(
                    "cannot watch {} for time-zone changes ({e}); a new zone takes effect at the next restart",
                    file.display()
                );
                None
            }
        };
        Self { watch, name }
    }

    /// Returns when the zone file changed (after dropping jiff's cached system zone).
    pub async fn changed(&self) {
        let Some(watch) = &self.watch else {
            return std::future::pending().await;
        };
        loop {
            let changes = watch.changes().await;
            if changes
                .iter()
                .any(|c| c.name.as_deref() == Some(self.name.as_os_str()))
            {
                jiff::tz::reset_system_time_zone_cache();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_file_is_tz_when_it_is_a_path() {
        assert_eq!(zone_file_for(None), PathBuf::from("/etc/localtime"));
        assert_eq!(
            zone_file_for(Some("Europe/Berlin".into())),
            PathBuf::from("/etc/localtime")
        );
        assert_eq!(
            zone_file_for(Some(":/tmp/z/localtime".into())),
            PathBuf::from("/tmp/z/localtime")
        );
        assert_eq!(
            zone_file_for(Some("/tmp/z/localtime".into())),
            PathBuf::from("/tmp/z/localtime")
        );
    }

    #[tokio::test]
    async fn a_replaced_zone_file_wakes_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("localtime");
        std::fs::write(&file, b"one").unwrap();
        let watch = ZoneWatch::new(&file);
        let other = dir.path().join("unrelated");
        std::fs::write(&other, b"x").unwrap();
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(200), watch.changed());
        assert!(quiet.await.is_err(), "woke for another file");
        std::fs::write(dir.path().join("new"), b"two").unwrap();
        std::fs::rename(dir.path().join("new"), &file).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(2), watch.changed())
            .await
            .expect("the watch did not wake");
    }
}
