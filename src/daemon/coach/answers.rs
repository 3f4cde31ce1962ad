//! Answers aloud: a key's result (`Announce`) as a tone at once, then its words, in the order
//! the keys were pressed; and voices being tried. The sentences are [`crate::feedback`]'s.
//!
//! It owns the answers in flight and the trials waiting; it says them through the mix it is
//! lent and has them synthesized by the preparer, beside the coach.

use std::collections::{BTreeMap, HashMap};

use crate::clip::Clip;
use crate::config::{Config, Feedback, VoiceConfig};
use crate::daemon::audio::Audio;
use crate::daemon::error::CoachError;
use crate::daemon::preparer::{PhraseFor, Preparer};
use crate::daemon::request::{Answer, reply};
use crate::feedback::MAX_ANNOUNCE;
use crate::routine::Routine;
use crate::schedule::QuietAction;
use crate::tones::Earcon;
use crate::voice::EngineKind;

/// Where and how answers are said: the mix (opened when idle, closed after), the
/// synthesizer, the `feedback` setting and quiet hours.
pub(super) struct Voice<'a> {
    /// The mix and output.
    pub audio: &'a mut Audio,
    /// Speech beside the coach.
    pub preparer: &'a Preparer,
    /// The `feedback` setting, the earcons and their volume.
    pub cfg: &'a Config,
    /// What quiet hours do now, if they are on.
    pub quiet: Option<QuietAction>,
    /// A session is on air (the output stays open after the answer).
    pub live: bool,
}

impl Voice<'_> {
    fn say(&mut self, clip: Clip, gain: f32) {
        self.audio.answer(vec![clip], gain, self.live);
    }

    /// How answers are given now ([`manner`]).
    pub fn manner(&self) -> (Feedback, f32) {
        manner(self.cfg, self.quiet, self.audio.volume())
    }
}

/// How a key's result is answered now: the `feedback` setting, at a lower gain in quiet
/// hours with `quiet = "quieter"` (the quiet volume against the user's `volume`), or a tone
/// only with `quiet = "skip"`.
pub(super) fn manner(cfg: &Config, quiet: Option<QuietAction>, volume: f64) -> (Feedback, f32) {
    let (mut mode, mut gain) = (cfg.feedback, 1.0f32);
    match quiet {
        Some(QuietAction::Quieter) => gain = (cfg.quiet_volume / volume.max(0.01)).min(1.0) as f32,
        Some(QuietAction::Skip) if mode == Feedback::Speech => mode = Feedback::Tone,
        _ => {}
    }
    (mode, gain)
}

/// The configured `voice` changed to speak with `engine`'s voice `name` alone, to be tried
/// (nothing falls back to another voice: the point is to hear this one); or why it cannot be.
pub(super) fn voice_to_try(
    voice: &VoiceConfig,
    engine: &str,
    name: &str,
) -> Result<VoiceConfig, CoachError> {
    let kind = match EngineKind::parse(engine) {
        Ok(EngineKind::Command) => Err(CoachError::InvalidArgument(
            "the command engine has no voices to try; set it in config.toml".into(),
        )),
        Ok(kind) => crate::voice::check_voice_name(name)
            .map(|()| kind)
            .map_err(CoachError::InvalidArgument),
        Err(e) => Err(CoachError::InvalidArgument(e)),
    }?;
    let mut voice = voice.clone();
    voice.engine = kind;
    voice.voice = Some(name.to_string());
    voice.chosen = true;
    voice.fallback.clear();
    Ok(voice)
}

/// The sentence a voice is tried with: the first sentences the default routine says (40
/// characters or more), or a calm sentence of its kind when it says nothing.
pub(super) fn trial_sentence(default_routine: Option<&Routine>) -> String {
    default_routine
        .and_then(|r| r.steps.iter().find_map(|s| s.say.as_deref()))
        .map(|say| crate::feedback::first_sentences(say, 40))
        .unwrap_or_else(|| "Sit comfortably, and let your shoulders drop.".to_string())
}

/// Answers being synthesized, said in the order they were asked for, and voices being tried.
#[derive(Default)]
pub(super) struct Answers {
    /// The number the next answer gets.
    asked: u64,
    /// The number of the next answer to say.
    said: u64,
    /// Answers synthesized before an earlier one.
    ready: BTreeMap<u64, (Clip, f32)>,
    /// Tones of answers asked while an earlier one was still being synthesized: each is
    /// played with its own words, so the tones and the words stay in order.
    held_tones: BTreeMap<u64, (Clip, f32)>,
    /// Voices being tried: the answer waiting for each, and the sentence.
    trials: HashMap<u64, (Answer<String>, String)>,
    /// The number the next trial gets.
    tried: u64,
}

impl Answers {
    /// Says a key's result in the voice's manner: a tone at once (high if done, low if `refused`), then
    /// the text (or only the tone, or nothing, as the setting and quiet hours say). What was
    /// done ("Feed logged.") is in the speech cache already ([`Answers::prepare_heads`]): it
    /// follows the tone at once, and the rest follows it when synthesized.
    pub fn announce(
        &mut self,
        text: String,
        refused: bool,
        voice: &mut Voice,
    ) -> Result<(), CoachError> {
        let (mode, gain) = voice.manner();
        if text.chars().count() > MAX_ANNOUNCE || text.trim().is_empty() {
            return Err(CoachError::InvalidArgument(format!(
                "give 1 to {MAX_ANNOUNCE} characters to announce"
            )));
        }
        let earcon = if refused {
            Earcon::Refused
        } else {
            Earcon::Done
        };
        let (t, t_gain) = tone(voice.cfg, earcon, gain);
        match mode {
            Feedback::None => {}
            Feedback::Tone => voice.say(t, t_gain),
            Feedback::Speech => {
                log::info!("saying: {text}");
                let parts = match crate::feedback::split_answer(&text) {
                    Some((head, "")) => vec![head],
                    Some((head, rest)) => vec![head, rest.to_string()],
                    None => vec![text],
                };
                for (i, part) in parts.into_iter().enumerate() {
                    let n = self.asked;
                    self.asked += 1;
                    if i == 0 {
                        if self.said == n {
                            voice.say(t.clone(), t_gain);
                        } else {
                            self.held_tones.insert(n, (t.clone(), t_gain));
                        }
                    }
                    voice
                        .preparer
                        .speak(part, PhraseFor::Feedback(gain, n), &Default::default());
                }
            }
        }
        Ok(())
    }

    /// The tone that says a key's action was done, in the voice's manner (none with
    /// `feedback = "none"`).
    pub fn acknowledge(&mut self, voice: &mut Voice) {
        let (mode, gain) = voice.manner();
        if mode != Feedback::None {
            let (t, t_gain) = tone(voice.cfg, Earcon::Done, gain);
            voice.say(t, t_gain);
        }
    }

    /// Synthesizes the answers' heads ([`crate::feedback::ANSWER_HEADS`]) into the speech
    /// cache beside the coach, when answers are spoken.
    pub fn prepare_heads(cfg: &Config, preparer: &Preparer) {
        if cfg.feedback == Feedback::Speech {
            let heads = crate::feedback::ANSWER_HEADS
                .iter()
                .map(|h| crate::feedback::spoken_head(h))
                .collect();
            preparer.speak_ahead(heads);
        }
    }

    /// Answer `n` is synthesized (an empty clip: it could not be): it is said once every
    /// earlier answer has been.
    pub fn spoken(&mut self, n: u64, clip: Clip, gain: f32, voice: &mut Voice) {
        self.ready.insert(n, (clip, gain));
        while let Some((clip, gain)) = self.ready.remove(&self.said) {
            if let Some((tone, t_gain)) = self.held_tones.remove(&self.said) {
                voice.say(tone, t_gain);
            }
            self.said += 1;
            if !clip.samples().is_empty() {
                voice.say(clip, gain);
            }
        }
    }

    /// Says `sentence` with another voice (`letdown voices try`): `voice_cfg` with nothing to
    /// fall back on (the point is to hear this one); `answer` is answered once it is said.
    pub fn try_voice(
        &mut self,
        voice_cfg: VoiceConfig,
        sentence: String,
        answer: Answer<String>,
        preparer: &Preparer,
    ) {
        let n = self.tried;
        self.tried += 1;
        self.trials.insert(n, (answer, sentence.clone()));
        preparer.speak_with(
            voice_cfg,
            sentence,
            PhraseFor::Trial(n),
            &Default::default(),
        );
    }

    /// Trial `n`'s sentence is synthesized: said now (at the answers' gain), and its caller
    /// answered.
    pub fn trial_spoken(&mut self, n: u64, clip: Clip, voice: &mut Voice) {
        if let Some((answer, text)) = self.trials.remove(&n) {
            let (_, gain) = voice.manner();
            voice.say(clip, gain);
            reply(answer, Ok(text));
        }
    }

    /// Trial `n`'s voice could not speak: its caller hears why.
    pub fn trial_failed(&mut self, n: u64, why: String) {
        if let Some((answer, _)) = self.trials.remove(&n) {
            reply(answer, Err(CoachError::SpeechFailed(why)));
        }
    }
}

/// An answer's tone, and its gain: the earcon level at the answer's `gain`.
fn tone(cfg: &Config, earcon: Earcon, gain: f32) -> (Clip, f32) {
    (cfg.earcons.render(earcon), gain * cfg.earcon_volume as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(std::path::Path::new("config.toml"), text).unwrap()
    }

    /// An open test output, and a preparer whose cache is in a temporary folder.
    fn voice_parts() -> (Audio, Preparer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::paths::Paths::under(dir.path());
        let out = crate::output::TestOutput {
            open: true,
            ..Default::default()
        };
        (
            Audio::new(Box::new(out), 1.0),
            Preparer::new(
                config("[voice]\nengine = \"espeak-ng\"\nfallback = []\n"),
                paths,
            ),
            dir,
        )
    }

    #[test]
    fn quiet_hours_lower_the_answer_or_leave_only_its_tone() {
        let cfg = config("feedback = \"speech\"\n[schedule]\nquiet_volume = 0.3\n");
        assert_eq!(manner(&cfg, None, 0.6), (Feedback::Speech, 1.0));
        assert_eq!(
            manner(&cfg, Some(QuietAction::Quieter), 0.6),
            (Feedback::Speech, 0.5)
        );
        // Never louder than the user's own volume.
        assert_eq!(
            manner(&cfg, Some(QuietAction::Quieter), 0.2),
            (Feedback::Speech, 1.0)
        );
        assert_eq!(
            manner(&cfg, Some(QuietAction::Skip), 0.6),
            (Feedback::Tone, 1.0)
        );
    }

    /// Answers are said in the order asked, whatever order their words are synthesized in; a
    /// later answer's tone waits for the earlier one's words.
    #[tokio::test]
    async fn answers_are_said_in_the_order_asked() {
        let cfg = config("feedback = \"speech\"\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n");
        let (mut audio, preparer, _dir) = voice_parts();
        let mut a = Answers::default();
        let mut v = Voice {
            audio: &mut audio,
            preparer: &preparer,
            cfg: &cfg,
            quiet: None,
            live: false,
        };
        a.announce("No session to move on.".into(), true, &mut v)
            .unwrap();
        a.announce("Snoozed.".into(), false, &mut v).unwrap();
        assert_eq!(a.asked, 2);
        assert!(
            a.held_tones.contains_key(&1),
            "the second tone did not wait"
        );
        // The second answer's words come first: nothing is said until the first's do.
        let words = Clip::new(vec![0.5; 480]);
        a.spoken(1, words.clone(), 1.0, &mut v);
        assert_eq!(a.said, 0);
        assert!(a.held_tones.contains_key(&1));
        a.spoken(0, words, 1.0, &mut v);
        assert_eq!(a.said, 2);
        assert!(a.held_tones.is_empty() && a.ready.is_empty());
    }

    #[test]
    fn a_voice_is_tried_alone_and_a_bad_one_is_refused() {
        let cfg = config("[voice]\nengine = \"espeak-ng\"\nfallback = [\"flite\"]\n");
        let v = voice_to_try(&cfg.voice, "flite", "slt").unwrap();
        assert_eq!(
            (v.engine, v.voice.as_deref()),
            (EngineKind::Flite, Some("slt"))
        );
        assert!(v.fallback.is_empty() && v.chosen);
        for (engine, name) in [("command", "x"), ("nonesuch", "x"), ("flite", "../../etc")] {
            assert!(
                matches!(
                    voice_to_try(&cfg.voice, engine, name),
                    Err(CoachError::InvalidArgument(_))
                ),
                "{engine}:{name}"
            );
        }
    }

    #[test]
    fn an_announcement_has_a_bounded_length() {
        let cfg = config("feedback = \"tone\"\n");
        let (mut audio, preparer, _dir) = voice_parts();
        let mut v = Voice {
            audio: &mut audio,
            preparer: &preparer,
            cfg: &cfg,
            quiet: None,
            live: false,
        };
        let mut a = Answers::default();
        for text in [String::new(), "x".repeat(MAX_ANNOUNCE + 1)] {
            let err = a.announce(text, false, &mut v);
            assert!(matches!(err, Err(CoachError::InvalidArgument(_))));
        }
        a.announce("Done.".into(), false, &mut v).unwrap();
        assert!(!audio.mix().is_silent(), "the tone was not played");
    }
}
