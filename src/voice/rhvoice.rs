//! RHVoice: clear, light voices (0.2 s a sentence here), where its packages are installed
//! (`rhvoice` and `rhvoice-english` are in Debian's non-free component). Spoken through
//! `RHVoice-test`, which reads the text on stdin and writes a WAV.

use super::catalog::InstalledVoice;
use super::{EngineKind, Job, SpeechEngine, VoiceSettings, process_per_text};

/// The voice used when none is chosen: `bdl`, male US English (Whisper heard 0.97 of its
/// words here, see ../shared/notes/voices.md).
pub const DEFAULT_VOICE: &str = "bdl";

/// Where the packages put the voices, one folder each with a `voice.info`.
const VOICES: &str = "/usr/share/RHVoice/voices";

/// The program that speaks.
const PROGRAM: &str = "RHVoice-test";

/// Voices licensed for no derivatives and no commercial use: ranked last, after espeak-ng.
/// The default voice is chosen among the voices other than espeak-ng, so they speak by default
/// only when nothing but espeak-ng is installed.
const RESTRICTED: [&str; 2] = ["evgeniy-eng", "lyubov"];

/// Speaks through `RHVoice-test`.
pub struct RhvoiceEngine {
    settings: VoiceSettings,
}

impl RhvoiceEngine {
    /// An engine with these settings.
    pub fn new(settings: VoiceSettings) -> Self {
        Self { settings }
    }

    fn args(&self, out: &str) -> Vec<String> {
        let voice = self.settings.voice.as_deref().unwrap_or(DEFAULT_VOICE);
        vec![
            "-p".into(),
            voice.into(),
            // Percent of the voice's normal rate.
            "-r".into(),
            format!("{}", (self.settings.speed * 100.0).round() as u32),
            "-o".into(),
            out.into(),
        ]
    }
}

impl SpeechEngine for RhvoiceEngine {
    fn name(&self) -> &str {
        "rhvoice"
    }

    fn identity(&self) -> String {
        format!("rhvoice {}", self.args("-").join(" "))
    }

    fn synthesize(&self, jobs: &[Job]) -> Vec<super::Spoken> {
        process_per_text(jobs, PROGRAM, &self.settings, |job| {
            (
                self.args(&job.out.to_string_lossy()),
                job.text.as_bytes().to_vec(),
            )
        })
    }
}

/// The RHVoice voices installed, with the language and gender their `voice.info` gives.
pub fn installed_voices() -> Vec<InstalledVoice> {
    if super::catalog::on_path(PROGRAM).is_none() {
        return Vec::new();
    }
    let Ok(dirs) = std::fs::read_dir(VOICES) else {
        return Vec::new();
    };
    let mut voices = Vec::new();
    for dir in dirs.flatten() {
        let info = std::fs::read_to_string(dir.path().join("voice.info")).unwrap_or_default();
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('='))
                .map(|v| v.trim().to_string())
        };
        let name = field("name")
            .unwrap_or_else(|| dir.file_name().to_string_lossy().into_owned())
            .to_lowercase();
        if super::check_voice_name(&name).is_err() {
            continue;
        }
        let language = match field("language").as_deref() {
            Some("English") => "en".to_string(),
            Some(other) => other.to_lowercase(),
            None => "?".into(),
        };
        voices.push(InstalledVoice {
            engine: EngineKind::Rhvoice,
            kind: if RESTRICTED.contains(&name.as_str()) {
                super::catalog::Kind::RhvoiceRestricted
            } else {
                super::catalog::Kind::Rhvoice
            },
            within: u32::from(name != DEFAULT_VOICE),
            gender: match field("gender").as_deref() {
                Some("male") => Some("male"),
                Some("female") => Some("female"),
                _ => None,
            },
            language,
            name,
        });
    }
    voices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_a_percent_and_the_text_goes_to_stdin() {
        let e = RhvoiceEngine::new(VoiceSettings {
            voice: Some("clb".into()),
            language: "en".into(),
            speed: 0.9,
            timeout: std::time::Duration::from_secs(5),
        });
        assert_eq!(e.args("o.wav"), ["-p", "clb", "-r", "90", "-o", "o.wav"]);
    }
}
