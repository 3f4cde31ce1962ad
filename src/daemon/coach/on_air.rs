//! The session on air: cues handed to the mix at their time (and how late they were), and the
//! phrases said on request.

use super::*;

/// Lateness up to which a sound is started part-way in, to stay on the plan's time.
pub(super) const CATCH_UP: Duration = Duration::from_millis(50);

/// The breath between two phrases said one after the other.
pub(super) const BREATH: Duration = Duration::from_millis(250);

/// How late a cue may be handed to the mix before the log says so.
pub(super) const LATE_WARNING: Duration = Duration::from_millis(20);

/// How late cues were handed to the mix: the measure of a coach that never blocks.
#[derive(Debug, Default)]
pub struct CueTiming {
    /// Cues played.
    pub played: std::sync::atomic::AtomicU64,
    /// The latest any cue was, microseconds.
    pub worst_us: std::sync::atomic::AtomicU64,
}

impl CueTiming {
    fn record(&self, late: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.played.fetch_add(1, Relaxed);
        self.worst_us.fetch_max(late.as_micros() as u64, Relaxed);
        if late > LATE_WARNING {
            log::warn!("a cue was played {} ms late", late.as_millis());
        }
    }
}

impl Coach {
    pub(super) fn where_am_i(&mut self) -> Result<String, CoachError> {
        let now = self.now();
        let Some(live) = self.live.as_mut() else {
            return self.where_idle();
        };
        let w = live.where_am_i(now);
        let id = live.id;
        let voice = live.ready.routine.voice.clone();
        self.say(w.clips);
        // A time left that the phrase bank does not have (the step was extended past its
        // planned length) is synthesized beside the coach and said when ready: never silence.
        for text in w.missing {
            self.preparer
                .speak(text, PhraseFor::Session(id), &self.cfg, &voice, &self.paths);
        }
        Ok(w.text)
    }

    /// Plays phrases one after the other (through a pause), after any still being said.
    pub(super) fn say(&mut self, clips: Vec<Clip>) {
        self.say_at(clips, 1.0)
    }

    /// [`Coach::say`] at a gain.
    pub(super) fn say_at(&mut self, clips: Vec<Clip>, gain: f32) {
        let mut at = self.phrases_end.saturating_duration_since(Instant::now());
        let mut m = self.audio.mix();
        for clip in clips {
            let mut padded = vec![0.0; to_samples(at) as usize];
            padded.extend_from_slice(clip.samples());
            at += clip.duration() + BREATH;
            m.play_through_pause(Clip::new(padded), gain);
        }
        drop(m);
        self.phrases_end = Instant::now() + at;
    }

    /// A phrase synthesized beside the coach is ready.
    pub(super) fn play_phrase(&mut self, what: PhraseFor, clip: Clip) {
        match what {
            PhraseFor::Session(id) if self.live.as_ref().is_some_and(|l| l.id == id) => {
                self.say(vec![clip])
            }
            PhraseFor::Session(_) => {}
            PhraseFor::HeadsUp => {
                self.audio.announce(clip, self.live.is_some());
                self.reopen();
                log::info!("heads-up spoken");
            }
            PhraseFor::Feedback(gain, n) => self.feedback_ready(n, clip, gain),
            PhraseFor::Warm(g) if g == self.warm_gen => {
                log::debug!("heads-up ready ahead");
                self.warm_clip = self.warmed_heads_up.clone().map(|t| (t, clip))
            }
            PhraseFor::Warm(_) => {}
            PhraseFor::Trial(n) => self.trial_ready(n, clip),
        }
    }

    /// Acts on everything the engine emitted: sounds into the mix, signals and snapshots out.
    /// True when the session ended.
    pub(super) fn drain_events(&mut self) -> bool {
        let Some(live) = self.live.as_mut() else {
            return false;
        };
        let now = Instant::now() - self.epoch;
        let (mut changed, mut finished) = (false, false);
        while let Some(ev) = live.session.poll_event() {
            // A sound not yet in memory is read from disk before the mix is locked: the audio
            // callback never waits on the disk.
            let clip = match ev.kind {
                EventKind::Play(sound) => live.clip(sound),
                _ => None,
            };
            let mut m = self.audio.mix();
            match ev.kind {
                EventKind::Play(sound) => {
                    if let Some(clip) = clip {
                        let late = now.saturating_sub(ev.at);
                        self.timing.record(late);
                        let skip = if late <= CATCH_UP {
                            to_samples(late) as usize
                        } else {
                            0
                        };
                        let gain = match sound {
                            Sound::Tone(_) => self.cfg.earcon_volume as f32,
                            _ => 1.0,
                        };
                        m.play(clip, gain, skip);
                    }
                }
                EventKind::Interrupt => m.interrupt(),
                EventKind::Paused => {
                    m.set_paused(true);
                    changed = true;
                    log::info!("paused");
                }
                EventKind::Resumed => {
                    m.set_paused(false);
                    changed = true;
                    log::info!("resumed");
                }
                EventKind::StepStarted(i) => {
                    let title = live.ready.plan.steps[i].title.clone();
                    log::info!("step {} of {}: {title}", i + 1, live.ready.plan.steps.len());
                    let _ = self.signals.send(Signal::StepStarted(i as u32, title));
                    changed = true;
                }
                EventKind::SessionFinished { completed } => {
                    let name = live.ready.routine.name.clone();
                    let how = if completed { "completed" } else { "stopped" };
                    log::info!("session of \"{name}\" {how}");
                    let _ = self.signals.send(Signal::SessionFinished(name, completed));
                    finished = true;
                }
                EventKind::SessionStarted => changed = true,
            }
        }
        if finished {
            self.live = None;
            self.audio.end_session();
        }
        if finished || changed {
            self.publish();
        }
        finished
    }
}
