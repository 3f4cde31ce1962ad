//! espeak-ng: small, fast and in many languages; the fallback voice.

use super::{Job, SpeechEngine, VoiceSettings, in_parallel, limit_for, one_by_one, run};

/// Speaks through the `espeak-ng` program.
pub struct EspeakEngine {
    settings: VoiceSettings,
}

impl EspeakEngine {
    /// An engine with these settings.
    pub fn new(settings: VoiceSettings) -> Self {
        Self { settings }
    }

    fn args(&self, out: &str) -> Vec<String> {
        let voice = self
            .settings
            .voice
            .clone()
            .unwrap_or_else(|| self.settings.language.clone());
        // espeak-ng's normal rate is 175 words per minute.
        let wpm = (175.0 * self.settings.speed).round() as u32;
        vec![
            "-v".into(),
            voice,
            "-s".into(),
            wpm.to_string(),
            "-w".into(),
            out.into(),
            "--stdin".into(),
        ]
    }
}

impl SpeechEngine for EspeakEngine {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn identity(&self) -> String {
        format!("espeak-ng {}", self.args("-").join(" "))
    }

    fn synthesize(&self, jobs: &[Job]) -> Vec<Result<(), String>> {
        in_parallel(jobs, |chunk| {
            one_by_one(chunk, |job| {
                run(
                    "espeak-ng",
                    &self.args(&job.out.to_string_lossy()),
                    job.text.as_bytes(),
                    limit_for(&self.settings, 1),
                )
                .map(|_| ())
            })
        })
    }
}
