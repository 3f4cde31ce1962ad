//! The voice's settings: which engine speaks (an [`EngineKind`], not a string), how, and what a
//! routine may choose for its own prompts. The config file and routine files read into these.

use std::time::Duration;

/// A speech engine letdown can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// Festival, with its HTS voice by default.
    Festival,
    /// espeak-ng: small, fast, many languages.
    EspeakNg,
    /// flite: small and fast, clearer than espeak-ng in English.
    Flite,
    /// RHVoice, where its packages are installed.
    Rhvoice,
    /// Piper, a neural voice, through a worker that keeps its model loaded.
    Piper,
    /// Any program that turns text into WAV (`[voice] command`).
    Command,
}

impl EngineKind {
    /// Every engine, in the order they are listed to people.
    pub const ALL: [EngineKind; 6] = [
        EngineKind::Piper,
        EngineKind::Rhvoice,
        EngineKind::Festival,
        EngineKind::Flite,
        EngineKind::EspeakNg,
        EngineKind::Command,
    ];

    /// The name used in config and routine files.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Festival => "festival",
            EngineKind::EspeakNg => "espeak-ng",
            EngineKind::Flite => "flite",
            EngineKind::Rhvoice => "rhvoice",
            EngineKind::Piper => "piper",
            EngineKind::Command => "command",
        }
    }

    /// Reads an engine name, with an error that lists the known ones.
    pub fn parse(name: &str) -> Result<EngineKind, String> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|e| e.name()).collect();
                format!("unknown engine \"{name}\"; use one of {}", names.join(", "))
            })
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks a voice name from a file: letters, digits and `_ - + .`, with at most one `/` (as in
/// espeak-ng's `mb/mb-en1`), starting with a letter or digit, at most 64 characters. Names
/// reach engines as arguments or inside a Festival script, so nothing else may be in them:
/// no spaces, quotes, parentheses, semicolons or backslashes.
pub fn check_voice_name(name: &str) -> Result<(), String> {
    let part_ok = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'))
            && !p.contains("..")
    };
    let parts: Vec<&str> = name.split('/').collect();
    if name.len() <= 64 && parts.len() <= 2 && parts.iter().all(|p| part_ok(p)) {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a voice name: use letters, digits and _ - + . only (`espeak-ng --voices` lists espeak-ng's; Festival's are its voice directories, e.g. cmu_us_slt_arctic_hts)",
            name.escape_debug()
        ))
    }
}

/// Checks a language code from a file: `en`, `en-GB`, `pt_BR`, `cmn-latn-pinyin`.
pub fn check_language(code: &str) -> Result<(), String> {
    let mut parts = code.split(['-', '_']);
    let first = parts.next().unwrap_or("");
    let first_ok = (2..=3).contains(&first.len()) && first.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a language code; use one like en, en-GB or pt_BR",
            code.escape_debug()
        ))
    }
}

/// Which engine speaks, and how (config.toml's `[voice]`).
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceConfig {
    /// The engine.
    pub engine: EngineKind,
    /// Engine-specific voice; `None` = the engine's default for `language`.
    pub voice: Option<String>,
    /// Language code, e.g. `en`.
    pub language: String,
    /// Speaking rate; 1.0 is the engine's normal pace. The default, 0.9, is a little slower: calm.
    pub speed: f64,
    /// Engines tried, in order, when the chosen one fails.
    pub fallback: Vec<EngineKind>,
    /// For the `command` engine: the program and its arguments. `{text}` in an argument is
    /// replaced by the text (otherwise the text goes to stdin); `{out}` by the WAV file to write
    /// (otherwise the WAV is read from stdout). Never run through a shell.
    pub command: Vec<String>,
    /// How long one engine process may take before it is killed (its whole process group),
    /// plus a second per text it was given: a hung synthesizer never holds anything up.
    pub timeout: Duration,
    /// True when the config file names the engine; otherwise the best voice installed speaks
    /// (see [`super::catalog::choose_default`]).
    pub chosen: bool,
    /// letdown's data folder, where the natural voice (Piper) is installed; `None` for the
    /// user's (`~/.local/share/letdown`).
    pub data_dir: Option<std::path::PathBuf>,
    /// How long the Piper voice's worker stays loaded without work (not a config key: from
    /// `LETDOWN_PIPER_IDLE`, for tests and benchmarks, else two minutes).
    pub piper_idle: Duration,
}

impl VoiceConfig {
    /// letdown's data folder, where the natural voice is installed.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| crate::paths::Paths::from_env().data_dir)
    }
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            engine: EngineKind::Festival,
            voice: None,
            language: "en".into(),
            speed: 0.9,
            fallback: vec![EngineKind::EspeakNg],
            command: Vec::new(),
            timeout: Duration::from_secs(30),
            chosen: false,
            data_dir: None,
            piper_idle: super::piper::idle_from_env(),
        }
    }
}

/// Voice choices a routine makes for its own prompts; unset fields come from the config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoiceOverride {
    /// The engine.
    pub engine: Option<EngineKind>,
    /// Engine-specific voice name.
    pub voice: Option<String>,
    /// Language code such as `en` or `de`.
    pub language: Option<String>,
    /// Speaking rate, 1.0 = the engine's normal pace.
    pub speed: Option<f64>,
}

/// The settings an engine speaks with.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceSettings {
    /// Engine-specific voice name, or `None` for the engine's default for `language`.
    pub voice: Option<String>,
    /// Language code.
    pub language: String,
    /// Speaking rate, 1.0 = normal.
    pub speed: f64,
    /// How long an engine process may run (plus a second per text) before it is killed.
    pub timeout: Duration,
}
