//! Starting a session: waiting for its speech to be prepared, then reading its first sounds and
//! opening the output beside the coach, then beginning on the engine's clock.

use super::*;

/// Who waits for a routine being prepared, to start it when it is ready.
pub(super) enum Starter {
    /// A client's Start call, answered when the session starts (or cannot).
    Client(Answer<()>),
    /// A scheduled session; `quiet` plays it at the quiet-hours volume.
    Scheduled { quiet: bool },
}

impl Starter {
    fn answer(self, result: Result<(), CoachError>) {
        match self {
            Starter::Client(answer) => reply(answer, result),
            Starter::Scheduled { .. } => {
                if let Err(e) = result {
                    log::error!("the scheduled session could not start: {e}");
                }
            }
        }
    }
}

/// A start waiting for its routine's speech to be prepared, then for its first sounds to be
/// read and the output opened (both beside the coach).
pub(super) struct PendingStart {
    pub(super) routine: String,
    pub(super) starter: Starter,
    pub(super) stage: Stage,
}

/// Where a pending start is.
pub(super) enum Stage {
    /// Its speech is being synthesized.
    Preparing,
    /// Prepared; its first sounds are being read and the output opened.
    Opening {
        ready: Arc<Ready>,
        /// The first step's sounds, once read.
        sounds: Option<Result<Sounds, String>>,
    },
}

/// A session's first sounds read beside the coach, and the output if it was lent to be opened.
pub(super) struct Readied {
    pub(super) sounds: Result<Sounds, String>,
    pub(super) opened: Option<Opened>,
}

impl Coach {
    /// Prepares, beside the coach, the default routine and every routine that a schedule or
    /// the feed plan will start in the next days, so a session starts on the second, not
    /// after its synthesis. Called at start, after schedule changes, a reload and a zone change.
    pub(super) fn prepare_ahead(&mut self) {
        let mut names = self.scheduler.routines_ahead(&self.cfg.default_routine);
        names.insert(self.cfg.default_routine.clone());
        for name in names {
            match self.find_routine(&name) {
                Ok(r) => self.preparer.prepare(r, &self.cfg, &self.paths),
                Err(e) => log::warn!("cannot prepare \"{name}\": {e}"),
            }
        }
    }

    /// A preparation finished: start the session that waited for it.
    pub(super) fn on_prepared(&mut self, p: Prepared) {
        let waiting = self
            .pending
            .as_ref()
            .is_some_and(|w| w.routine == p.name && matches!(w.stage, Stage::Preparing));
        let name = p.name.clone();
        match self.preparer.finish(p) {
            Finished::Ready(ready) if waiting => {
                let w = self.pending.take().expect("a pending start");
                self.begin(ready, w.starter);
            }
            Finished::Failed(e) if waiting => self.fail_pending(e),
            // The config changed while it ran: prepare again with the new one.
            Finished::Stale if waiting => match self.find_routine(&name) {
                Ok(r) => self.preparer.prepare(r, &self.cfg, &self.paths),
                Err(e) => self.fail_pending(e),
            },
            _ => {}
        }
        if self.live.is_none() && self.pending.is_none() {
            // What the synthesis used is free now.
            crate::daemon::memory::give_back();
        }
        self.publish();
    }

    pub(super) fn fail_pending(&mut self, e: CoachError) {
        if let Some(w) = self.pending.take() {
            w.starter.answer(Err(e));
            self.publish();
        }
    }

    /// Starts a routine ("" = the default): at once when its speech is ready, otherwise as soon
    /// as it has been prepared. The starter is answered then.
    pub(super) fn start(&mut self, name: String, starter: Starter) {
        if let Some(l) = &self.live {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{}\" is already running; stop it first with `letdown stop`",
                l.ready.routine.name
            ))));
        }
        if let Some(w) = &self.pending {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{}\" is being prepared and starts when it is ready",
                w.routine
            ))));
        }
        let name = if name.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            name
        };
        let routine = match self.find_routine(&name) {
            Ok(r) => r,
            Err(e) => return starter.answer(Err(e)),
        };
        match self.preparer.ready_for(&routine) {
            Some(ready) => self.begin(ready, starter),
            None => {
                log::info!("\"{}\" starts when its speech is prepared", routine.name);
                self.pending = Some(PendingStart {
                    routine: routine.name.clone(),
                    starter,
                    stage: Stage::Preparing,
                });
                self.preparer.prepare(routine, &self.cfg, &self.paths);
                self.publish();
            }
        }
    }

    /// Begins a session of a prepared routine: its first sounds are read and the output opened
    /// beside the coach ([`Coach::on_readied`] starts it and answers the starter).
    pub(super) fn begin(&mut self, ready: Arc<Ready>, starter: Starter) {
        let first: Vec<Sound> = ready.plan.steps[0].cues.iter().map(|c| c.sound).collect();
        let index = ready.sounds.clone();
        let lent = self.audio.lend();
        let tx = self.readied_tx.clone();
        tokio::task::spawn_blocking(move || {
            use crate::daemon::caught::caught;
            let sounds = caught("reading the session's first sounds", || index.load(first));
            // The output comes back even when opening it panicked.
            let opened = lent.map(|(mut out, mix)| {
                let result = caught("opening the sound output", || out.open(mix));
                (out, result)
            });
            let _ = tx.send(Readied { sounds, opened });
        });
        self.pending = Some(PendingStart {
            routine: ready.routine.name.clone(),
            starter,
            stage: Stage::Opening {
                ready,
                sounds: None,
            },
        });
        self.publish();
    }

    /// A starting session's first sounds are read (and the output opened, if it was closed).
    pub(super) fn on_readied(&mut self, r: Readied) {
        let opened = r.opened.map(|o| self.audio.put_back(o));
        if let Some(PendingStart {
            stage: Stage::Opening { sounds, .. },
            ..
        }) = self.pending.as_mut()
        {
            *sounds = Some(r.sounds);
        }
        match opened {
            Some(Err(e)) => self.fail_start(e),
            _ => self.try_begin(),
        }
    }

    /// The output is back from being reopened.
    pub(super) fn on_reopened(&mut self, o: Opened) {
        match self.audio.put_back(o) {
            Ok(()) => self.try_begin(),
            Err(e) if self.live.is_some() => log::debug!("still no sound output: {e}"),
            Err(e) => {
                log::warn!("{e}");
                self.fail_start(e);
            }
        }
    }

    /// Opens the output beside the coach if it is closed and not already being opened.
    pub(super) fn reopen(&mut self) {
        if let Some(lent) = self.audio.lend() {
            open_output(lent, self.opened_tx.clone());
        }
    }

    /// Starts the pending session if its sounds are read and the output is open.
    pub(super) fn try_begin(&mut self) {
        let ready_to_go = matches!(
            &self.pending,
            Some(PendingStart {
                stage: Stage::Opening {
                    sounds: Some(_),
                    ..
                },
                ..
            })
        ) && self.audio.is_open();
        if !ready_to_go {
            return;
        }
        let Some(PendingStart {
            starter,
            stage:
                Stage::Opening {
                    ready,
                    sounds: Some(sounds),
                },
            ..
        }) = self.pending.take()
        else {
            return;
        };
        let quiet = matches!(starter, Starter::Scheduled { quiet: true });
        let result = sounds
            .map_err(|e| CoachError::SpeechFailed(format!("cannot read the prepared speech: {e}")))
            .and_then(|sounds| {
                self.begin_session(ready, sounds, quiet.then_some(self.cfg.quiet_volume))
            });
        starter.answer(result);
        self.publish();
    }

    /// A start that cannot go on (no sound output): its starter hears why.
    pub(super) fn fail_start(&mut self, e: CoachError) {
        if matches!(
            &self.pending,
            Some(PendingStart {
                stage: Stage::Opening { .. },
                ..
            })
        ) && let Some(w) = self.pending.take()
        {
            w.starter.answer(Err(e));
            self.publish();
        }
    }

    pub(super) fn begin_session(
        &mut self,
        ready: Arc<Ready>,
        sounds: Sounds,
        quiet: Option<f64>,
    ) -> Result<(), CoachError> {
        self.audio.begin_session(quiet);
        self.sessions += 1;
        let id = self.sessions;
        // The rest of the routine's sounds are read beside the coach, long before the second
        // step needs them.
        let (index, tx) = (ready.sounds.clone(), self.loaded_tx.clone());
        tokio::task::spawn_blocking(move || {
            let loaded =
                crate::daemon::caught::caught("reading the session's sounds", || index.load_all());
            let _ = tx.send((id, loaded));
        });
        let mut session = Session::new(Arc::clone(&ready.plan));
        session.start(self.now()).map_err(CoachError::from)?;
        log::info!("started \"{}\"", ready.routine.name);
        self.live = Some(Live {
            id,
            ready,
            session,
            sounds,
        });
        Ok(())
    }
}
