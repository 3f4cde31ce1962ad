//! Launching a session: from a start asked for (a key, a schedule) through its preparation and
//! first sounds to the session on air, and preparing ahead what the next days will start.
//!
//! [`Launch`] is lent, for one call, exactly the parts a start touches: it reads the routines,
//! the scheduler (which side is next, what is scheduled) and the config, and moves the start
//! in progress ([`Starting`]), the preparer, the output and the session on air. Deferring a
//! start until the routines are read again is the coach's (it routes); what is here never
//! waits on a disk.

use crate::config::Config;
use crate::daemon::audio::{Audio, Opened};
use crate::daemon::error::CoachError;
use crate::daemon::preparer::{Finished, Prepared, Preparer};
use crate::daemon::routines::Routines;
use crate::daemon::scheduler::Scheduler;
use crate::routine::Routine;

use super::on_air::OnAir;
use super::starting::{Next, Starter, Starting};

/// The parts a start touches, lent by the coach for one call.
pub(super) struct Launch<'a> {
    /// The routines, in memory (current: the coach checked).
    pub routines: &'a Routines,
    /// Which side is next, and what the schedules and the feed plan will start.
    pub scheduler: &'a Scheduler,
    /// The default routine and the quiet-hours volume.
    pub cfg: &'a Config,
    /// Speech synthesized beside the coach.
    pub preparer: &'a mut Preparer,
    /// The start in progress.
    pub starting: &'a mut Starting,
    /// The mix and output.
    pub audio: &'a mut Audio,
    /// The session on air.
    pub on_air: &'a mut OnAir,
}

impl Launch<'_> {
    /// The routine `name` as it would start now (which side first, by the feed log).
    pub fn find(&self, name: &str) -> Result<Routine, CoachError> {
        let next_side = self.scheduler.summary().next_side;
        self.routines.to_start(name, next_side)
    }

    /// Prepares, beside the coach, the default routine and every routine that a schedule or
    /// the feed plan will start in the next days, so a session starts on the second, not
    /// after its synthesis.
    pub fn prepare_ahead(&mut self) {
        let mut names = self.scheduler.routines_ahead(&self.cfg.default_routine);
        names.insert(self.cfg.default_routine.clone());
        for name in names {
            match self.find(&name) {
                Ok(r) => self.preparer.prepare(r),
                Err(e) => log::warn!("cannot prepare \"{name}\": {e}"),
            }
        }
    }

    /// Starts a routine ("" = the default): at once when its speech is ready, otherwise as soon
    /// as it has been prepared. The starter is answered then.
    pub fn start(&mut self, name: String, starter: Starter) {
        if let Some(running) = self.on_air.routine() {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{running}\" is already running; stop it first with `letdown stop`"
            ))));
        }
        if let Some(starting) = self.starting.routine() {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{starting}\" is being prepared and starts when it is ready"
            ))));
        }
        let name = if name.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            name
        };
        let routine = match self.find(&name) {
            Ok(r) => r,
            Err(e) => return starter.answer(Err(e)),
        };
        match self.preparer.ready_for(&routine) {
            Some(ready) => self.starting.open(ready, starter, self.audio),
            None => {
                log::info!("\"{}\" starts when its speech is prepared", routine.name);
                self.starting.wait_for_speech(routine.name.clone(), starter);
                self.preparer.prepare(routine);
            }
        }
    }

    /// A preparation finished: the start that waited for it goes on.
    pub fn on_prepared(&mut self, p: Prepared) {
        let waiting = self.starting.waits_for(&p.name);
        let name = p.name.clone();
        let next = match self.preparer.finish(p) {
            Finished::Ready(ready) if waiting => self.starting.take_waiting().map(|s| {
                self.starting.open(ready, s, self.audio);
                Next::Wait
            }),
            Finished::Failed(e) if waiting => {
                self.starting.take_waiting().map(|s| Next::Failed(s, e))
            }
            // The config changed while it ran: prepare again with the new one.
            Finished::Stale if waiting => match self.find(&name) {
                Ok(r) => {
                    self.preparer.prepare(r);
                    None
                }
                Err(e) => self.starting.take_waiting().map(|s| Next::Failed(s, e)),
            },
            _ => None,
        };
        if let Some(next) = next {
            self.go_on(next);
        }
        if !self.on_air.is_live() && self.starting.routine().is_none() {
            // What the synthesis used is free now.
            crate::daemon::memory::give_back();
        }
    }

    /// A start moved on: the session begins, its routine is prepared again, or its starter
    /// hears why it cannot start.
    pub fn go_on(&mut self, next: Next) {
        match next {
            Next::Wait => {}
            Next::Begin(ready, sounds, starter) => {
                let quiet = starter.quiet().then_some(self.cfg.quiet_volume);
                self.audio.begin_session(quiet);
                let begun = self.on_air.begin(ready, sounds);
                if begun.is_err() {
                    self.audio.end_session();
                }
                starter.answer(begun);
            }
            Next::Prepare(name, starter) => {
                log::warn!("the speech of \"{name}\" is gone from the cache; preparing it again");
                self.preparer.forget(&name);
                match self.find(&name) {
                    Ok(r) => {
                        self.starting.wait_for_speech(name, starter);
                        self.preparer.prepare(r);
                    }
                    Err(e) => starter.answer(Err(e)),
                }
            }
            Next::Failed(starter, e) => {
                starter.answer(Err(e));
                // An output opened for it closes again.
                self.audio.sounding(self.on_air.is_live());
            }
        }
    }

    /// The output is back from being reopened: a start that waited for it goes on.
    pub fn on_reopened(&mut self, o: Opened) {
        let next = match self.audio.put_back(o) {
            Ok(()) => self.starting.output_ready(self.audio.is_open()),
            Err(e) if self.on_air.is_live() => {
                log::debug!("still no sound output: {e}");
                Next::Wait
            }
            Err(e) => {
                log::warn!("{e}");
                self.starting.output_failed(e)
            }
        };
        self.go_on(next);
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::daemon::coach::tests::{ESPEAK, coach};

    /// A start names what is wrong: an unknown routine, or the one already starting (a second
    /// key press never starts a second session).
    #[tokio::test]
    async fn a_start_is_refused_with_the_routine_that_stands_in_its_way() {
        let (mut c, _dir) = coach(ESPEAK).await;
        let (tx, mut rx) = oneshot::channel();
        c.launch().start("nonesuch".into(), Starter::Client(tx));
        let err = rx.try_recv().unwrap().unwrap_err();
        assert!(matches!(err, CoachError::UnknownRoutine(_)), "{err:?}");
        assert_eq!(c.starting.routine(), None);

        let (tx, mut first) = oneshot::channel();
        c.launch().start(String::new(), Starter::Client(tx));
        assert_eq!(
            c.starting.routine(),
            Some("short"),
            "not the default routine"
        );
        assert!(first.try_recv().is_err(), "answered before it started");
        let (tx, mut second) = oneshot::channel();
        c.launch().start("short".into(), Starter::Client(tx));
        match second.try_recv().unwrap() {
            Err(CoachError::AlreadyRunning(m)) => assert!(m.contains("\"short\""), "{m}"),
            other => panic!("a second start was not refused: {other:?}"),
        }
    }
}
