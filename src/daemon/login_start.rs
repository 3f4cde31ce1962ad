//! Starting at login once there is something to fire.
//!
//! A schedule or a feed plan fires only while letdownd runs. The package enables nothing for
//! anyone (D-Bus activation starts letdownd on a user's first command, and a daemon at every
//! login for every user of the machine would cost those who never use it), so once a user has
//! sessions ahead, letdownd asks that user's systemd manager to start it at login:
//! `systemctl --user enable letdownd.service`, which a user can undo with `disable`. Asked once
//! for good (a mark in the data dir remembers it, so a user who disables it again is not
//! overruled), only when systemd started letdownd, only when the unit is plainly disabled (not
//! masked, not enabled another way), and on a thread of its own: the coach never waits for
//! systemctl or the disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this run has asked already.
static ASKED: AtomicBool = AtomicBool::new(false);

/// The unit letdownd runs as.
const UNIT: &str = "letdownd.service";

/// The mark, in the data dir, that the question was settled once.
fn mark(data_dir: &Path) -> PathBuf {
    data_dir.join("asked-to-start-at-login")
}

/// Asks the user's systemd manager to start letdownd at login when `sessions_ahead` says
/// there is something to fire, if it does not yet and was never asked (see the module's doc).
/// `sessions_ahead` is called only while that can still matter (under systemd, not yet asked
/// in this run), so the coach's writes do not plan ahead for nothing. Returns at once.
pub fn ensure(data_dir: &Path, sessions_ahead: impl FnOnce() -> bool) {
    // INVOCATION_ID is set by systemd for the processes of a unit it runs.
    if std::env::var_os("INVOCATION_ID").is_none()
        || ASKED.load(Ordering::SeqCst)
        || !sessions_ahead()
    {
        return;
    }
    ASKED.store(true, Ordering::SeqCst);
    let mark = mark(data_dir);
    let spawned = std::thread::Builder::new()
        .name("login-start".into())
        .spawn(move || {
            if mark.exists() {
                return;
            }
            match enable_if_disabled() {
                Ok(enabled) => {
                    if enabled {
                        log::info!(
                            "sessions are scheduled: letdownd now starts at login (systemctl --user disable letdownd undoes it)"
                        );
                    }
                    // Settled: enabled now, or by the user already (or masked: their choice).
                    if let Err(e) = std::fs::create_dir_all(mark.parent().unwrap_or(Path::new(".")))
                        .and_then(|()| std::fs::write(&mark, ""))
                    {
                        log::warn!("could not write {}: {e}", mark.display());
                    }
                }
                Err(e) => log::warn!("could not have letdownd start at login: {e}"),
            }
        });
    if let Err(e) = spawned {
        log::warn!("could not have letdownd start at login: {e}");
    }
}

/// Enables the unit when `systemctl --user is-enabled` says it is disabled; whether it did.
fn enable_if_disabled() -> Result<bool, String> {
    let state = systemctl(&["is-enabled", UNIT])?;
    if state.trim() != "disabled" {
        return Ok(false);
    }
    systemctl(&["enable", UNIT]).map(|_| true)
}

/// Runs `systemctl --user ARGS`; its standard output, or what went wrong.
fn systemctl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("systemctl: {e}"))?;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    // is-enabled exits non-zero for "disabled": its word is the answer.
    if out.status.success() || args[0] == "is-enabled" {
        Ok(said)
    } else {
        Err(format!(
            "systemctl --user {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
