//! Watching the output during a session: checked every second, however busy the coach is;
//! reopened when it broke (the sound server went away); given up on when it stays broken, so
//! the session is reported interrupted instead of playing to nothing.
//!
//! Time comes in from outside (`now`), so the give-up rule is tested without waiting.

use std::time::Duration;

use tokio::time::Instant;

/// How often the output's health is checked during a session.
const HEALTH_CHECK: Duration = Duration::from_secs(1);
/// How long an output may stay broken before the session is reported interrupted.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// What a health check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Health {
    /// Playing.
    Fine,
    /// Broken: open it again.
    Reopen,
    /// Broken for too long.
    GiveUp,
}

/// When the output is checked next, and since when it has been broken.
#[derive(Debug, Default)]
pub struct HealthWatch {
    broken_since: Option<Instant>,
    next: Option<Instant>,
}

impl HealthWatch {
    /// When the output is to be checked next: every [`HEALTH_CHECK`] while a session is
    /// `live`, never otherwise.
    pub fn due(&mut self, live: bool, now: Instant) -> Option<Instant> {
        if !live {
            self.next = None;
            return None;
        }
        Some(*self.next.get_or_insert(now + HEALTH_CHECK))
    }

    /// A check at `now` of an output that is `playing` (open and not failed), or broken;
    /// `description` names it in the log.
    pub fn check(&mut self, playing: bool, description: &str, now: Instant) -> Health {
        self.next = None;
        if playing {
            self.broken_since = None;
            return Health::Fine;
        }
        let since = *self.broken_since.get_or_insert_with(|| {
            log::warn!("lost {description}; trying to reopen it");
            now
        });
        if now.duration_since(since) > GIVE_UP_AFTER {
            log::error!("giving up on the sound output; the session is interrupted");
            Health::GiveUp
        } else {
            Health::Reopen
        }
    }

    /// The output opened: true if it had been broken (it was *re*opened).
    pub fn opened(&mut self) -> bool {
        self.broken_since.take().is_some()
    }

    /// A check is being made now (the output is being opened): the next one is a
    /// [`HEALTH_CHECK`] away.
    pub fn skip(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_come_every_second_only_during_a_session() {
        let (mut w, t0) = (HealthWatch::default(), Instant::now());
        assert_eq!(w.due(false, t0), None, "idle: no timer");
        assert_eq!(w.due(true, t0), Some(t0 + HEALTH_CHECK));
        // However often the loop asks, the check stays where it was set.
        assert_eq!(w.due(true, t0 + HEALTH_CHECK / 2), Some(t0 + HEALTH_CHECK));
        w.check(true, "out", t0 + HEALTH_CHECK);
        let t1 = t0 + HEALTH_CHECK;
        assert_eq!(w.due(true, t1), Some(t1 + HEALTH_CHECK));
        assert_eq!(w.due(false, t1), None);
    }

    #[test]
    fn a_broken_output_is_reopened_then_given_up_on_after_thirty_seconds() {
        let (mut w, t0) = (HealthWatch::default(), Instant::now());
        assert_eq!(w.check(true, "out", t0), Health::Fine);
        assert_eq!(w.check(false, "out", t0), Health::Reopen);
        assert_eq!(w.check(false, "out", t0 + GIVE_UP_AFTER), Health::Reopen);
        let late = t0 + GIVE_UP_AFTER + Duration::from_millis(1);
        assert_eq!(w.check(false, "out", late), Health::GiveUp);
    }

    #[test]
    fn an_output_that_came_back_starts_the_count_again() {
        let (mut w, t0) = (HealthWatch::default(), Instant::now());
        assert_eq!(w.check(false, "out", t0), Health::Reopen);
        assert_eq!(w.check(true, "out", t0 + GIVE_UP_AFTER), Health::Fine);
        let later = t0 + GIVE_UP_AFTER * 2;
        assert_eq!(w.check(false, "out", later), Health::Reopen, "broken anew");
        assert!(w.opened(), "it was broken: reopened");
        assert!(!w.opened(), "then it is fine");
    }
}
