//! Speech beside the coach: preparing routines and synthesizing single phrases on blocking
//! threads, so the coach answers calls and keeps cues on time while a synthesizer works
//! (seconds with a cold cache; bounded by each engine's time limit).
//!
//! Results come back over channels that the coach selects on. It keeps the config and paths it
//! works with, so callers say only what to prepare or say.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::error::CoachError;
use crate::clip::Clip;
use crate::config::{Config, VoiceConfig};
use crate::paths::Paths;
use crate::prepare::{Ready, prepare};
use crate::routine::{Routine, VoiceOverride};

/// A routine prepared, or why it could not be, back from a blocking thread.
pub struct Prepared {
    /// The routine's name.
    pub name: String,
    generation: u64,
    result: Result<Ready, CoachError>,
}

/// What a finished preparation means for the coach.
pub enum Finished {
    /// Ready to play (and kept).
    Ready(Arc<Ready>),
    /// It failed.
    Failed(CoachError),
    /// The config changed while it ran: it was dropped; prepare again if still wanted.
    Stale,
}

/// What a phrase synthesized beside the coach is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PhraseFor {
    /// A "where am I" phrase of this session.
    Session(u64),
    /// A heads-up before a scheduled session.
    HeadsUp,
    /// The answer to a key press, at this gain (quieter in quiet hours), numbered so answers
    /// are said in the order the keys were pressed.
    Feedback(f32, u64),
    /// A heads-up synthesized ahead of its time (this many-th), kept until it is due.
    Warm(u64),
    /// A sentence said with a voice being tried (`letdown voices try`), this many-th.
    Trial(u64),
}

/// Something synthesized beside the coach.
pub enum Done {
    /// A routine's preparation ended.
    Prepared(Box<Prepared>),
    /// A phrase is ready to be said.
    Spoken(PhraseFor, Clip),
    /// A phrase could not be synthesized: why.
    Unspoken(PhraseFor, String),
}

/// Prepared routines, preparations in flight, and phrases being synthesized.
pub struct Preparer {
    cfg: Config,
    paths: Paths,
    prepared: HashMap<String, Arc<Ready>>,
    preparing: HashSet<String>,
    /// Bumped when the config changes: preparations begun before are stale.
    generation: u64,
    tx: mpsc::UnboundedSender<Done>,
    rx: mpsc::UnboundedReceiver<Done>,
}

impl Preparer {
    /// Nothing prepared yet; preparing with `cfg` into `paths`' cache.
    pub fn new(cfg: Config, paths: Paths) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            cfg,
            paths,
            prepared: HashMap::new(),
            preparing: HashSet::new(),
            generation: 0,
            tx,
            rx,
        }
    }

    /// The prepared routine, when what is in memory still matches its file and the config.
    /// (Whether its speech is still in the cache is a question for the disk: a start asks it
    /// beside the coach, and [`Preparer::forget`]s a routine whose cache went.)
    pub fn ready_for(&self, routine: &Routine) -> Option<Arc<Ready>> {
        self.prepared
            .get(&routine.name)
            .filter(|r| r.routine == *routine)
            .cloned()
    }

    /// Drops the prepared routine `name` (its cached speech is gone): it is prepared again.
    pub fn forget(&mut self, name: &str) {
        self.prepared.remove(name);
    }

    /// The prepared routine `name`, as it was last prepared (for its length).
    pub fn last_prepared(&self, name: &str) -> Option<&Arc<Ready>> {
        self.prepared.get(name)
    }

    /// Prepares `routine` on a blocking thread, unless it is ready or being prepared.
    pub fn prepare(&mut self, routine: Routine) {
        if self.ready_for(&routine).is_some() || !self.preparing.insert(routine.name.clone()) {
            return;
        }
        let (cfg, paths, tx) = (self.cfg.clone(), self.paths.clone(), self.tx.clone());
        let generation = self.generation;
        let name = routine.name.clone();
        log::info!("preparing \"{name}\"");
        tokio::task::spawn_blocking(move || {
            let result = super::caught::caught("preparing the speech", || {
                prepare(routine, &cfg, &paths).map_err(|e| e.to_string())
            })
            .map_err(CoachError::SpeechFailed);
            let _ = tx.send(Done::Prepared(Box::new(Prepared {
                name,
                generation,
                result,
            })));
        });
    }

    /// Takes a (re)loaded config: when it differs, everything prepared (and in flight) is out
    /// of date. True when it changed.
    pub fn configure(&mut self, cfg: &Config) -> bool {
        if *cfg == self.cfg {
            return false;
        }
        self.cfg = cfg.clone();
        self.prepared.clear();
        self.generation += 1;
        true
    }

    /// The next preparation or phrase finished beside the coach.
    pub async fn next(&mut self) -> Option<Done> {
        self.rx.recv().await
    }

    /// Takes a finished preparation in: keeps what is ready and logs what happened.
    pub fn finish(&mut self, p: Prepared) -> Finished {
        self.preparing.remove(&p.name);
        if p.generation != self.generation {
            log::debug!("discarding a stale preparation of \"{}\"", p.name);
            return Finished::Stale;
        }
        match p.result {
            Ok(ready) => {
                for w in &ready.warnings {
                    log::warn!("{w}");
                }
                log::info!(
                    "prepared \"{}\" ({} texts synthesized) in {:?}",
                    p.name,
                    ready.synthesized,
                    ready.took
                );
                let ready = Arc::new(ready);
                self.prepared.insert(p.name, Arc::clone(&ready));
                Finished::Ready(ready)
            }
            Err(e) => {
                log::error!("could not prepare \"{}\": {e}", p.name);
                Finished::Failed(e)
            }
        }
    }

    /// Synthesizes `texts` with the configured voice into the speech cache, beside the coach,
    /// keeping nothing in memory: a later [`Preparer::speak`] of one of them is a read from the
    /// cache, not a synthesis (answers' heads, said at once even by a voice slow to start).
    pub fn speak_ahead(&self, texts: Vec<String>) {
        let (voice_cfg, cache_dir) = (self.cfg.voice.clone(), self.paths.cache_dir.clone());
        tokio::task::spawn_blocking(move || {
            let done = super::caught::caught("synthesizing answers ahead", || {
                crate::voice::voice_for(&voice_cfg, &Default::default(), &cache_dir)
                    .and_then(|v| v.prepare(&texts).map_err(|e| e.to_string()))
                    .map(drop)
            });
            match done {
                Ok(()) => log::debug!("answers ready ahead"),
                Err(e) => log::warn!("could not synthesize the answers ahead: {e}"),
            }
            // What the synthesis used is free now (it may end after the coach went idle).
            super::memory::give_back();
        });
    }

    /// Synthesizes `text` (a phrase no routine prepared) on a blocking thread, with the
    /// configured voice as `routine_voice` changes it; the clip comes back from
    /// [`Preparer::next`] tagged `what`.
    pub fn speak(&self, text: String, what: PhraseFor, routine_voice: &VoiceOverride) {
        self.speak_with(self.cfg.voice.clone(), text, what, routine_voice)
    }

    /// [`Preparer::speak`] with another voice than the configured one (a voice being tried).
    pub fn speak_with(
        &self,
        voice_cfg: VoiceConfig,
        text: String,
        what: PhraseFor,
        routine_voice: &VoiceOverride,
    ) {
        let routine_voice = routine_voice.clone();
        let (cache_dir, tx) = (self.paths.cache_dir.clone(), self.tx.clone());
        tokio::task::spawn_blocking(move || {
            let clip = super::caught::caught("synthesizing an answer", || {
                crate::voice::voice_for(&voice_cfg, &routine_voice, &cache_dir)
                    .and_then(|v| {
                        v.prepare(std::slice::from_ref(&text))
                            .map_err(|e| e.to_string())
                    })
                    .and_then(|p| p.clips[&text].load())
            });
            match clip {
                Ok(c) => {
                    let _ = tx.send(Done::Spoken(what, c));
                }
                Err(e) => {
                    log::warn!("could not speak \"{text}\": {e}");
                    // Nothing to say, but whoever waits for it (answers in order) moves on.
                    let _ = tx.send(Done::Unspoken(what, e));
                }
            }
        });
    }
}
