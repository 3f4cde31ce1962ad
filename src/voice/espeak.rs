//! espeak-ng: small, fast and in many languages; the fallback voice.

use super::{Job, SpeechEngine, VoiceSettings, process_per_text, run};

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

    fn synthesize(&self, jobs: &[Job]) -> Vec<super::Spoken> {
        process_per_text(jobs, "espeak-ng", &self.settings, |job| {
            (
                self.args(&job.out.to_string_lossy()),
                job.text.as_bytes().to_vec(),
            )
        })
    }
}

/// espeak-ng's voices for `language` (every language when `None`), from `espeak-ng --voices`.
/// MBROLA voices are left out unless their data is installed. Each is named by its language
/// code, which is what `-v` takes.
pub fn installed_voices(language: Option<&str>) -> Vec<super::catalog::InstalledVoice> {
    let mut args = vec!["--voices".to_string()];
    if let Some(l) = language {
        args[0] = format!("--voices={}", l.split(['-', '_']).next().unwrap_or(l));
    }
    let Ok(out) = run("espeak-ng", &args, b"", std::time::Duration::from_secs(5)) else {
        return Vec::new();
    };
    let mut voices: Vec<super::catalog::InstalledVoice> = Vec::new();
    for line in String::from_utf8_lossy(&out).lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [_, lang, age_gender, _, file, ..] = cols.as_slice() else {
            continue;
        };
        if let Some(mb) = file.strip_prefix("mb/") {
            let data = mb.trim_start_matches("mb-");
            let data = data.split('-').next().unwrap_or(data);
            if !std::path::Path::new("/usr/share/mbrola")
                .join(data)
                .exists()
            {
                continue;
            }
        }
        if voices.iter().any(|v| v.name == *lang) {
            continue;
        }
        voices.push(super::catalog::InstalledVoice {
            engine: super::EngineKind::EspeakNg,
            name: lang.to_string(),
            language: lang.to_string(),
            gender: match age_gender.rsplit('/').next() {
                Some("M") => Some("male"),
                Some("F") => Some("female"),
                _ => None,
            },
            kind: super::catalog::Kind::EspeakNg,
            within: 0,
        });
    }
    voices
}
