//! Schedule requests, one function each: what is read is answered now, what is changed is
//! answered once it is on disk.

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
        match request {
            ScheduleRequest::LogFeed {
                start,
                end,
                side,
                note,
                answer,
            } => {
                self.refresh_if_stale();
                let r = self.log_feed(start, end, &side, &note);
                self.answer(answer, r)
            }
            ScheduleRequest::LogPumping {
                start,
                end,
                amount_ml,
                side,
                note,
                answer,
            } => {
                let r = self.log_pumping(start, end, amount_ml, &side, &note);
                self.answer(answer, r)
            }
            ScheduleRequest::ListPumpings(limit, answer) => {
                self.answer(answer, Ok(self.list_pumpings(limit)))
            }
            ScheduleRequest::DeletePumping(id, answer) => {
                let r = self.delete_pumping(id);
                self.answer(answer, r)
            }
            ScheduleRequest::EndFeed(answer) => {
                let r = self.end_feed();
                self.answer(answer, r)
            }
            ScheduleRequest::SyncBabyBuddy(answer) => self.sync_now(answer),
            ScheduleRequest::CorrectFeed {
                id,
                start,
                side,
                answer,
            } => {
                let r = self.correct_feed(id, start, &side);
                self.answer(answer, r)
            }
            ScheduleRequest::DeleteFeed(id, answer) => {
                let r = self.delete_feed(id);
                self.answer(answer, r)
            }
            ScheduleRequest::ListFeeds(limit, answer) => {
                self.answer(answer, Ok(self.list_feeds(limit)))
            }
            ScheduleRequest::SetFeedPlan(map, answer) => {
                let result = self.set_feed_plan(&map).map(|()| {
                    self.feed_plan()
                        .and_then(&lead_warning)
                        .into_iter()
                        .collect()
                });
                self.answer(answer, result)
            }
            ScheduleRequest::Add {
                when,
                routine,
                answer,
            } => {
                let r = self.add(&when, &routine, routine_exists);
                self.answer(answer, r)
            }
            ScheduleRequest::Cancel(id, answer) => {
                let r = self.cancel(&id);
                self.answer(answer, r)
            }
            ScheduleRequest::Snooze(secs, answer) => {
                let r = self.snooze(secs);
                self.answer(answer, r)
            }
            ScheduleRequest::Skip(answer) => {
                let r = self.skip();
                self.answer(answer, r)
            }
            ScheduleRequest::Upcoming(answer) => {
                self.answer(answer, Ok(self.upcoming(default_routine)))
            }
            ScheduleRequest::TakeNotices(answer) => {
                // Held through quiet hours: told at the first key press after them.
                let r = Ok(if self.quiet_now().is_some() {
                    Vec::new()
                } else {
                    self.take_notices()
                });
                self.answer(answer, r)
            }
        }
        let changed = self.flush();
        if !changed {
            self.pump_sync();
        }
        changed
    }

    pub(super) fn log_feed(
        &mut self,
        start: i64,
        end: Option<i64>,
        side: &str,
        note: &str,
    ) -> Result<u64, CoachError> {
        let side = Side::parse(side).map_err(CoachError::InvalidArgument)?;
        if side == Side::Unknown && self.syncing() {
            return Err(CoachError::InvalidArgument(
                "Baby Buddy needs a side for each feeding: log it with --side left, right or both"
                    .into(),
            ));
        }
        let chars = note.chars().count();
        if chars > crate::schedule::MAX_NOTE_CHARS {
            return Err(CoachError::InvalidArgument(format!(
                "a feed's note is at most {} characters; this one has {chars}",
                crate::schedule::MAX_NOTE_CHARS
            )));
        }
        let at = timestamp(start)?;
        let now = self.now();
        if at > now + jiff::SignedDuration::from_secs(300) {
            return Err(CoachError::InvalidArgument(
                "a feed cannot start in the future".into(),
            ));
        }
        let end = match end {
            None => None,
            Some(e) if e <= start => {
                return Err(CoachError::InvalidArgument(
                    "a feed must end after it starts".into(),
                ));
            }
            Some(e) if e - start > MAX_FEED_LENGTH => {
                return Err(CoachError::InvalidArgument(
                    "a feed lasts at most a day (Baby Buddy's limit too)".into(),
                ));
            }
            Some(e) if e > now.as_second() + 300 => {
                return Err(CoachError::InvalidArgument(
                    "a feed cannot end in the future; log it when it ends, or start it now and end it with `letdown fed --end`".into(),
                ));
            }
            Some(e) => Some(timestamp(e)?),
        };
        // A feed that runs ends when the next one starts (one feed runs at a time).
        if let Some((running, running_at)) = self.running_feed()
            && running_at <= start
        {
            let limit = self.sync.max_feed().map(|d| d.as_secs() as i64);
            let ends = limit.map_or(start, |l| start.min(running_at + l));
            self.change(|s| {
                if let Some(f) = s.feeds.iter_mut().find(|f| f.id == running) {
                    f.end = Some(ends);
                }
            });
            self.queue_feed(running, None, false);
        }
        let id = self.change(|s| {
            s.babybuddy.ended_untold.clear();
            s.log_feed(now, at, end, side, note)
        });
        self.queue_feed(id, Some(start), true);
        Ok(id)
    }

    pub(super) fn log_pumping(
        &mut self,
        start: i64,
        end: i64,
        amount_ml: f64,
        side: &str,
        note: &str,
    ) -> Result<u64, CoachError> {
        let side = Side::parse(side).map_err(CoachError::InvalidArgument)?;
        let bad = |m: String| Err(CoachError::InvalidArgument(m));
        if !amount_ml.is_finite() || !crate::schedule::PUMPED_ML.contains(&amount_ml) {
            return bad(format!(
                "a pumping is {} to {} ml; {amount_ml} is not",
                crate::schedule::PUMPED_ML.start(),
                crate::schedule::PUMPED_ML.end()
            ));
        }
        if note.chars().count() > crate::schedule::MAX_NOTE_CHARS {
            return bad(format!(
                "a note is at most {} characters",
                crate::schedule::MAX_NOTE_CHARS
            ));
        }
        timestamp(start)?;
        let now = self.now();
        if end < start {
            return bad("a pumping must end after it starts".into());
        }
        if end - start > MAX_FEED_LENGTH {
            return bad("a pumping lasts at most a day".into());
        }
        if end > now.as_second() + 300 {
            return bad("a pumping cannot end in the future".into());
        }
        let id = self.change(|s| s.log_pumping(now, start, end, amount_ml, side, note));
        self.queue_record(
            crate::schedule::sync::Record::Pumping,
            id,
            Some(start),
            true,
        );
        Ok(id)
    }

    pub(super) fn list_pumpings(&self, limit: u32) -> Vec<crate::daemon::request::PumpingRow> {
        let all = &self.state().pumpings;
        let from = all.len().saturating_sub(if limit == 0 {
            all.len()
        } else {
            limit as usize
        });
        all[from..]
            .iter()
            .map(|p| {
                (
                    p.id,
                    p.start,
                    p.end,
                    p.amount_ml,
                    p.side.name().to_string(),
                    p.note.clone(),
                )
            })
            .collect()
    }

    pub(super) fn delete_pumping(&mut self, id: u64) -> Result<(), CoachError> {
        let Some(old) = self
            .state()
            .pumpings
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.start)
        else {
            return Err(CoachError::NotFound(format!(
                "no pumping with id {id}; see `letdown pumpings`"
            )));
        };
        // Queued first: the change prunes the links of pumpings that are gone, unless queued.
        self.queue_record(crate::schedule::sync::Record::Pumping, id, Some(old), false);
        self.change(|s| s.pumpings.retain(|p| p.id != id));
        Ok(())
    }

    /// Ends the running feed now.
    pub(super) fn end_feed(&mut self) -> Result<(u64, i64, i64), CoachError> {
        let (id, at) = self.running_feed().ok_or_else(|| {
            CoachError::NotFound("no feed is running; `letdown fed --side left` starts one".into())
        })?;
        let now = self.now().as_second().max(at + 1);
        self.change(|s| {
            if let Some(f) = s.feeds.iter_mut().find(|f| f.id == id) {
                f.end = Some(now);
            }
        });
        self.queue_feed(id, None, false);
        Ok((id, at, now))
    }

    pub(super) fn correct_feed(
        &mut self,
        id: u64,
        start: i64,
        side: &str,
    ) -> Result<(), CoachError> {
        let side = if side.is_empty() {
            None
        } else {
            Some(Side::parse(side).map_err(CoachError::InvalidArgument)?)
        };
        let at = timestamp(start)?;
        let Some(old) = self.state().feeds.iter().find(|f| f.id == id).map(|f| f.at) else {
            return Err(no_feed(id));
        };
        self.change(|s| s.correct_feed(id, at, side));
        self.queue_feed(id, Some(old), false);
        Ok(())
    }

    pub(super) fn delete_feed(&mut self, id: u64) -> Result<(), CoachError> {
        let Some(old) = self.state().feeds.iter().find(|f| f.id == id).map(|f| f.at) else {
            return Err(no_feed(id));
        };
        // Queued first: the change prunes the links of feeds that are gone, unless queued.
        self.queue_feed(id, Some(old), false);
        self.change(|s| s.delete_feed(id));
        Ok(())
    }

    pub(super) fn list_feeds(&self, limit: u32) -> Vec<FeedRow> {
        let n = self.state().feeds.len();
        let from = n.saturating_sub(if limit == 0 { n } else { limit as usize });
        self.state().feeds[from..]
            .iter()
            .map(|f| (f.id, f.at, f.side.name().to_string(), f.note.clone()))
            .collect()
    }

    pub(super) fn set_feed_plan(
        &mut self,
        map: &std::collections::HashMap<String, String>,
    ) -> Result<(), CoachError> {
        let plan = if map.is_empty() {
            None
        } else {
            Some(FeedPlan::from_map(map).map_err(CoachError::InvalidArgument)?)
        };
        let now = self.now();
        self.change(|s| s.set_plan(now, plan));
        Ok(())
    }

    pub(super) fn add(
        &mut self,
        when: &str,
        routine: &str,
        routine_exists: impl Fn(&str) -> Result<(), CoachError>,
    ) -> Result<u64, CoachError> {
        let now = self.now();
        let rule = parse_when(when, now, &self.tz).map_err(CoachError::InvalidArgument)?;
        if !routine.is_empty() {
            routine_exists(routine)?;
        }
        if self.state().schedules.len() >= crate::schedule::MAX_SCHEDULES {
            return Err(CoachError::InvalidArgument(format!(
                "there are already {} schedules, the most kept; cancel some first (`letdown upcoming` lists them)",
                crate::schedule::MAX_SCHEDULES
            )));
        }
        Ok(self.change(|s| s.add_schedule(now, rule, routine)))
    }

    pub(super) fn cancel(&mut self, id: &str) -> Result<(), CoachError> {
        if id == "plan" {
            let now = self.now();
            self.change(|s| s.set_plan(now, None));
            return Ok(());
        }
        let n: u64 = id.parse().map_err(|_| {
            CoachError::InvalidArgument(format!("\"{id}\" is not an id; see `letdown upcoming`"))
        })?;
        if !self.state().schedules.iter().any(|s| s.id == n) {
            return Err(CoachError::NotFound(format!(
                "no schedule with id {n}; see `letdown upcoming`"
            )));
        }
        self.change(|s| s.cancel(n));
        Ok(())
    }

    pub(super) fn snooze(&mut self, secs: u32) -> Result<(), CoachError> {
        if secs == 0 || secs > 86_400 {
            return Err(CoachError::InvalidArgument(format!(
                "cannot snooze by {secs} seconds; give 1 second to 1 day"
            )));
        }
        let now = self.now();
        let next = self.next_occurrence().ok_or_else(nothing_scheduled)?;
        self.change(|s| s.snooze(&next, now, Duration::from_secs(secs as u64)));
        Ok(())
    }

    pub(super) fn skip(&mut self) -> Result<(), CoachError> {
        let next = self.next_occurrence().ok_or_else(nothing_scheduled)?;
        self.change(|s| s.mark(&next, Outcome::Skipped));
        Ok(())
    }

    pub(super) fn upcoming(&self, default_routine: &str) -> Vec<UpcomingRow> {
        self.planner()
            .upcoming(self.now())
            .into_iter()
            .map(|o| {
                (
                    o.id(),
                    o.at.as_second(),
                    o.reason(&self.tz),
                    routine_or(&o.routine, default_routine),
                )
            })
            .collect()
    }

    /// The missed sessions and Baby Buddy refusals not yet told, cleared (a change, when
    /// there are any).
    pub(super) fn take_notices(&mut self) -> Vec<String> {
        if self.state().missed_untold.is_empty() && self.state().babybuddy.untold.is_empty() {
            return Vec::new();
        }
        self.change(|s| {
            let mut all = std::mem::take(&mut s.missed_untold);
            all.append(&mut s.babybuddy.untold);
            all
        })
    }
}

/// The longest feed that can be logged, seconds (Baby Buddy refuses longer ones too).
const MAX_FEED_LENGTH: i64 = 86_400;

/// A schedule's routine, or the default one for "".
pub fn routine_or(routine: &str, default_routine: &str) -> String {
    if routine.is_empty() {
        default_routine.to_string()
    } else {
        routine.to_string()
    }
}

pub(super) fn timestamp(at: i64) -> Result<Timestamp, CoachError> {
    Timestamp::from_second(at)
        .map_err(|_| CoachError::InvalidArgument(format!("{at} is not a time")))
}

pub(super) fn no_feed(id: u64) -> CoachError {
    CoachError::NotFound(format!("no feed with id {id}; see `letdown feeds`"))
}

pub(super) fn nothing_scheduled() -> CoachError {
    CoachError::NotFound("nothing is scheduled".into())
}
