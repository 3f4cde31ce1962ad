//! A session's sounds read beside the coach: all of them as it begins (its first step's are in
//! memory already), and one a cue needs that is not in memory at its time. Such a cue waits
//! here, never read on the coach's thread, and is played when its sound comes back (from where
//! it would be by then, if only a little late).

use std::time::Duration;

use tokio::sync::mpsc;

use super::cues::{CueTiming, play};
use crate::daemon::audio::Audio;
use crate::daemon::live::Live;
use crate::daemon::returns::Returns;
use crate::plan::Sound;
use crate::prepare::{SoundIndex, Sounds};

/// Sounds read beside the coach for session `id`.
pub(super) struct Loaded {
    id: u64,
    sounds: Result<Sounds, String>,
}

/// Cues waiting for their sounds, and the reads under way.
pub(super) struct LateCues {
    /// Each cue's sound, when it was due, its gain.
    waiting: Vec<(Sound, Duration, f32)>,
    back: Returns<Loaded>,
}

impl LateCues {
    /// None waiting.
    pub fn new() -> Self {
        Self {
            waiting: Vec::new(),
            back: Returns::new(),
        }
    }

    /// Whether a cue waits for its sound.
    #[cfg(test)]
    pub fn any(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Reads all of session `id`'s sounds from `index`, beside the coach; nothing of an earlier
    /// session waits any more.
    pub fn read_all(&mut self, index: SoundIndex, id: u64) {
        self.waiting.clear();
        read_beside(index, id, None, self.back.sender());
    }

    /// The cue of `sound`, due `at` at `gain`, waits for its sound, which is read now.
    pub fn wait_for(&mut self, sound: Sound, at: Duration, gain: f32, index: SoundIndex, id: u64) {
        self.waiting.push((sound, at, gain));
        read_beside(index, id, Some(sound), self.back.sender());
    }

    /// What waits is dropped (it was cut, or the session ended).
    pub fn clear(&mut self) {
        self.waiting.clear();
    }

    /// The next sounds read.
    pub async fn next(&mut self) -> Loaded {
        self.back.next().await
    }

    /// Sounds were read: kept for `live` if they are its own, and a cue that waited for one
    /// is played into `audio`'s mix, `now` on the session's clock.
    pub fn on_loaded(
        &mut self,
        loaded: Loaded,
        live: Option<&mut Live>,
        audio: &Audio,
        timing: &CueTiming,
        now: Duration,
    ) {
        let Some(live) = live.filter(|l| l.id == loaded.id) else {
            return;
        };
        match loaded.sounds {
            Ok(sounds) => live.sounds.extend(sounds),
            Err(e) => log::error!("cannot read the session's sounds: {e}"),
        }
        for (sound, at, gain) in std::mem::take(&mut self.waiting) {
            match live.clip(sound) {
                Some(clip) => {
                    log::info!("{sound:?} played once read from disk");
                    play(&mut audio.mix(), timing, clip, gain, now.saturating_sub(at));
                }
                None => self.waiting.push((sound, at, gain)),
            }
        }
    }

    /// Puts a cue in waiting without reading its sound (a test's read that never comes).
    #[cfg(test)]
    pub fn hold(&mut self, sound: Sound, at: Duration, gain: f32) {
        self.waiting.push((sound, at, gain));
    }
}

/// Reads session `id`'s sounds (`only` this one, or all) from `index` on a blocking thread,
/// sending them back on `tx`.
fn read_beside(index: SoundIndex, id: u64, only: Option<Sound>, tx: mpsc::UnboundedSender<Loaded>) {
    tokio::task::spawn_blocking(move || {
        let sounds = crate::daemon::caught::caught("reading the session's sounds", || match only {
            Some(s) => index.load([s]),
            None => index.load_all(),
        });
        let _ = tx.send(Loaded { id, sounds });
    });
}
