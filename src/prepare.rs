//! Getting a routine ready to play: every sound synthesized or decoded into the cache, then
//! the plan made.
//!
//! This is where speech engines and recorded files are touched, once, before a session starts.
//! What it returns is a [`SoundIndex`]: each sound's length (all the plan needs) and where its
//! samples are, so an idle daemon keeps a prepared routine without holding its audio in memory;
//! [`SoundIndex::load`] reads the samples from the cache when a session needs them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clip::Clip;
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::{Plan, Sound, SoundLengths, phrase_bank};
use crate::routine::Routine;
use crate::tones::Earcon;
use crate::voice::{Cache, Cached, SynthesisError, TAIL_PAD, voice_for};

/// Where a prepared sound's samples are.
#[derive(Debug, Clone)]
pub enum SoundSource {
    /// In memory (tones, made in code).
    Memory(Clip),
    /// In the cache (speech, and recorded prompts decoded and trimmed).
    Cached(Cached),
}

impl SoundSource {
    /// How long the sound plays.
    pub fn length(&self) -> Duration {
        match self {
            SoundSource::Memory(c) => c.duration(),
            SoundSource::Cached(c) => c.length,
        }
    }

    /// The samples.
    pub fn load(&self) -> Result<Clip, String> {
        match self {
            SoundSource::Memory(c) => Ok(c.clone()),
            SoundSource::Cached(c) => c.load(),
        }
    }
}

/// Every sound of a routine, by length and location.
#[derive(Debug, Clone, Default)]
pub struct SoundIndex {
    sources: HashMap<Sound, SoundSource>,
}

impl SoundIndex {
    /// Where `sound` is, if prepared.
    pub fn source(&self, sound: Sound) -> Option<&SoundSource> {
        self.sources.get(&sound)
    }

    /// Whether every cached file is still on disk. The cache is only a cache (deleting it is
    /// always safe), so a routine whose files went must be prepared again before it plays.
    pub fn intact(&self) -> bool {
        self.sources.values().all(|s| match s {
            SoundSource::Memory(_) => true,
            SoundSource::Cached(c) => c.path.is_file(),
        })
    }

    /// Reads the samples of `sounds` (those that are prepared).
    pub fn load(&self, sounds: impl IntoIterator<Item = Sound>) -> Result<Sounds, String> {
        let mut out = Sounds::default();
        for s in sounds {
            if let Some(src) = self.sources.get(&s) {
                out.insert(s, src.load()?);
            }
        }
        Ok(out)
    }

    /// Reads every sound.
    pub fn load_all(&self) -> Result<Sounds, String> {
        self.load(self.sources.keys().copied().collect::<Vec<_>>())
    }
}

impl SoundLengths for SoundIndex {
    fn length(&self, sound: Sound) -> Duration {
        self.sources
            .get(&sound)
            .map_or(Duration::ZERO, SoundSource::length)
    }
}

/// Sounds in memory, ready to mix.
#[derive(Debug, Clone, Default)]
pub struct Sounds {
    clips: HashMap<Sound, Clip>,
}

impl Sounds {
    /// The clip of a sound, if loaded.
    pub fn get(&self, sound: Sound) -> Option<&Clip> {
        self.clips.get(&sound)
    }

    /// Adds or replaces a clip.
    pub fn insert(&mut self, sound: Sound, clip: Clip) {
        self.clips.insert(sound, clip);
    }

    /// Adds every clip of `other`.
    pub fn extend(&mut self, other: Sounds) {
        self.clips.extend(other.clips);
    }

    /// Whether `sound` is loaded.
    pub fn contains(&self, sound: Sound) -> bool {
        self.clips.contains_key(&sound)
    }
}

/// A routine ready to play.
pub struct Ready {
    /// The routine.
    pub routine: Routine,
    /// Its timeline.
    pub plan: Arc<Plan>,
    /// Its sounds.
    pub sounds: SoundIndex,
    /// Engine fallbacks and other things the user may want to know.
    pub warnings: Vec<String>,
    /// How many texts had to be synthesized (the rest came from the cache).
    pub synthesized: usize,
    /// How long preparing took.
    pub took: Duration,
}

/// Why a routine could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A recorded prompt could not be decoded.
    #[error("step {step} (\"{title}\"): {message}")]
    Audio {
        /// 1-based step number.
        step: usize,
        /// Step title.
        title: String,
        /// What went wrong.
        message: String,
    },
    /// No engine could speak a text.
    #[error("{0}")]
    Speech(#[from] SynthesisError),
    /// The voice settings are unusable.
    #[error("voice settings: {0}")]
    Voice(String),
}

/// A recorded prompt, decoded and trimmed once and kept in the cache like speech (keyed by the
/// file's path, size and modification time, so an edited recording is decoded again).
fn recorded(cache: &Cache, path: &std::path::Path) -> Result<Cached, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let identity = format!("recorded size={} mtime={}", meta.len(), modified.as_nanos());
    let key = path.to_string_lossy();
    if let Some(c) = cache.entry(&identity, &key) {
        return Ok(c);
    }
    let clip = Clip::decode_file(path)?.trimmed(TAIL_PAD);
    if clip.samples().is_empty() {
        return Err(format!("{} is silent", path.display()));
    }
    cache.put(&identity, &key, &clip)
}

/// Synthesizes or decodes (through the cache) and plans everything `routine` needs.
pub fn prepare(routine: Routine, cfg: &Config, paths: &Paths) -> Result<Ready, PrepareError> {
    let started = Instant::now();
    let mut sources = HashMap::new();
    for e in Earcon::ALL {
        sources.insert(Sound::Tone(e), SoundSource::Memory(cfg.earcons.render(e)));
    }
    let voice =
        voice_for(&cfg.voice, &routine.voice, &paths.cache_dir).map_err(PrepareError::Voice)?;
    let mut texts: Vec<(Sound, String)> = Vec::new();
    for (i, step) in routine.steps.iter().enumerate() {
        match (&step.audio, &step.say) {
            (Some(path), say) => match recorded(voice.cache(), path) {
                Ok(c) => {
                    sources.insert(Sound::Prompt(i), SoundSource::Cached(c));
                }
                // The transcript stands in for a recording that cannot be played.
                Err(message) if say.is_some() => {
                    log::warn!("step {}: {message}; speaking its text instead", i + 1);
                    texts.push((Sound::Prompt(i), say.clone().expect("checked")));
                }
                Err(message) => {
                    return Err(PrepareError::Audio {
                        step: i + 1,
                        title: step.title.clone(),
                        message,
                    });
                }
            },
            (None, Some(text)) => texts.push((Sound::Prompt(i), text.clone())),
            (None, None) => unreachable!("the routine parser requires a prompt"),
        }
        if let Some((_, crate::routine::RepeatedCue::Say(text))) = &step.cues.every {
            texts.push((Sound::Repeated(i), text.clone()));
        }
    }
    texts.extend(
        phrase_bank(&routine)
            .into_iter()
            .map(|p| (Sound::Phrase(p), p.text())),
    );
    let all: Vec<String> = texts.iter().map(|(_, t)| t.clone()).collect();
    let prepared = voice.prepare(&all)?;
    for (sound, text) in texts {
        let cached = prepared
            .clips
            .get(&text)
            .expect("prepare gives every text a clip")
            .clone();
        sources.insert(sound, SoundSource::Cached(cached));
    }
    let sounds = SoundIndex { sources };
    let plan = Arc::new(Plan::new(&routine, &sounds));
    Ok(Ready {
        routine,
        plan,
        sounds,
        warnings: prepared.warnings,
        synthesized: prepared.synthesized,
        took: started.elapsed(),
    })
}
