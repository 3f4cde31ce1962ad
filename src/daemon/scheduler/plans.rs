//! What is planned: schedules ("at 16:40", "daily 06:30"), the feed plan, snoozing or skipping
//! the next session, and the notices of missed sessions, each checked and applied to the state
//! through the ledger.
//!
//! [`Plans`] is lent the ledger, the zone and the time for one request.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::ledger::Ledger;
use crate::daemon::error::CoachError;
use crate::schedule::{FeedPlan, MAX_SCHEDULES, Occurrence, Outcome, parse_when};

/// The longest snooze, seconds (a day).
const MAX_SNOOZE: u32 = 86_400;

/// The parts a schedule request touches, lent for one call.
pub(super) struct Plans<'a> {
    /// The state, and its one change in flight.
    pub ledger: &'a mut Ledger,
    /// The zone times of day are said in.
    pub tz: &'a TimeZone,
    /// Now, by the scheduler's clock.
    pub now: Timestamp,
}

impl Plans<'_> {
    /// Adds a schedule for `routine` ("" = the default), checked by `routine_exists`; returns
    /// its id.
    pub fn add(
        &mut self,
        when: &str,
        routine: &str,
        routine_exists: impl Fn(&str) -> Result<(), CoachError>,
    ) -> Result<u64, CoachError> {
        let now = self.now;
        let rule = parse_when(when, now, self.tz).map_err(CoachError::InvalidArgument)?;
        if !routine.is_empty() {
            routine_exists(routine)?;
        }
        if self.ledger.state().schedules.len() >= MAX_SCHEDULES {
            return Err(CoachError::InvalidArgument(format!(
                "there are already {MAX_SCHEDULES} schedules, the most kept; cancel some first (`letdown upcoming` lists them)"
            )));
        }
        Ok(self
            .ledger
            .change(now, |s| s.add_schedule(now, rule, routine)))
    }

    /// Cancels schedule `id`, or the feed plan with "plan".
    pub fn cancel(&mut self, id: &str) -> Result<(), CoachError> {
        let now = self.now;
        if id == "plan" {
            self.ledger.change(now, |s| s.set_plan(now, None));
            return Ok(());
        }
        let n: u64 = id.parse().map_err(|_| {
            CoachError::InvalidArgument(format!("\"{id}\" is not an id; see `letdown upcoming`"))
        })?;
        if !self.ledger.state().schedules.iter().any(|s| s.id == n) {
            return Err(CoachError::NotFound(format!(
                "no schedule with id {n}; see `letdown upcoming`"
            )));
        }
        self.ledger.change(now, |s| s.cancel(n));
        Ok(())
    }

    /// Sets the feed plan from its map (an empty map clears it).
    pub fn set_feed_plan(&mut self, map: &HashMap<String, String>) -> Result<(), CoachError> {
        let plan = if map.is_empty() {
            None
        } else {
            Some(FeedPlan::from_map(map).map_err(CoachError::InvalidArgument)?)
        };
        let now = self.now;
        self.ledger.change(now, |s| s.set_plan(now, plan));
        Ok(())
    }

    /// Moves the `next` session later by `secs`.
    pub fn snooze(&mut self, next: Option<Occurrence>, secs: u32) -> Result<(), CoachError> {
        if secs == 0 || secs > MAX_SNOOZE {
            return Err(CoachError::InvalidArgument(format!(
                "cannot snooze by {secs} seconds; give 1 second to 1 day"
            )));
        }
        let (now, next) = (self.now, next.ok_or_else(nothing_scheduled)?);
        let by = Duration::from_secs(secs as u64);
        self.ledger.change(now, |s| s.snooze(&next, now, by));
        Ok(())
    }

    /// Skips the `next` session.
    pub fn skip(&mut self, next: Option<Occurrence>) -> Result<(), CoachError> {
        let next = next.ok_or_else(nothing_scheduled)?;
        self.ledger
            .change(self.now, |s| s.mark(&next, Outcome::Skipped));
        Ok(())
    }

    /// The missed sessions and Baby Buddy refusals not yet told, cleared (a change, when
    /// there are any).
    pub fn take_notices(&mut self) -> Vec<String> {
        let state = self.ledger.state();
        if state.missed_untold.is_empty() && state.babybuddy.untold.is_empty() {
            return Vec::new();
        }
        self.ledger.change(self.now, |s| {
            let mut all = std::mem::take(&mut s.missed_untold);
            all.append(&mut s.babybuddy.untold);
            all
        })
    }
}

fn nothing_scheduled() -> CoachError {
    CoachError::NotFound("nothing is scheduled".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schedule is added, snoozed within bounds and cancelled by its id; a bad id or a bad
    /// snooze is refused and changes nothing.
    #[tokio::test]
    async fn schedules_are_added_and_cancelled_by_id_and_bad_ones_refused() {
        let (_dir, mut ledger, _results) = super::super::ledger::tests::ledger();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut p = Plans {
            ledger: &mut ledger,
            tz: &TimeZone::UTC,
            now,
        };
        let id = p.add("in 25m", "", |_| Ok(())).unwrap();
        let unknown = |_: &str| Err(CoachError::UnknownRoutine("nonesuch".into()));
        assert!(matches!(
            p.add("in 25m", "nonesuch", unknown),
            Err(CoachError::UnknownRoutine(_))
        ));
        assert!(matches!(
            p.add("whenever", "", |_| Ok(())),
            Err(CoachError::InvalidArgument(_))
        ));
        for bad in [0, MAX_SNOOZE + 1] {
            let err = p.snooze(None, bad).unwrap_err();
            assert!(err.to_string().contains("1 second to 1 day"), "{err}");
        }
        assert!(matches!(p.skip(None), Err(CoachError::NotFound(_))));
        assert!(matches!(p.cancel("x"), Err(CoachError::InvalidArgument(_))));
        assert!(matches!(
            p.cancel(&(id + 1).to_string()),
            Err(CoachError::NotFound(_))
        ));
        assert_eq!(
            p.ledger.state().schedules.len(),
            1,
            "a refusal changed the schedules"
        );
        p.cancel(&id.to_string()).unwrap();
        assert!(p.ledger.state().schedules.is_empty(), "not cancelled");
    }
}
