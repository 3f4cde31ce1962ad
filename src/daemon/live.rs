//! A session being played: the engine walking a prepared routine, and the sounds read into
//! memory for it.

use std::sync::Arc;
use std::time::Duration;

use crate::clip::Clip;
use crate::daemon::snapshot::{Phase, Snapshot};
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
    /// The phrases to play, from memory.
    pub clips: Vec<Clip>,
    /// What to say instead when a phrase is not in memory (a step extended past the phrase
    /// bank, or the session's sounds not read yet): its words, to be synthesized (or read from
    /// the speech cache) beside the coach and said in one go, so nothing is said out of order.
    pub missing: Option<String>,
}

impl Live {
    /// The sound `sound`, if it is in memory (the first step's sounds are from the start, the
    /// rest once read beside the coach).
    pub fn clip(&self, sound: Sound) -> Option<Clip> {
        self.sounds.get(sound).cloned()
    }

    /// "Step 3 of 13, Upper chest: 40 seconds left", with the phrases that say it.
    pub fn where_am_i(&self, now: Duration) -> WhereAmI {
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
        // All from memory, or all said as words (in order) when one is not there.
        let from_memory: Option<Vec<Clip>> = sounds.iter().map(|&s| self.clip(s)).collect();
        let missing = from_memory.is_none().then(|| {
            sounds
                .iter()
                .filter_map(|s| match s {
                    Sound::Phrase(p) => Some(p.text()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" ")
        });
        let clips = from_memory.unwrap_or_default();
        WhereAmI {
            text,
            clips,
            missing,
        }
    }

    /// What the `State` and step properties show at `now`, at `volume`.
    pub fn snapshot(&self, now: Duration, volume: f64) -> Snapshot {
        let (l, st) = (self, self.session.status(now));
        let i = st.step.unwrap_or(0);
        Snapshot {
            state: if st.state == State::Paused {
                Phase::Paused
            } else {
                Phase::Running
            },
            routine: l.ready.routine.name.clone(),
            routine_title: l.ready.routine.title.clone(),
            step_index: i as u32,
            step_count: l.ready.plan.steps.len() as u32,
            step_title: l.ready.plan.steps[i].title.clone(),
            // The step as it now stands: extensions and repeats included.
            step_length: st.step_elapsed + st.step_remaining,
            remaining: st.step_remaining,
            anchor: std::time::Instant::now(),
            open: st.open,
            elapsed: st.step_elapsed,
            ..Snapshot::idle(volume)
        }
    }
}
