//! `Reload`: the config and every routine read again beside the coach (they are files, and a
//! slow disk must not hold a session's cues up); the coach applies what was read and answers.

use crate::config::Config;
use crate::daemon::error::CoachError;
use crate::daemon::preparer::Preparer;
use crate::daemon::request::Answer;
use crate::daemon::returns::Returns;
use crate::daemon::routines::{Routines, read_all};
use crate::daemon::scheduler::Scheduler;
use crate::paths::Paths;
use crate::routine::RoutineEntry;

/// What a reload read beside the coach, and whom to answer.
pub(super) struct Reloaded {
    /// The new config and every routine, or why nothing changed.
    pub read: Result<(Config, Vec<RoutineEntry>), CoachError>,
    /// The reload's caller.
    pub answer: Answer<Vec<String>>,
}

/// Reloads being read.
pub(super) struct Reloading {
    back: Returns<Reloaded>,
}

impl Reloading {
    /// None yet.
    pub fn new() -> Self {
        Self {
            back: Returns::new(),
        }
    }

    /// Reads the config and routines in `paths` on a blocking thread, for `answer`.
    pub fn start(&self, paths: &Paths, answer: Answer<Vec<String>>) {
        let (paths, tx) = (paths.clone(), self.back.sender());
        tokio::task::spawn_blocking(move || {
            let read = crate::daemon::caught::caught("reading the config and routines", || {
                Ok(read_for_reload(&paths))
            })
            .unwrap_or_else(|e| {
                Err(CoachError::InvalidConfig(format!(
                    "nothing was changed: {e}"
                )))
            });
            let _ = tx.send(Reloaded { read, answer });
        });
    }

    /// The next reload read.
    pub async fn next(&mut self) -> Reloaded {
        self.back.next().await
    }
}

/// What a reload changes, lent by the coach for one call.
pub(super) struct Applied<'a> {
    /// The config in effect.
    pub cfg: &'a mut Config,
    /// The routines in memory.
    pub routines: &'a mut Routines,
    /// Speech beside the coach (the voice may have changed).
    pub preparer: &'a mut Preparer,
    /// Quiet hours, the heads-up's lead and the Baby Buddy link.
    pub scheduler: &'a mut Scheduler,
}

impl Applied<'_> {
    /// The config and routines read take effect; returns the problems in the routines.
    pub fn take(self, cfg: Config, entries: Vec<RoutineEntry>) -> Vec<String> {
        let problems = problems(&entries, &cfg.default_routine);
        self.routines.take(entries);
        if self.preparer.configure(&cfg) {
            // The answering voice may have changed.
            super::answers::Answers::prepare_heads(&cfg, self.preparer);
        }
        self.scheduler.configure(&cfg);
        *self.cfg = cfg;
        for p in &problems {
            log::warn!("{p}");
        }
        log::info!("reloaded config and routines ({} problems)", problems.len());
        problems
    }
}

/// Reads the config and every routine for a reload (on a blocking thread).
fn read_for_reload(paths: &Paths) -> Result<(Config, Vec<RoutineEntry>), CoachError> {
    let cfg = Config::load(&paths.config_file())
        .map_err(|e| {
            CoachError::InvalidConfig(format!(
                "the config file has problems; nothing was changed:\n{e}"
            ))
        })?
        .on_this_machine(paths);
    Ok((cfg, read_all(paths)))
}

/// Every problem in the routine files, the default routine's (by name) included.
pub(super) fn problems(entries: &[RoutineEntry], default: &str) -> Vec<String> {
    let mut problems: Vec<String> = entries
        .iter()
        .filter_map(|e| e.routine.as_ref().err())
        .flatten()
        .map(|d| d.to_string())
        .collect();
    if let Err(e) = crate::routine::named_in(entries, default) {
        problems.push(format!("default routine \"{default}\": {e}"));
    }
    problems
}
