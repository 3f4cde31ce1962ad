//! Answers aloud: the result of a key press (`Announce`), "where am I" with no session, and
//! sessions that were missed, told once. The sentences are [`crate::feedback`]'s.

use super::*;
use crate::config::Feedback;
use crate::schedule::QuietAction;
use crate::tones::Earcon;

use crate::feedback::MAX_ANNOUNCE;

/// Answers being synthesized, said in the order they were asked for.
#[derive(Default)]
pub(super) struct FeedbackQueue {
    /// The number the next answer gets.
    asked: u64,
    /// The number of the next answer to say.
    pub(super) said: u64,
    /// Answers synthesized before an earlier one.
    ready: std::collections::BTreeMap<u64, (Clip, f32)>,
    /// Tones of answers asked while an earlier one was still being synthesized: each is
    /// played with its own words, so the tones and the words stay in order.
    pub(super) held_tones: std::collections::BTreeMap<u64, (Clip, f32)>,
}

impl Coach {
    /// How a key's result is answered now: the `feedback` setting, at a lower gain in quiet
    /// hours with `quiet = "quieter"`, or a tone only with `quiet = "skip"`.
    fn feedback_now(&self) -> (Feedback, f32) {
        let (mut mode, mut gain) = (self.cfg.feedback, 1.0f32);
        match self.scheduler.quiet_now() {
            Some(QuietAction::Quieter) => {
                gain = (self.cfg.quiet_volume / self.audio.volume().max(0.01)).min(1.0) as f32
            }
            Some(QuietAction::Skip) if mode == Feedback::Speech => mode = Feedback::Tone,
            _ => {}
        }
        (mode, gain)
    }

    /// Says a key's result: a tone at once (high if done, low if refused), then the text (or
    /// only the tone, or nothing, as the setting and quiet hours say).
    pub(super) fn announce(&mut self, text: String, refused: bool) -> Result<(), CoachError> {
        if text.chars().count() > MAX_ANNOUNCE || text.trim().is_empty() {
            return Err(CoachError::InvalidArgument(format!(
                "give 1 to {MAX_ANNOUNCE} characters to announce"
            )));
        }
        let (mode, gain) = self.feedback_now();
        let tone = |earcon| self.cfg.earcons.render(earcon);
        match mode {
            Feedback::None => {}
            Feedback::Tone => {
                let t = tone(if refused {
                    Earcon::Refused
                } else {
                    Earcon::Done
                });
                self.play_feedback(vec![t], gain * self.cfg.earcon_volume as f32);
            }
            Feedback::Speech => {
                // The tone says at once that the key was heard (and how it went); the words
                // follow as soon as they are synthesized.
                let t = tone(if refused {
                    Earcon::Refused
                } else {
                    Earcon::Done
                });
                let t_gain = gain * self.cfg.earcon_volume as f32;
                log::info!("saying: {text}");
                let n = self.feedback.asked;
                self.feedback.asked += 1;
                if self.feedback.said == n {
                    self.play_feedback(vec![t], t_gain);
                } else {
                    self.feedback.held_tones.insert(n, (t, t_gain));
                }
                self.preparer.speak(
                    text,
                    PhraseFor::Feedback(gain, n),
                    &self.cfg,
                    &Default::default(),
                    &self.paths,
                );
            }
        }
        Ok(())
    }

    /// Answer `n` is synthesized: it is said once every earlier answer has been.
    pub(super) fn feedback_ready(&mut self, n: u64, clip: Clip, gain: f32) {
        self.feedback.ready.insert(n, (clip, gain));
        while let Some((clip, gain)) = self.feedback.ready.remove(&self.feedback.said) {
            if let Some((tone, t_gain)) = self.feedback.held_tones.remove(&self.feedback.said) {
                self.play_feedback(vec![tone], t_gain);
            }
            self.feedback.said += 1;
            if !clip.samples().is_empty() {
                self.play_feedback(vec![clip], gain);
            }
        }
    }

    /// Plays feedback now, after anything still being said, opening the output if needed.
    pub(super) fn play_feedback(&mut self, clips: Vec<Clip>, gain: f32) {
        self.say_at(clips, gain);
        self.audio.sounding(self.live.is_some());
        self.reopen();
    }

    /// "Where am I" with no session: what is next, the last feed and the side, said aloud.
    pub(super) fn where_idle(&mut self) -> Result<String, CoachError> {
        let text = crate::feedback::where_idle(&self.scheduler.summary(), self.scheduler.tz());
        self.announce(text.clone(), false)?;
        Ok(text)
    }

    /// Says the sessions missed while the machine was asleep or off, once, when no session
    /// plays and it is not quiet hours (then the first key press after them tells them: the
    /// CLI takes the notices after every command and says them).
    pub(super) fn tell_missed(&mut self) {
        let busy = self.live.is_some() || self.pending.is_some();
        if busy || self.scheduler.quiet_now().is_some() {
            return;
        }
        let notices = self.scheduler.take_untold();
        if notices.is_empty() {
            return;
        }
        let text = crate::feedback::spoken_notices(&notices);
        log::info!("telling: {text}");
        let _ = self.announce(text, false);
    }
}
