//! The daemon's audio supervisor: the one owner of the live mix, the sound output and the
//! master volume.
//!
//! The output is open only while there is something to hear (a session, a heads-up) and closed
//! soon after, so an idle letdownd holds no audio stream. During a session it watches the
//! output's health and reopens it when the sound server comes back.
//!
//! Opening the device talks to the sound server and can take long when it is busy or gone, so
//! it never runs on the coach's thread: the output is lent to a blocking thread
//! ([`Audio::lend`], or [`Audio::reopen`]) and comes back over a channel ([`Audio::put_back`]).
//!
//! Phrases said one after another (answers, "where am I") are laid in the mix in turn, a breath
//! apart ([`Audio::say`], laid out by [`Phrases`]). The output's health during a session is
//! watched by [`HealthWatch`]; whether a request's sound is hurried out is told by [`Heard`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::error::CoachError;
use crate::output::{Mix, Output, SharedMix};

mod health;
mod hurry;
mod opener;
mod phrases;

use health::Health;
use health::HealthWatch;
pub use hurry::Heard;
pub use opener::Opened;
use opener::Opener;
pub use phrases::BREATH;
use phrases::Phrases;

/// How long after the last sound the output is closed.
const CLOSE_AFTER: Duration = Duration::from_millis(200);

/// The mix, the output and the volume.
pub struct Audio {
    mix: SharedMix,
    /// The output; `None` while it is lent out to be opened.
    output: Option<Box<dyn Output>>,
    /// Said in logs while the output is lent out.
    description: String,
    /// The user's volume (the Volume property); a quiet-hours session plays below it.
    volume: f64,
    /// A quiet-hours session is playing at the quiet volume.
    quiet: bool,
    close_at: Option<Instant>,
    /// The output's health during a session.
    health: HealthWatch,
    /// The phrases being said: a phrase said now waits for them.
    phrases: Phrases,
    /// Reopens the output beside the coach.
    opener: Opener,
}

impl Audio {
    /// An idle supervisor playing to `output` at `volume`.
    pub fn new(output: Box<dyn Output>, volume: f64) -> Self {
        let mix = Arc::new(Mutex::new(Mix::new()));
        crate::output::lock_mix(&mix).set_volume(volume as f32);
        Self {
            mix,
            phrases: Phrases::new(Instant::now()),
            opener: Opener::new(),
            description: output.describe(),
            output: Some(output),
            volume,
            quiet: false,
            close_at: None,
            health: HealthWatch::default(),
        }
    }

    /// The mix, locked. Never read a file or wait while holding it: the audio callback waits.
    pub fn mix(&self) -> MutexGuard<'_, Mix> {
        crate::output::lock_mix(&self.mix)
    }

    /// The user's volume.
    pub fn volume(&self) -> f64 {
        self.volume
    }

    /// Sets the user's volume; it applies at once, a quiet-hours session included, and stays
    /// after it.
    pub fn set_volume(&mut self, v: f64) -> Result<(), CoachError> {
        if !(0.0..=1.0).contains(&v) || v.is_nan() {
            return Err(CoachError::InvalidArgument(format!(
                "volume {v} is outside 0.0 to 1.0"
            )));
        }
        self.volume = v;
        self.mix().set_volume(v as f32);
        Ok(())
    }

    /// Whether the output is open (and here, not lent out).
    pub fn is_open(&self) -> bool {
        self.output.as_ref().is_some_and(|o| o.is_open())
    }

    /// Lends the closed (or broken) output out, to be opened beside the coach by
    /// a blocking thread and given back with [`Audio::put_back`]. `None` if it is open and
    /// playing, or already lent.
    pub fn lend(&mut self) -> Option<(Box<dyn Output>, SharedMix)> {
        if self
            .output
            .as_ref()
            .is_some_and(|o| o.is_open() && !o.failed())
        {
            return None;
        }
        let mut out = self.output.take()?;
        // A broken output is closed before it is opened again.
        out.close();
        Some((out, Arc::clone(&self.mix)))
    }

    /// Opens the output beside the coach if it is closed (or broken) and not already being
    /// opened; it comes back from [`Audio::reopened`].
    pub fn reopen(&mut self) {
        if let Some(lent) = self.lend() {
            self.opener.open(lent);
        }
    }

    /// The output, back from [`Audio::reopen`]: give it to [`Audio::put_back`].
    pub async fn reopened(&mut self) -> Opened {
        self.opener.opened().await
    }

    /// Says `clips` one after the other, a breath apart, after any phrases still being said,
    /// at `gain`; pauses do not hold them.
    pub fn say(&mut self, clips: Vec<crate::clip::Clip>, gain: f32) {
        let laid = self.phrases.lay_out(clips, Instant::now());
        let mut m = crate::output::lock_mix(&self.mix);
        for clip in laid {
            m.play_through_pause(clip, gain);
        }
    }

    /// Takes back an output lent to be opened; an error says why it did not open.
    pub fn put_back(&mut self, (output, opened): Opened) -> Result<(), CoachError> {
        self.output = Some(output);
        match opened {
            Ok(()) => {
                let again = if self.health.opened() {
                    "reopened"
                } else {
                    "opened"
                };
                log::info!("{again} {}", self.description);
                Ok(())
            }
            Err(e) => Err(CoachError::AudioUnavailable(format!(
                "{e}; is a sound server running?"
            ))),
        }
    }

    /// Readies the open mix for a new session: nothing playing, not paused; at
    /// `quiet_volume` for a quiet-hours session.
    pub fn begin_session(&mut self, quiet_volume: Option<f64>) {
        if let Some(q) = quiet_volume {
            self.quiet = true;
            self.mix().set_volume(q as f32);
        }
        self.close_at = None;
        let mut m = self.mix();
        m.interrupt();
        m.set_paused(false);
    }

    fn end_quiet(&mut self) {
        if std::mem::take(&mut self.quiet) {
            let v = self.volume;
            self.mix().set_volume(v as f32);
        }
    }

    /// After a session: not paused, back at the user's volume, closed once silent.
    pub fn end_session(&mut self) {
        self.mix().set_paused(false);
        self.end_quiet();
        self.close_soon();
    }

    /// Plays `clip` now even when idle (a heads-up), then closes the output once silent. If
    /// the output is closed, it is opened and the clip heard once it is.
    pub fn announce(&mut self, clip: crate::clip::Clip, session_live: bool) {
        self.mix().play_through_pause(clip, 1.0);
        self.sounding(session_live);
        self.reopen();
    }

    /// Says an answer's `clips` ([`Audio::say`]) even when idle, opening the output if needed
    /// and closing it once silent.
    pub fn answer(&mut self, clips: Vec<crate::clip::Clip>, gain: f32, session_live: bool) {
        self.say(clips, gain);
        self.sounding(session_live);
        self.reopen();
    }

    /// Something was put in the mix while idle: the output closes once it is silent.
    pub fn sounding(&mut self, session_live: bool) {
        if !session_live {
            self.close_soon();
        }
    }

    fn close_soon(&mut self) {
        self.close_at = Some(Instant::now() + CLOSE_AFTER);
    }

    /// When the output should be checked for closing.
    pub fn close_at(&self) -> Option<Instant> {
        self.close_at
    }

    /// Closes the output if nothing is playing and no session runs (else checks again soon).
    pub fn close_if_silent(&mut self, session_live: bool) {
        if session_live {
            self.close_at = None;
            return;
        }
        match self.output.as_mut() {
            Some(out) if crate::output::lock_mix(&self.mix).is_silent() => {
                if out.is_open() {
                    out.close();
                    log::info!("idle: closed {}", self.description);
                    // What the session or the answer used is free now.
                    super::memory::give_back();
                }
                self.close_at = None;
            }
            // Still playing, or lent out to be opened: look again soon.
            _ => self.close_soon(),
        }
    }

    /// When the output's health is to be checked next ([`HealthWatch::due`]).
    pub fn health_due(&mut self, live: bool) -> Option<Instant> {
        self.health.due(live, Instant::now())
    }

    /// Checks the output during a session and reopens it when it is broken; true when it has
    /// stayed broken too long (the session is to end).
    pub fn keep_healthy(&mut self) -> bool {
        let Some(out) = self.output.as_ref() else {
            self.health.skip(); // being opened
            return false;
        };
        let playing = !out.failed() && out.is_open();
        match self
            .health
            .check(playing, &self.description, Instant::now())
        {
            Health::Fine => false,
            Health::Reopen => {
                self.reopen();
                false
            }
            Health::GiveUp => true,
        }
    }

    /// What is heard now, to tell after a request whether its sound should be hurried.
    pub fn before_request(&self) -> Heard {
        Heard::of(&self.mix())
    }

    /// After a request (a key press, its answer, a session's start): if it put a sound in the
    /// mix where there was silence, or cut what played, the output drops what it holds so
    /// the sound is heard now, at the sound server's pace, not a buffer later. A sound laid
    /// over one still playing (an answer during a prompt) is not hurried: that would clip the
    /// prompt.
    pub fn after_request(&self, before: Heard) {
        let hurry = before.hurries(&self.mix());
        if hurry && let Some(out) = self.output.as_ref().filter(|o| o.is_open()) {
            log::debug!("a request's sound: hurried out");
            out.hurry();
        }
    }

    /// Closes the output (at shutdown).
    pub fn close(&mut self) {
        if let Some(out) = self.output.as_mut() {
            out.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Clip;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn audio(open: bool) -> (Audio, Arc<AtomicU32>) {
        let out = crate::output::TestOutput {
            open,
            ..Default::default()
        };
        let hurried = out.hurried.clone();
        (Audio::new(Box::new(out), 1.0), hurried)
    }

    fn clip() -> Clip {
        Clip::new(vec![0.5; 4800])
    }

    #[test]
    fn a_sound_over_silence_is_hurried() {
        let (a, hurried) = audio(true);
        let before = a.before_request();
        a.mix().play(clip(), 1.0, 0);
        a.after_request(before);
        assert_eq!(hurried.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_request_that_adds_no_sound_is_not_hurried() {
        let (a, hurried) = audio(true);
        let before = a.before_request();
        a.after_request(before);
        assert_eq!(hurried.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_answer_over_a_prompt_is_not_hurried_but_a_cut_is() {
        let (a, hurried) = audio(true);
        a.mix().play(clip(), 1.0, 0);
        let before = a.before_request();
        a.mix().play_through_pause(clip(), 1.0);
        a.after_request(before);
        assert_eq!(
            hurried.load(Ordering::SeqCst),
            0,
            "the prompt would be clipped"
        );
        let before = a.before_request();
        a.mix().interrupt();
        a.mix().play(clip(), 1.0, 0);
        a.after_request(before);
        assert_eq!(
            hurried.load(Ordering::SeqCst),
            1,
            "next: the old prompt was cut"
        );
    }

    #[test]
    fn resuming_a_held_prompt_is_hurried() {
        let (a, hurried) = audio(true);
        a.mix().play(clip(), 1.0, 0);
        a.mix().set_paused(true);
        let before = a.before_request();
        a.mix().set_paused(false);
        a.after_request(before);
        assert_eq!(hurried.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_closed_output_is_not_hurried() {
        let (a, hurried) = audio(false);
        let before = a.before_request();
        a.mix().play(clip(), 1.0, 0);
        a.after_request(before);
        assert_eq!(hurried.load(Ordering::SeqCst), 0);
    }
}
