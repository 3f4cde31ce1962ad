//! Phrases said one after another (answers, "where am I"): each waits for the ones still being
//! said and follows them a breath later, so two quick key presses are heard as two sentences,
//! not one over the other.

use std::time::Duration;

use tokio::time::Instant;

use crate::clip::{Clip, to_samples};

/// The breath between two phrases said one after the other.
pub const BREATH: Duration = Duration::from_millis(250);

/// When the phrases said so far end.
#[derive(Debug)]
pub struct Phrases {
    end: Instant,
}

impl Phrases {
    /// No phrase being said at `now`.
    pub fn new(now: Instant) -> Self {
        Self { end: now }
    }

    /// `clips` laid out to be said at `now`, one after the other, a breath apart, after the
    /// phrases still being said: each is padded with the silence before it.
    pub fn lay_out(&mut self, clips: Vec<Clip>, now: Instant) -> Vec<Clip> {
        let mut at = self.end.saturating_duration_since(now);
        let laid = clips
            .into_iter()
            .map(|clip| {
                let mut padded = vec![0.0; to_samples(at) as usize];
                padded.extend_from_slice(clip.samples());
                at += clip.duration() + BREATH;
                Clip::new(padded)
            })
            .collect();
        self.end = now + at;
        laid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second() -> Clip {
        Clip::new(vec![0.5; to_samples(Duration::from_secs(1)) as usize])
    }

    #[test]
    fn a_phrase_follows_the_one_still_being_said_a_breath_later() {
        let t0 = Instant::now();
        let mut p = Phrases::new(t0);
        let first = p.lay_out(vec![second(), second()], t0);
        assert_eq!(first[0].duration(), Duration::from_secs(1), "at once");
        assert_eq!(first[1].duration(), Duration::from_secs(2) + BREATH);
        // Half a second later, the second phrase still has 0.5 s + a breath + 1 s to go.
        let half = t0 + Duration::from_millis(500);
        let next = p.lay_out(vec![second()], half);
        let wait = Duration::from_millis(1500) + BREATH * 2;
        assert_eq!(next[0].duration(), wait + Duration::from_secs(1));
    }

    #[test]
    fn after_a_quiet_moment_a_phrase_is_said_at_once() {
        let t0 = Instant::now();
        let mut p = Phrases::new(t0);
        p.lay_out(vec![second()], t0);
        let later = t0 + Duration::from_secs(5);
        let next = p.lay_out(vec![second()], later);
        assert_eq!(next[0].duration(), Duration::from_secs(1));
    }
}
