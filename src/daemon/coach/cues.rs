//! A cue handed to the mix at its time, and how late cues were: the measure of a coach that
//! never blocks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::clip::{Clip, to_samples};
use crate::output::Mix;

/// Lateness up to which a sound is started part-way in, to stay on the plan's time.
const CATCH_UP: Duration = Duration::from_millis(50);

/// How late a cue may be handed to the mix before the log says so.
const LATE_WARNING: Duration = Duration::from_millis(20);

/// How late cues were handed to the mix, readable while the coach runs.
#[derive(Debug, Default)]
pub struct CueTiming {
    /// Cues played.
    pub played: AtomicU64,
    /// The latest any cue was, microseconds.
    pub worst_us: AtomicU64,
}

impl CueTiming {
    fn record(&self, late: Duration) {
        self.played.fetch_add(1, Relaxed);
        self.worst_us.fetch_max(late.as_micros() as u64, Relaxed);
        if late > LATE_WARNING {
            log::warn!("a cue was played {} ms late", late.as_millis());
        }
    }
}

/// Plays a cue `late` after its time: started that far in when only a little late (so it stays
/// on the plan's time), else whole.
pub(super) fn play(m: &mut Mix, timing: &CueTiming, clip: Clip, gain: f32, late: Duration) {
    timing.record(late);
    let skip = if late <= CATCH_UP {
        to_samples(late) as usize
    } else {
        0
    };
    m.play(clip, gain, skip);
}
