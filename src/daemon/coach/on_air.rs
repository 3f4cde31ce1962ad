//! The session on air: the engine on its clock, the session's sounds in memory, cues handed to
//! the mix at their time (and how late they were), and what "where am I" says.
//!
//! It touches only the session and the mix it is lent: a session starts with its first step's
//! sounds in memory and the rest are read beside the coach; a cue whose sound is not in memory
//! yet is never read on the coach's thread, but played when the read comes back (from where it
//! would be by then, if only a little late).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cues::{CueTiming, play};
use super::late_cues::{LateCues, Loaded};
use crate::daemon::audio::Audio;
use crate::daemon::error::CoachError;
use crate::daemon::live::Live;
use crate::daemon::preparer::{PhraseFor, Preparer};
use crate::daemon::request::SessionCommand;
use crate::daemon::snapshot::{Signal, Snapshot};
use crate::engine::{EventKind, Session};
use crate::plan::Sound;
use crate::prepare::{Ready, Sounds};

/// What acting on the engine's events did.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Drained {
    /// Something the snapshot shows changed (a step, paused or not).
    pub changed: bool,
    /// The session ended.
    pub finished: bool,
}

/// The session on air, if any, and the clock it runs on.
pub(super) struct OnAir {
    /// The engine's clock starts here.
    epoch: Instant,
    live: Option<Live>,
    /// Sessions begun, numbering them.
    sessions: u64,
    /// Cues whose sound was not in memory at their time, and the session's sounds being read.
    late: LateCues,
    timing: Arc<CueTiming>,
}

impl OnAir {
    /// No session.
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            live: None,
            sessions: 0,
            late: LateCues::new(),
            timing: Arc::default(),
        }
    }

    /// How late cues were played, readable while the coach runs.
    pub fn cue_timing(&self) -> Arc<CueTiming> {
        Arc::clone(&self.timing)
    }

    fn now(&self) -> Duration {
        Instant::now() - self.epoch
    }

    /// The routine on air.
    pub fn routine(&self) -> Option<&str> {
        self.live.as_ref().map(|l| l.ready.routine.name.as_str())
    }

    /// Whether a session is on air.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Whether session `id` is the one on air (a phrase synthesized for it is still wanted).
    pub fn is_session(&self, id: u64) -> bool {
        self.live.as_ref().is_some_and(|l| l.id == id)
    }

    /// When the engine wants to be woken next.
    pub fn deadline(&self) -> Option<Instant> {
        let live = self.live.as_ref()?;
        live.session.poll_timeout().map(|t| self.epoch + t)
    }

    /// The engine's deadline came.
    pub fn on_deadline(&mut self) {
        let now = self.now();
        if let Some(l) = self.live.as_mut() {
            l.session.handle_timeout(now);
        }
    }

    /// Begins a session of `ready` with its first `sounds` in memory; the rest are read beside
    /// the coach.
    pub fn begin(&mut self, ready: Arc<Ready>, sounds: Sounds) -> Result<(), CoachError> {
        self.sessions += 1;
        let id = self.sessions;
        let mut session = Session::new(Arc::clone(&ready.plan));
        session.start(self.now()).map_err(CoachError::from)?;
        self.late.read_all(ready.sounds.clone(), id);
        log::info!("started \"{}\"", ready.routine.name);
        self.live = Some(Live {
            id,
            ready,
            session,
            sounds,
        });
        Ok(())
    }

    /// The next sounds read beside the coach.
    pub async fn loaded(&mut self) -> Loaded {
        self.late.next().await
    }

    /// Sounds were read: kept for the session, and a cue that waited for one is played.
    pub fn on_loaded(&mut self, loaded: Loaded, audio: &Audio) {
        let now = self.now();
        let live = self.live.as_mut();
        self.late.on_loaded(loaded, live, audio, &self.timing, now);
    }

    /// Runs a command on the session at the current time.
    pub fn command(&mut self, command: SessionCommand) -> Result<(), CoachError> {
        command.check()?;
        let now = self.now();
        let session = &mut self.live.as_mut().ok_or_else(not_running)?.session;
        match command {
            SessionCommand::Stop => session.stop(now),
            SessionCommand::Pause => session.pause(now),
            SessionCommand::Resume => session.resume(now),
            SessionCommand::TogglePause => session.toggle_pause(now),
            SessionCommand::Next => session.next(now),
            SessionCommand::Previous => session.previous(now),
            SessionCommand::Repeat => session.repeat(now),
            SessionCommand::Extend(secs) => session.extend(now, Duration::from_secs(secs as u64)),
        }?;
        Ok(())
    }

    /// Stops the session (at shutdown).
    pub fn stop(&mut self) {
        let now = self.now();
        if let Some(l) = self.live.as_mut() {
            let _ = l.session.stop(now);
        }
    }

    /// Acts on everything the engine emitted: sounds into `audio`'s mix (tones at
    /// `tone_gain`), signals out. When the session ended, `audio` is told.
    pub fn drain(
        &mut self,
        audio: &mut Audio,
        tone_gain: f32,
        signals: &mpsc::UnboundedSender<Signal>,
    ) -> Drained {
        let now = self.now();
        let mut drained = Drained::default();
        let Some(live) = self.live.as_mut() else {
            return drained;
        };
        while let Some(ev) = live.session.poll_event() {
            let mut m = audio.mix();
            match ev.kind {
                EventKind::Play(sound) => {
                    let gain = match sound {
                        Sound::Tone(_) => tone_gain,
                        _ => 1.0,
                    };
                    match live.clip(sound) {
                        Some(clip) => {
                            play(&mut m, &self.timing, clip, gain, now.saturating_sub(ev.at))
                        }
                        None if live.ready.sounds.source(sound).is_some() => {
                            // Not read yet: read beside the coach, played when it comes.
                            let index = live.ready.sounds.clone();
                            self.late.wait_for(sound, ev.at, gain, index, live.id);
                        }
                        None => log::error!("{sound:?} was not prepared"),
                    }
                }
                EventKind::Interrupt => {
                    m.interrupt();
                    // What was cut is not played late either.
                    self.late.clear();
                }
                EventKind::Paused => {
                    m.set_paused(true);
                    drained.changed = true;
                    log::info!("paused");
                }
                EventKind::Resumed => {
                    m.set_paused(false);
                    drained.changed = true;
                    log::info!("resumed");
                }
                EventKind::StepStarted(i) => {
                    let title = live.ready.plan.steps[i].title.clone();
                    log::info!("step {} of {}: {title}", i + 1, live.ready.plan.steps.len());
                    let _ = signals.send(Signal::StepStarted(i as u32, title));
                    drained.changed = true;
                }
                EventKind::SessionFinished { completed } => {
                    let name = live.ready.routine.name.clone();
                    let how = if completed { "completed" } else { "stopped" };
                    log::info!("session of \"{name}\" {how}");
                    let _ = signals.send(Signal::SessionFinished(name, completed));
                    drained.finished = true;
                }
                EventKind::SessionStarted => drained.changed = true,
            }
        }
        if drained.finished {
            self.live = None;
            self.late.clear();
            audio.end_session();
        }
        drained
    }

    /// Says where the session is, if one is on air, and returns it as text. A phrase not in
    /// memory (a step extended past the phrase bank) is synthesized beside the coach and said
    /// when ready: never silence.
    pub fn say_where(&self, audio: &mut Audio, preparer: &Preparer) -> Option<String> {
        let live = self.live.as_ref()?;
        let w = live.where_am_i(self.now());
        audio.say(w.clips, 1.0);
        if let Some(text) = w.missing {
            preparer.speak(text, PhraseFor::Session(live.id), &live.ready.routine.voice);
        }
        Some(w.text)
    }

    /// The snapshot of the session on air at `volume`, if one is.
    pub fn snapshot(&self, volume: f64) -> Option<Snapshot> {
        Some(self.live.as_ref()?.snapshot(self.now(), volume))
    }
}

/// Why a session command cannot be done now.
pub(super) fn not_running() -> CoachError {
    CoachError::NotRunning("no session is running; start one with `letdown start`".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::daemon::snapshot::Phase;

    /// A prepared routine of two steps (tones and espeak-ng's speech, in a temporary cache).
    fn ready() -> (Arc<Ready>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::paths::Paths::under(dir.path());
        let text = "name = \"two\"\ntitle = \"Two\"\n[defaults]\ncountdown = \"none\"\n[[steps]]\ntitle = \"One\"\nsay = \"One.\"\nduration = \"2s\"\n[[steps]]\ntitle = \"Two\"\nsay = \"Two.\"\nduration = \"2s\"\n";
        let routine = crate::routine::parse_routine(
            std::path::Path::new("two.toml"),
            text,
            &Default::default(),
        )
        .unwrap();
        let cfg = Config::parse(
            std::path::Path::new("config.toml"),
            "[voice]\nengine = \"espeak-ng\"\nfallback = []\n",
        )
        .unwrap();
        let r = crate::prepare::prepare(routine, &cfg, &paths).unwrap();
        (Arc::new(r), dir)
    }

    fn audio() -> Audio {
        let out = crate::output::TestOutput {
            open: true,
            ..Default::default()
        };
        Audio::new(Box::new(out), 1.0)
    }

    /// What the first step plays, read as a start reads it.
    fn first_sounds(r: &Ready) -> Sounds {
        let first = r.plan.steps[0].cues.iter().map(|c| c.sound);
        r.sounds.load(first).unwrap()
    }

    #[tokio::test]
    async fn a_session_plays_its_cues_says_its_steps_and_ends() {
        let (r, _dir) = ready();
        let (mut on_air, mut audio) = (OnAir::new(), audio());
        let (signals, mut heard) = mpsc::unbounded_channel();
        on_air.begin(Arc::clone(&r), first_sounds(&r)).unwrap();
        assert_eq!(on_air.routine(), Some("two"));
        assert!(on_air.deadline().is_some(), "no deadline for the engine");
        let d = on_air.drain(&mut audio, 0.5, &signals);
        assert!(d.changed && !d.finished, "{d:?}");
        assert!(!audio.mix().is_silent(), "the first cue was not played");
        assert_eq!(
            heard.try_recv().unwrap(),
            Signal::StepStarted(0, "One".into())
        );
        let snap = on_air.snapshot(1.0).unwrap();
        assert_eq!((snap.state, snap.step_count), (Phase::Running, 2));
        assert!(matches!(
            on_air.command(SessionCommand::Extend(0)),
            Err(CoachError::InvalidArgument(_))
        ));
        on_air.command(SessionCommand::Next).unwrap();
        on_air.drain(&mut audio, 0.5, &signals);
        assert_eq!(
            heard.try_recv().unwrap(),
            Signal::StepStarted(1, "Two".into())
        );
        on_air.command(SessionCommand::Stop).unwrap();
        let d = on_air.drain(&mut audio, 0.5, &signals);
        assert!(d.finished && !on_air.is_live());
        assert_eq!(
            heard.try_recv().unwrap(),
            Signal::SessionFinished("two".into(), false)
        );
        assert!(matches!(
            on_air.command(SessionCommand::Pause),
            Err(CoachError::NotRunning(_))
        ));
    }

    /// A cue whose sound is not in memory at its time is not read on the caller's thread: it
    /// is played when the read beside it comes back (and a cue cut meanwhile is not).
    #[tokio::test]
    async fn a_cue_not_in_memory_is_played_once_read_beside_the_coach() {
        let (r, _dir) = ready();
        let (mut on_air, mut audio) = (OnAir::new(), audio());
        let (signals, _heard) = mpsc::unbounded_channel();
        on_air.begin(Arc::clone(&r), Sounds::default()).unwrap();
        on_air.drain(&mut audio, 0.5, &signals);
        assert!(audio.mix().is_silent(), "played before it was read");
        assert!(on_air.late.any());
        // The whole routine's reading (from the start) and the cue's own come back.
        for _ in 0..2 {
            let loaded = tokio::time::timeout(Duration::from_secs(10), on_air.loaded())
                .await
                .expect("never read");
            on_air.on_loaded(loaded, &audio);
        }
        assert!(!on_air.late.any());
        assert!(!audio.mix().is_silent(), "the cue was not played once read");
        assert!(
            on_air
                .cue_timing()
                .played
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 1
        );
        // A cue cut before its sound came is dropped.
        audio.mix().interrupt();
        on_air.late.hold(
            Sound::Phrase(crate::phrase::Phrase::StepOf(9, 9)),
            Duration::ZERO,
            1.0,
        );
        on_air.command(SessionCommand::Next).unwrap();
        on_air.drain(&mut audio, 0.5, &signals);
        assert!(!on_air.late.any(), "a cut cue is still waiting");
    }
}
