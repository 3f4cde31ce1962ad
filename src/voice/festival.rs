//! Festival, with its most natural offline voice (`cmu_us_slt_arctic_hts`) by default.
//!
//! Starting festival and loading a voice costs most of a second; synthesizing a sentence
//! afterwards takes a few tens of milliseconds. So one `festival --pipe` process per core is fed
//! a script that speaks a whole batch, instead of one `text2wave` run per prompt.

use super::{Job, SpeechEngine, VoiceSettings, in_parallel, limit_for, run};

/// The default Festival voice: HTS, female, US English; calm and clear.
pub const DEFAULT_VOICE: &str = "cmu_us_slt_arctic_hts";

/// Where Debian and Ubuntu install Festival's voices: `VOICES/LANGUAGE/NAME/`.
const VOICES: &str = "/usr/share/festival/voices";

/// The Festival voices installed here, by name; `None` if Festival has no voice folder.
pub fn installed_voices() -> Option<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(VOICES)
        .ok()?
        .filter_map(|lang| std::fs::read_dir(lang.ok()?.path()).ok())
        .flatten()
        .filter_map(|v| Some(v.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Some(names)
}

/// Speaks through `festival --pipe`.
pub struct FestivalEngine {
    settings: VoiceSettings,
}

impl FestivalEngine {
    /// An engine with these settings.
    pub fn new(settings: VoiceSettings) -> Self {
        Self { settings }
    }

    fn voice(&self) -> &str {
        self.settings.voice.as_deref().unwrap_or(DEFAULT_VOICE)
    }

    /// The Scheme script that speaks `jobs`. Text goes in as escaped string literals; the voice
    /// name becomes part of a symbol, so one that is not a plain name is refused (files are
    /// checked when read; this holds whatever the source).
    fn script(&self, jobs: &[Job]) -> Result<String, String> {
        let voice = self.voice();
        if !voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'))
            || voice.is_empty()
        {
            return Err(format!(
                "\"{}\" is not a Festival voice name",
                voice.escape_debug()
            ));
        }
        let mut s = format!("(voice_{voice})\n");
        if voice.ends_with("_hts") {
            // HTS voices take their speaking rate as an engine parameter.
            s += &format!(
                "(set! hts_engine_params (append {voice}::hts_engine_params (list (list \"-r\" {:.3}))))\n",
                self.settings.speed
            );
        } else {
            s += &format!(
                "(Parameter.set 'Duration_Stretch {:.3})\n",
                1.0 / self.settings.speed
            );
        }
        for job in jobs {
            s += &format!(
                "(set! u (utt.synth (Utterance Text \"{}\")))\n(utt.wave.resample u {})\n(utt.save.wave u \"{}\" 'riff)\n",
                scheme_escape(&job.text),
                crate::clip::SAMPLE_RATE,
                scheme_escape(&job.out.to_string_lossy())
            );
        }
        Ok(s)
    }
}

/// Escapes text for a Scheme string literal: backslashes and quotes escaped, control
/// characters (newlines, NUL...) made spaces.
fn scheme_escape(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

impl SpeechEngine for FestivalEngine {
    fn name(&self) -> &str {
        "festival"
    }

    fn identity(&self) -> String {
        format!(
            "festival voice={} speed={:.3}",
            self.voice(),
            self.settings.speed
        )
    }

    fn synthesize(&self, jobs: &[Job]) -> Vec<super::Spoken> {
        in_parallel(jobs, |chunk| {
            let outcome = self
                .script(chunk)
                .map_err(super::SpeakError::from)
                .and_then(|script| {
                    run(
                        "festival",
                        &["--pipe".to_string()],
                        script.as_bytes(),
                        limit_for(&self.settings, chunk.len()),
                    )
                });
            chunk
                .iter()
                .map(|job| match &outcome {
                    Err(e) => Err(e.clone()),
                    Ok(_) if job.out.is_file() => Ok(()),
                    Ok(_) => Err(format!(
                        "festival wrote no audio (is the voice `{}` installed? Debian: festvox-us-slt-hts)",
                        self.voice()
                    )
                    .into()),
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_break_out_of_the_script() {
        let e = FestivalEngine::new(VoiceSettings {
            voice: None,
            language: "en".into(),
            speed: 0.9,
            timeout: std::time::Duration::from_secs(30),
        });
        let script = e
            .script(&[Job {
                text: "say \"hi\") (system \"rm\"".into(),
                out: "/tmp/a.wav".into(),
            }])
            .unwrap();
        assert!(
            script.contains(r#"(Utterance Text "say \"hi\") (system \"rm\"")"#),
            "{script}"
        );
        assert!(script.contains("\"-r\" 0.900"));
    }
}
