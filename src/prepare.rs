//! Getting a routine ready to play: every sound decoded or synthesized, then the plan made.
//!
//! This is where files and speech engines are touched, once, before a session starts; what it
//! returns is plain data in memory, so playing never waits on a disk or a synthesizer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clip::Clip;
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::{Plan, Sound, SoundLengths, phrase_bank};
use crate::routine::Routine;
use crate::tones::Earcon;
use crate::voice::{SynthesisError, voice_for};

/// Every sound of a session, in memory.
#[derive(Debug, Clone, Default)]
pub struct Sounds {
    clips: HashMap<Sound, Clip>,
}

impl Sounds {
    /// The clip of a sound, if prepared.
    pub fn get(&self, sound: Sound) -> Option<&Clip> {
        self.clips.get(&sound)
    }

    /// Adds or replaces a clip.
    pub fn insert(&mut self, sound: Sound, clip: Clip) {
        self.clips.insert(sound, clip);
    }
}

impl SoundLengths for Sounds {
    fn length(&self, sound: Sound) -> Duration {
        self.clips
            .get(&sound)
            .map_or(Duration::ZERO, Clip::duration)
    }
}

/// A routine ready to play.
pub struct Ready {
    /// The routine.
    pub routine: Routine,
    /// Its timeline.
    pub plan: Arc<Plan>,
    /// Its sounds.
    pub sounds: Sounds,
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

/// Decodes, synthesizes (through the cache) and plans everything `routine` needs.
pub fn prepare(routine: Routine, cfg: &Config, paths: &Paths) -> Result<Ready, PrepareError> {
    let started = Instant::now();
    let mut sounds = Sounds::default();
    for e in Earcon::ALL {
        sounds.insert(Sound::Tone(e), cfg.earcons.render(e));
    }
    let voice =
        voice_for(&cfg.voice, &routine.voice, &paths.cache_dir).map_err(PrepareError::Voice)?;
    let mut texts: Vec<(Sound, String)> = Vec::new();
    for (i, step) in routine.steps.iter().enumerate() {
        match (&step.audio, &step.say) {
            (Some(path), _) => {
                let clip = Clip::decode_file(path)
                    .map(|c| c.trimmed(crate::voice::TAIL_PAD))
                    .map_err(|message| PrepareError::Audio {
                        step: i + 1,
                        title: step.title.clone(),
                        message,
                    })?;
                sounds.insert(Sound::Prompt(i), clip);
            }
            (None, Some(text)) => texts.push((Sound::Prompt(i), text.clone())),
            (None, None) => unreachable!("the routine parser requires a prompt"),
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
        let clip = prepared
            .clips
            .get(&text)
            .expect("prepare gives every text a clip")
            .clone();
        sounds.insert(sound, clip);
    }
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
