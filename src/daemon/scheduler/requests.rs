//! Schedule requests, routed: what is read is answered now, what is changed is answered once it
//! is on disk. Feeds and pumpings are [`Records`]'; schedules, the feed plan and notices are
//! [`Plans`']; the Baby Buddy link's sync is its own.

use super::plans::Plans;
use super::records::{self, Records};
use super::*;

impl Scheduler {
    /// Answers a schedule request (call it only when not [`Scheduler::writing`]).
    /// `routine_exists` checks a routine named by a new schedule; `lead_warning` says what is
    /// wrong with a new feed plan's lead, if anything; `default_routine` names what "" starts.
    /// Returns whether the state changed (so the coach prepares what is now ahead and
    /// publishes); a request that changed it is answered once the change is on disk.
    pub fn handle(
        &mut self,
        request: ScheduleRequest,
        routine_exists: impl Fn(&str) -> Result<(), CoachError>,
        lead_warning: impl Fn(&FeedPlan) -> Option<String>,
        default_routine: &str,
    ) -> bool {
        debug_assert!(!self.writing(), "a request while a change is being written");
        use ScheduleRequest as R;
        match request {
            R::LogFeed {
                start,
                end,
                side,
                note,
                answer,
            } => {
                self.refresh_if_stale();
                let r = self.records().log_feed(start, end, &side, &note);
                self.answer(answer, r)
            }
            R::LogPumping {
                start,
                end,
                amount_ml,
                side,
                note,
                answer,
            } => {
                let r = self
                    .records()
                    .log_pumping(start, end, amount_ml, &side, &note);
                self.answer(answer, r)
            }
            R::ListPumpings(limit, answer) => {
                let rows = records::list_pumpings(self.state(), limit);
                self.answer(answer, Ok(rows))
            }
            R::DeletePumping(id, answer) => {
                let r = self.records().delete_pumping(id);
                self.answer(answer, r)
            }
            R::EndFeed(answer) => {
                let r = self.records().end_feed();
                self.answer(answer, r)
            }
            R::SyncBabyBuddy(answer) => self.sync_now(answer),
            R::CorrectFeed {
                id,
                start,
                side,
                answer,
            } => {
                let r = self.records().correct_feed(id, start, &side);
                self.answer(answer, r)
            }
            R::DeleteFeed(id, answer) => {
                let r = self.records().delete_feed(id);
                self.answer(answer, r)
            }
            R::ListFeeds(limit, answer) => {
                let rows = records::list_feeds(self.state(), limit);
                self.answer(answer, Ok(rows))
            }
            R::SetFeedPlan(map, answer) => {
                let r = self.plans().set_feed_plan(&map).map(|()| {
                    let warning = self.feed_plan().and_then(&lead_warning);
                    warning.into_iter().collect()
                });
                self.answer(answer, r)
            }
            R::Add {
                when,
                routine,
                answer,
            } => {
                let r = self.plans().add(&when, &routine, routine_exists);
                self.answer(answer, r)
            }
            R::Cancel(id, answer) => {
                let r = self.plans().cancel(&id);
                self.answer(answer, r)
            }
            R::Snooze(secs, answer) => {
                let next = self.next_occurrence();
                let r = self.plans().snooze(next, secs);
                self.answer(answer, r)
            }
            R::Skip(answer) => {
                let next = self.next_occurrence();
                let r = self.plans().skip(next);
                self.answer(answer, r)
            }
            R::Upcoming(answer) => self.answer(answer, Ok(self.upcoming(default_routine))),
            R::TakeNotices(answer) => {
                // Held through quiet hours: told at the first key press after them.
                let r = match self.quiet_now() {
                    Some(_) => Vec::new(),
                    None => self.plans().take_notices(),
                };
                self.answer(answer, Ok(r))
            }
        }
        let changed = self.flush();
        if !changed {
            self.pump_sync();
        }
        changed
    }

    /// Feeds and pumpings, lent the ledger, the Baby Buddy link and now.
    fn records(&mut self) -> Records<'_> {
        let now = self.now();
        Records {
            ledger: &mut self.ledger,
            sync: &self.sync,
            now,
        }
    }

    /// Schedules, the feed plan and notices, lent the ledger, the zone and now.
    pub(super) fn plans(&mut self) -> Plans<'_> {
        let now = self.now();
        Plans {
            ledger: &mut self.ledger,
            tz: &self.tz,
            now,
        }
    }

    /// What will fire, soonest first, as `Upcoming` lists it.
    fn upcoming(&self, default_routine: &str) -> Vec<UpcomingRow> {
        let upcoming = self.planner().upcoming(self.now());
        let row = |o: Occurrence| {
            let routine = routine_or(&o.routine, default_routine);
            (o.id(), o.at.as_second(), o.reason(&self.tz), routine)
        };
        upcoming.into_iter().map(row).collect()
    }
}

/// A schedule's routine, or the default one for "".
pub fn routine_or(routine: &str, default_routine: &str) -> String {
    if routine.is_empty() {
        default_routine.to_string()
    } else {
        routine.to_string()
    }
}
