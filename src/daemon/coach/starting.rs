//! Starting a session: waiting for its speech to be prepared, then reading its first sounds
//! and opening the output beside the coach. Whether the routine's cached speech is all still
//! on disk is asked there too, never on the coach's thread: when it is gone (a cleared cache),
//! the routine is prepared again and the start goes on after it.
//!
//! It owns the one start in progress and says what should happen next ([`Next`]); beginning
//! the session is the session on air's.

use std::sync::Arc;

use crate::daemon::audio::{Audio, Opened};
use crate::daemon::error::CoachError;
use crate::daemon::request::{Answer, reply};
use crate::daemon::returns::Returns;
use crate::plan::Sound;
use crate::prepare::{Ready, Sounds};

/// Who waits for a session to start.
pub(super) enum Starter {
    /// A client's Start call, answered when the session starts (or cannot).
    Client(Answer<()>),
    /// A scheduled session; `quiet` plays it at the quiet-hours volume.
    Scheduled {
        /// In quiet hours.
        quiet: bool,
    },
}

impl Starter {
    /// Tells the starter how the start went (a scheduled one's failure goes to the log).
    pub fn answer(self, result: Result<(), CoachError>) {
        match self {
            Starter::Client(answer) => reply(answer, result),
            Starter::Scheduled { .. } => {
                if let Err(e) = result {
                    log::error!("the scheduled session could not start: {e}");
                }
            }
        }
    }

    /// Whether the session plays at the quiet-hours volume.
    pub fn quiet(&self) -> bool {
        matches!(self, Starter::Scheduled { quiet: true })
    }
}

/// What comes of a start's progress.
pub(super) enum Next {
    /// Nothing yet (its sounds or the output are still on their way), or nothing was starting.
    Wait,
    /// Everything is ready: begin the session.
    Begin(Arc<Ready>, Sounds, Starter),
    /// The routine `name`'s cached speech is gone: prepare it again, then start.
    Prepare(String, Starter),
    /// It cannot start.
    Failed(Starter, CoachError),
}

/// A session's first sounds, read beside the coach.
enum FirstSounds {
    Read(Sounds),
    /// A file of the routine's cached speech is gone.
    Gone,
    Failed(String),
}

/// A start's first sounds, and the output if it was lent to be opened.
pub(super) struct Readied {
    sounds: FirstSounds,
    opened: Option<Opened>,
}

/// Where the start in progress is.
enum Stage {
    /// Its speech is being synthesized.
    Preparing,
    /// Prepared; its first sounds are being read (`None` until they are) and the output opened.
    Opening {
        ready: Arc<Ready>,
        sounds: Option<FirstSounds>,
    },
}

struct Pending {
    routine: String,
    starter: Starter,
    stage: Stage,
}

/// The start in progress, if any.
pub(super) struct Starting {
    pending: Option<Pending>,
    /// The first sounds (and the output) back from beside the coach.
    readied: Returns<Readied>,
}

impl Starting {
    /// Nothing starting.
    pub fn new() -> Self {
        Self {
            pending: None,
            readied: Returns::new(),
        }
    }

    /// The routine being started, if a start is in progress.
    pub fn routine(&self) -> Option<&str> {
        self.pending.as_ref().map(|p| p.routine.as_str())
    }

    /// Whether a start waits for `name`'s speech to be prepared.
    pub fn waits_for(&self, name: &str) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|p| p.routine == name && matches!(p.stage, Stage::Preparing))
    }

    /// `starter` waits for `routine`'s speech to be prepared.
    pub fn wait_for_speech(&mut self, routine: String, starter: Starter) {
        self.pending = Some(Pending {
            routine,
            starter,
            stage: Stage::Preparing,
        });
    }

    /// The start that waited for its speech (to open it, or tell it why not).
    pub fn take_waiting(&mut self) -> Option<Starter> {
        match self.pending.take() {
            Some(Pending {
                stage: Stage::Preparing,
                starter,
                ..
            }) => Some(starter),
            other => {
                self.pending = other;
                None
            }
        }
    }

    /// Reads `ready`'s first sounds, and opens the output if `audio` lends it, beside the
    /// coach; [`Starting::on_readied`] takes them back.
    pub fn open(&mut self, ready: Arc<Ready>, starter: Starter, audio: &mut Audio) {
        let first: Vec<Sound> = ready.plan.steps[0].cues.iter().map(|c| c.sound).collect();
        let index = ready.sounds.clone();
        let lent = audio.lend();
        let tx = self.readied.sender();
        tokio::task::spawn_blocking(move || {
            use crate::daemon::caught::caught;
            let sounds = if index.intact() {
                match caught("reading the session's first sounds", || index.load(first)) {
                    Ok(s) => FirstSounds::Read(s),
                    Err(e) => FirstSounds::Failed(e),
                }
            } else {
                FirstSounds::Gone
            };
            // The output comes back even when opening it panicked.
            let opened = lent.map(|(mut out, mix)| {
                let result = caught("opening the sound output", || out.open(mix));
                (out, result)
            });
            let _ = tx.send(Readied { sounds, opened });
        });
        self.pending = Some(Pending {
            routine: ready.routine.name.clone(),
            starter,
            stage: Stage::Opening {
                ready,
                sounds: None,
            },
        });
    }

    /// The next start's first sounds, back from beside the coach.
    pub async fn readied(&mut self) -> Readied {
        self.readied.next().await
    }

    /// A start's first sounds are read (the output given back to `audio`, if it was lent).
    pub fn on_readied(&mut self, r: Readied, audio: &mut Audio) -> Next {
        let opened = r.opened.map(|o| audio.put_back(o));
        if let Some(Pending {
            stage: Stage::Opening { sounds, .. },
            ..
        }) = self.pending.as_mut()
        {
            *sounds = Some(r.sounds);
        }
        match opened {
            Some(Err(e)) => self.output_failed(e),
            _ => self.output_ready(audio.is_open()),
        }
    }

    /// Whether the output is `open` now: the start goes on if its sounds are read (and, when
    /// its cached speech is gone or could not be read, without waiting for the output).
    pub fn output_ready(&mut self, open: bool) -> Next {
        let Some(p) = self.pending.take() else {
            return Next::Wait;
        };
        match p.stage {
            Stage::Opening {
                ready,
                sounds: Some(FirstSounds::Read(s)),
            } if open => Next::Begin(ready, s, p.starter),
            Stage::Opening {
                ready,
                sounds: Some(FirstSounds::Gone),
            } => Next::Prepare(ready.routine.name.clone(), p.starter),
            Stage::Opening {
                sounds: Some(FirstSounds::Failed(e)),
                ..
            } => Next::Failed(
                p.starter,
                CoachError::SpeechFailed(format!("cannot read the prepared speech: {e}")),
            ),
            stage => {
                self.pending = Some(Pending { stage, ..p });
                Next::Wait
            }
        }
    }

    /// The output could not be opened: a start waiting for it cannot go on.
    pub fn output_failed(&mut self, e: CoachError) -> Next {
        match self.pending.take() {
            Some(
                p @ Pending {
                    stage: Stage::Opening { .. },
                    ..
                },
            ) => Next::Failed(p.starter, e),
            other => {
                self.pending = other;
                Next::Wait
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_start_waiting_for_its_speech_is_taken_as_waiting() {
        let mut s = Starting::new();
        assert!(s.take_waiting().is_none());
        s.wait_for_speech("short".into(), Starter::Scheduled { quiet: true });
        assert!(s.waits_for("short") && !s.waits_for("other"));
        assert_eq!(s.routine(), Some("short"));
        let starter = s.take_waiting().expect("the waiting start");
        assert!(starter.quiet());
        assert!(s.routine().is_none());
        // A start opening is not failed by an output that failed for someone else.
        assert!(matches!(
            s.output_failed(CoachError::AudioUnavailable("x".into())),
            Next::Wait
        ));
        assert!(matches!(s.output_ready(true), Next::Wait));
    }
}
