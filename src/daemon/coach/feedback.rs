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
    /// Voices being tried: the answer waiting for each, and the sentence.
    trials: std::collections::HashMap<u64, (Answer<String>, String)>,
    /// The number the next trial gets.
    tried: u64,
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
        // The tone says at once that the key was heard (and how it went); the words follow
        // as soon as they are synthesized.
        let (t, t_gain) = self.answer_tone(
            if refused {
                Earcon::Refused
            } else {
                Earcon::Done
            },
            gain,
        );
        match mode {
            Feedback::None => {}
            Feedback::Tone => self.play_feedback(vec![t], t_gain),
            Feedback::Speech => {
                log::info!("saying: {text}");
                // What was done ("Feed logged.") is in the speech cache already
                // (`prepare_answer_heads`): it follows the tone at once, and the rest follows
                // it when synthesized.
                let parts = match crate::feedback::split_answer(&text) {
                    Some((head, "")) => vec![head],
                    Some((head, rest)) => vec![head, rest.to_string()],
                    None => vec![text],
                };
                for (i, part) in parts.into_iter().enumerate() {
                    let n = self.feedback.asked;
                    self.feedback.asked += 1;
                    if i == 0 {
                        if self.feedback.said == n {
                            self.play_feedback(vec![t.clone()], t_gain);
                        } else {
                            self.feedback.held_tones.insert(n, (t.clone(), t_gain));
                        }
                    }
                    self.preparer.speak(
                        part,
                        PhraseFor::Feedback(gain, n),
                        &self.cfg,
                        &Default::default(),
                        &self.paths,
                    );
                }
            }
        }
        Ok(())
    }

    /// Synthesizes the answers' heads ([`crate::feedback::ANSWER_HEADS`]) into the speech
    /// cache beside the coach, with the voice answers are said in, when answers are spoken.
    pub(super) fn prepare_answer_heads(&self) {
        if self.cfg.feedback == Feedback::Speech {
            let heads = crate::feedback::ANSWER_HEADS
                .iter()
                .map(|h| crate::feedback::spoken_head(h))
                .collect();
            self.preparer.speak_ahead(heads, &self.cfg, &self.paths);
        }
    }

    /// An answer's tone, and its gain: the earcon level at the answer's `gain`.
    fn answer_tone(&self, earcon: Earcon, gain: f32) -> (Clip, f32) {
        (
            self.cfg.earcons.render(earcon),
            gain * self.cfg.earcon_volume as f32,
        )
    }

    /// The tone that says a key's action was done, as the `feedback` setting and quiet hours
    /// allow (none with `feedback = "none"`).
    pub(super) fn acknowledge(&mut self) {
        let (mode, gain) = self.feedback_now();
        if mode != Feedback::None {
            let (t, t_gain) = self.answer_tone(Earcon::Done, gain);
            self.play_feedback(vec![t], t_gain);
        }
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

    /// Says a sentence of the default routine with another voice (`letdown voices try`);
    /// answered once it is synthesized, or with why that voice cannot speak. Nothing falls
    /// back to another voice here: the point is to hear this one.
    pub(super) fn try_voice(&mut self, engine: &str, voice: &str, answer: Answer<String>) {
        let kind = match crate::voice::EngineKind::parse(engine) {
            Ok(crate::voice::EngineKind::Command) => Err(CoachError::InvalidArgument(
                "the command engine has no voices to try; set it in config.toml".into(),
            )),
            Ok(kind) => crate::voice::check_voice_name(voice)
                .map(|()| kind)
                .map_err(CoachError::InvalidArgument),
            Err(e) => Err(CoachError::InvalidArgument(e)),
        };
        let kind = match kind {
            Ok(k) => k,
            Err(e) => return reply(answer, Err(e)),
        };
        let text = self.trial_sentence();
        let mut cfg = self.cfg.clone();
        cfg.voice.engine = kind;
        cfg.voice.voice = Some(voice.to_string());
        cfg.voice.chosen = true;
        cfg.voice.fallback.clear();
        let n = self.feedback.tried;
        self.feedback.tried += 1;
        log::info!("trying the voice {engine}:{voice}");
        self.feedback.trials.insert(n, (answer, text.clone()));
        self.preparer.speak(
            text,
            PhraseFor::Trial(n),
            &cfg,
            &Default::default(),
            &self.paths,
        );
    }

    /// The first sentences the default routine says (40 characters or more), to try a
    /// voice with.
    fn trial_sentence(&self) -> String {
        self.find_routine(&self.cfg.default_routine)
            .ok()
            .and_then(|r| r.steps.iter().find_map(|s| s.say.clone()))
            .map(|say| crate::feedback::first_sentences(&say, 40))
            .unwrap_or_else(|| "Sit comfortably, and let your shoulders drop.".to_string())
    }

    /// A voice being tried is ready: said now, and its caller answered.
    pub(super) fn trial_ready(&mut self, n: u64, clip: Clip) {
        if let Some((answer, text)) = self.feedback.trials.remove(&n) {
            let (_, gain) = self.feedback_now();
            self.play_feedback(vec![clip], gain);
            reply(answer, Ok(text));
        }
    }

    /// A phrase synthesized beside the coach could not be: whoever waits for it hears why.
    pub(super) fn phrase_failed(&mut self, what: PhraseFor, why: String) {
        match what {
            PhraseFor::Feedback(gain, n) => self.feedback_ready(n, Clip::new(Vec::new()), gain),
            PhraseFor::Trial(n) => {
                if let Some((answer, _)) = self.feedback.trials.remove(&n) {
                    reply(answer, Err(CoachError::SpeechFailed(why)));
                }
            }
            _ => {}
        }
    }

    /// "Where am I" with no session: what is next, the last feed and the side, said aloud.
    pub(super) fn where_idle(&mut self) -> Result<String, CoachError> {
        // Said from what is known now; a read older than 30 s is renewed for next time.
        self.scheduler.refresh_if_stale();
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
