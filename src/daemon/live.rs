//! A session being played: the engine walking a prepared routine, and the sounds read into
//! memory for it.

use std::sync::Arc;
use std::time::Duration;

use crate::clip::Clip;
use crate::engine::{Session, State, Status};
use crate::phrase::Phrase;
use crate::plan::Sound;
use crate::prepare::{Ready, Sounds};

/// The session on air.
pub struct Live {
    /// Which session this is (to match background loads and late phrases to it).
    pub id: u64,
    /// The prepared routine.
    pub ready: Arc<Ready>,
    /// The engine.
    pub session: Session,
    /// The sounds read into memory so far: the first step's at start, the rest soon after.
    pub sounds: Sounds,
}

/// What "where am I" says and plays.
pub struct WhereAmI {
    /// The sentence, for the caller.
    pub text: String,
    /// The phrases to play, read into memory.
    pub clips: Vec<Clip>,
    /// Phrases the routine did not prepare (a step extended past the phrase bank): to be
    /// synthesized and played after `clips`.
    pub missing: Vec<String>,
}

impl Live {
    /// The sound `sound`, from memory, else read now (if the background load has not brought
    /// it yet). Call it before locking the mix.
    pub fn clip(&mut self, sound: Sound) -> Option<Clip> {
        if let Some(c) = self.sounds.get(sound) {
            return Some(c.clone());
        }
        match self.ready.sounds.source(sound)?.load() {
            Ok(c) => {
                log::debug!("read {sound:?} on demand");
                self.sounds.insert(sound, c.clone());
                Some(c)
            }
            Err(e) => {
                log::error!("cannot play {sound:?}: {e}");
                None
            }
        }
    }

    /// "Step 3 of 13, Upper chest: 40 seconds left", with the phrases that say it.
    pub fn where_am_i(&mut self, now: Duration) -> WhereAmI {
        let st: Status = self.session.status(now);
        let index = st.step.unwrap_or(0);
        let total = self.ready.plan.steps.len();
        let title = self.ready.plan.steps[index].title.clone();
        let paused = if st.state == State::Paused {
            ", paused"
        } else {
            ""
        };
        let (text, time) = if st.open {
            // A step that lasts until `next`: how long it has lasted, in whole minutes (the
            // reminders' phrases), or seconds in its first minute.
            let step = &self.ready.plan.steps[index];
            let so_far = st
                .step_elapsed
                .saturating_sub(step.hands_on_start)
                .as_secs() as u32;
            let said = if so_far >= 60 {
                so_far / 60 * 60
            } else {
                (so_far / 5 * 5).max(5)
            };
            (
                format!(
                    "Step {} of {total}, {title}: {} so far{paused}.",
                    index + 1,
                    crate::phrase::spoken_duration(said)
                ),
                Phrase::Elapsed(said),
            )
        } else {
            let left = st.hands_on_remaining.as_secs() as u32;
            // Round to the phrase bank's 5-second steps.
            let rounded = (left.div_ceil(5) * 5).max(5);
            (
                format!(
                    "Step {} of {total}, {title}: {} left{paused}.",
                    index + 1,
                    crate::phrase::spoken_duration(left)
                ),
                Phrase::TimeLeft(rounded),
            )
        };
        let sounds = [
            Sound::Phrase(Phrase::StepOf(index as u32 + 1, total as u32)),
            Sound::Phrase(time),
        ];
        let missing = sounds
            .iter()
            .filter(|&&s| self.ready.sounds.source(s).is_none())
            .filter_map(|s| match s {
                Sound::Phrase(p) => Some(p.text()),
                _ => None,
            })
            .collect();
        let clips = sounds.iter().filter_map(|&s| self.clip(s)).collect();
        WhereAmI {
            text,
            clips,
            missing,
        }
    }
}
