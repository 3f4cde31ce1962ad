//! flite: CMU's small synthesizer (Debian main). Its `rms` and `slt` voices are clearer than
//! espeak-ng's and take about a tenth of a second a sentence; it speaks at 16 kHz, and the clip
//! is resampled to the mix's rate when read.

use super::{Job, SpeechEngine, VoiceSettings, process_per_text};

/// The voice used when none is chosen: male, US English, the clearest of the built-in ones.
pub const DEFAULT_VOICE: &str = "rms";

/// The voices compiled into Debian's flite. Only these are accepted: flite also takes a path
/// or a URL to a voice file as a voice name, which a routine file must never make it fetch.
pub const VOICES: [&str; 5] = ["rms", "slt", "awb", "kal16", "kal"];

/// Speaks through the `flite` program.
pub struct FliteEngine {
    settings: VoiceSettings,
}

impl FliteEngine {
    /// An engine with these settings.
    pub fn new(settings: VoiceSettings) -> Self {
        Self { settings }
    }

    fn voice(&self) -> Result<&str, String> {
        let voice = self.settings.voice.as_deref().unwrap_or(DEFAULT_VOICE);
        if VOICES.contains(&voice) {
            Ok(voice)
        } else {
            Err(format!(
                "\"{}\" is not a flite voice; use one of {}",
                voice.escape_debug(),
                VOICES.join(", ")
            ))
        }
    }

    fn args(&self, voice: &str, text: &str, out: &str) -> Vec<String> {
        vec![
            "-voice".into(),
            voice.into(),
            // Slower speech is longer segments.
            "--setf".into(),
            format!("duration_stretch={:.3}", 1.0 / self.settings.speed),
            "-t".into(),
            text.into(),
            "-o".into(),
            out.into(),
        ]
    }
}

impl SpeechEngine for FliteEngine {
    fn name(&self) -> &str {
        "flite"
    }

    fn identity(&self) -> String {
        let voice = self.voice().unwrap_or("?");
        format!("flite {}", self.args(voice, "", "").join(" "))
    }

    fn synthesize(&self, jobs: &[Job]) -> Vec<super::Spoken> {
        let voice = match self.voice() {
            Ok(v) => v,
            Err(e) => return jobs.iter().map(|_| Err(e.clone().into())).collect(),
        };
        process_per_text(jobs, "flite", &self.settings, |job| {
            (
                self.args(voice, &job.text, &job.out.to_string_lossy()),
                Vec::new(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(voice: Option<&str>) -> FliteEngine {
        FliteEngine::new(VoiceSettings {
            voice: voice.map(str::to_string),
            language: "en".into(),
            speed: 0.9,
            timeout: std::time::Duration::from_secs(10),
        })
    }

    #[test]
    fn a_voice_that_is_a_path_or_a_url_is_refused() {
        for v in [
            "http://example.org/v.flitevox",
            "a/b",
            "/tmp/x.flitevox",
            "rms ",
        ] {
            let e = engine(Some(v)).voice().unwrap_err();
            assert!(e.contains("is not a flite voice"), "{e}");
        }
        assert_eq!(engine(None).voice().unwrap(), "rms");
        assert_eq!(engine(Some("slt")).voice().unwrap(), "slt");
    }

    #[test]
    fn the_text_is_one_argument_after_t() {
        let e = engine(None);
        let args = e.args("rms", "-o /etc/passwd; rm", "out.wav");
        let t = args.iter().position(|a| a == "-t").unwrap();
        assert_eq!(args[t + 1], "-o /etc/passwd; rm");
        assert_eq!(args.last().unwrap(), "out.wav");
    }
}
