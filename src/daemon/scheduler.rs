//! The daemon's scheduler: the one owner of the feed log, schedules and feed plan on disk, and
//! of the time zone they are planned in.
//!
//! It answers schedule requests and says what has come due as [`Action`]s; it never starts a
//! session or plays a sound itself (the coach does). Every change is written to disk first
//! (atomically) and kept only if that worked.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::error::CoachError;
use super::request::{FeedRow, ScheduleRequest, UpcomingRow, reply};
use super::zone::{ZoneWatch, zone_file};
use crate::config::Config;
use crate::schedule::store::Store;
use crate::schedule::{Due, FeedPlan, Occurrence, Outcome, Planner, Side, State, parse_when};

/// What the coach should do about the schedule now.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start this occurrence's routine (already recorded as fired, so never twice).
    Run(Occurrence),
    /// Say that a session starts in this many minutes.
    HeadsUp(u32),
}

/// Feeds, schedules, the feed plan and the zone they are planned in.
pub struct Scheduler {
    store: Store,
    state: State,
    tz: TimeZone,
    zone_watch: ZoneWatch,
    /// Heads-ups already given, by occurrence key.
    announced: HashSet<String>,
    /// The config's feed plan, used until one is set over D-Bus.
    config_plan: Option<FeedPlan>,
    grace: Duration,
    heads_up: Option<Duration>,
    /// Changes written since the last request was handled (see [`Scheduler::handle`]).
    written: bool,
}

impl Scheduler {
    /// Loads the state file (a broken one is moved aside and said so in the log).
    pub fn new(cfg: &Config, state_file: std::path::PathBuf) -> Self {
        let store = Store::new(state_file);
        let loaded = store.load();
        if let Some(w) = &loaded.warning {
            log::error!("{w}");
        }
        Self {
            store,
            state: loaded.state,
            tz: TimeZone::system(),
            zone_watch: ZoneWatch::new(&zone_file()),
            announced: HashSet::new(),
            config_plan: cfg.feed_plan.clone(),
            grace: cfg.grace,
            heads_up: cfg.heads_up,
            written: false,
        }
    }

    /// Takes the scheduling settings of a (re)loaded config.
    pub fn configure(&mut self, cfg: &Config) {
        self.config_plan = cfg.feed_plan.clone();
        self.grace = cfg.grace;
        self.heads_up = cfg.heads_up;
    }

    /// Returns when the system's time zone changed; the scheduler then plans in the new one.
    pub async fn zone_changed(&self) {
        self.zone_watch.changed().await
    }

    /// Reads the system's zone again (after [`Scheduler::zone_changed`]).
    pub fn follow_zone(&mut self) {
        self.tz = TimeZone::system();
        log::info!(
            "the time zone is now {}; planning again",
            self.tz.iana_name().unwrap_or("(unnamed)")
        );
    }

    /// The feed plan in force: the one set over D-Bus, else the config's.
    pub fn feed_plan(&self) -> Option<&FeedPlan> {
        if self.state.plan_since > 0 {
            self.state.plan.as_ref()
        } else {
            self.config_plan.as_ref()
        }
    }

    fn planner(&self) -> Planner<'_> {
        Planner {
            state: &self.state,
            plan: self.feed_plan(),
            tz: &self.tz,
        }
    }

    /// When the wall-clock timer should next wake the coach.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.planner().next_wake(Timestamp::now(), self.heads_up)
    }

    /// The next session that will start, if any.
    pub fn next_occurrence(&self) -> Option<Occurrence> {
        self.planner().pending(Timestamp::now()).into_iter().next()
    }

    /// The routines that schedules and the feed plan will start in the next days.
    pub fn routines_ahead(&self, default_routine: &str) -> BTreeSet<String> {
        self.planner()
            .upcoming(Timestamp::now())
            .into_iter()
            .map(|o| routine_or(&o.routine, default_routine))
            .collect()
    }

    /// When the next session starts (Unix seconds, 0 if none), as the NextSession property.
    pub fn next_session(&self) -> i64 {
        self.next_occurrence().map_or(0, |o| o.at.as_second())
    }

    /// The feed plan as the FeedPlan property shows it.
    pub fn feed_plan_map(&self) -> BTreeMap<String, String> {
        self.feed_plan().map(FeedPlan::to_map).unwrap_or_default()
    }

    /// Applies a change to the saved state: written to disk first, kept only if that worked.
    fn change<T>(&mut self, f: impl FnOnce(&mut State) -> T) -> Result<T, CoachError> {
        let mut next = self.state.clone();
        let out = f(&mut next);
        next.prune(Timestamp::now());
        self.store
            .save(&next)
            .map_err(|e| CoachError::StorageFailed(format!("{e}; nothing was changed")))?;
        self.state = next;
        self.written = true;
        Ok(out)
    }

    /// What has come due. Missed sessions are recorded (and kept to be told); a session due
    /// while `busy` (one is running or starting) waits, and runs when it ends if still within
    /// the grace period; one to run is recorded before it is returned, so it never runs twice,
    /// even after a crash. A heads-up is given once per session.
    pub fn due(&mut self, busy: bool) -> Vec<Action> {
        let now = Timestamp::now();
        let mut actions = Vec::new();
        for d in self.planner().due(now, self.grace) {
            match d {
                Due::Missed(o) => {
                    let text = format!(
                        "the session at {} ({}) was missed: the computer was asleep or off",
                        crate::schedule::local_hm(o.at, &self.tz),
                        o.reason(&self.tz)
                    );
                    log::warn!("{text}");
                    if let Err(e) = self.change(|s| {
                        s.mark(&o, Outcome::Missed);
                        s.missed_untold.push(text);
                    }) {
                        log::error!("{e}");
                    }
                }
                Due::Run(o) if busy => {
                    log::info!("{} is due but a session is running; it waits", o.key)
                }
                Due::Run(o) => match self.change(|s| s.mark(&o, Outcome::Fired)) {
                    Ok(()) => actions.push(Action::Run(o)),
                    Err(e) => {
                        log::error!("cannot record a scheduled session, so it does not run: {e}")
                    }
                },
            }
        }
        if !busy && let Some(minutes) = self.heads_up(now) {
            actions.push(Action::HeadsUp(minutes));
        }
        actions
    }

    fn heads_up(&mut self, now: Timestamp) -> Option<u32> {
        let h = self.heads_up?;
        let o = self.planner().upcoming(now).into_iter().find(|o| {
            o.at.as_second() - now.as_second() <= h.as_secs() as i64
                && !self.announced.contains(&o.key)
        })?;
        self.announced.insert(o.key.clone());
        let minutes = ((o.at.as_second() - now.as_second()) as f64 / 60.0)
            .round()
            .max(1.0) as u32;
        Some(minutes)
    }

    /// The reason an occurrence fires, as people read it.
    pub fn reason(&self, o: &Occurrence) -> String {
        o.reason(&self.tz)
    }

    /// Answers a schedule request. `routine_exists` checks a routine named by a new schedule;
    /// `lead_warning` says what is wrong with a new feed plan's lead, if anything;
    /// `default_routine` names what "" starts. Returns whether the state changed (so the
    /// coach prepares what is now ahead and publishes).
    pub fn handle(
        &mut self,
        request: ScheduleRequest,
        routine_exists: impl Fn(&str) -> Result<(), CoachError>,
        lead_warning: impl Fn(&FeedPlan) -> Option<String>,
        default_routine: &str,
    ) -> bool {
        self.written = false;
        match request {
            ScheduleRequest::LogFeed {
                start,
                side,
                note,
                answer,
            } => reply(answer, self.log_feed(start, &side, &note)),
            ScheduleRequest::CorrectFeed {
                id,
                start,
                side,
                answer,
            } => reply(answer, self.correct_feed(id, start, &side)),
            ScheduleRequest::DeleteFeed(id, answer) => reply(answer, self.delete_feed(id)),
            ScheduleRequest::ListFeeds(limit, answer) => reply(answer, Ok(self.list_feeds(limit))),
            ScheduleRequest::SetFeedPlan(map, answer) => {
                let result = self.set_feed_plan(&map).map(|()| {
                    self.feed_plan()
                        .and_then(&lead_warning)
                        .into_iter()
                        .collect()
                });
                reply(answer, result)
            }
            ScheduleRequest::Add {
                when,
                routine,
                answer,
            } => reply(answer, self.add(&when, &routine, routine_exists)),
            ScheduleRequest::Cancel(id, answer) => reply(answer, self.cancel(&id)),
            ScheduleRequest::Snooze(secs, answer) => reply(answer, self.snooze(secs)),
            ScheduleRequest::Skip(answer) => reply(answer, self.skip()),
            ScheduleRequest::Upcoming(answer) => reply(answer, Ok(self.upcoming(default_routine))),
            ScheduleRequest::TakeNotices(answer) => reply(answer, self.take_notices()),
        }
        self.written
    }

    fn log_feed(&mut self, start: i64, side: &str, note: &str) -> Result<u64, CoachError> {
        let side = Side::parse(side).map_err(CoachError::InvalidArgument)?;
        let at = timestamp(start)?;
        let now = Timestamp::now();
        if at > now + jiff::SignedDuration::from_secs(300) {
            return Err(CoachError::InvalidArgument(
                "a feed cannot start in the future".into(),
            ));
        }
        self.change(|s| s.log_feed(now, at, side, note))
    }

    fn correct_feed(&mut self, id: u64, start: i64, side: &str) -> Result<(), CoachError> {
        let side = if side.is_empty() {
            None
        } else {
            Some(Side::parse(side).map_err(CoachError::InvalidArgument)?)
        };
        let at = timestamp(start)?;
        if !self.change(|s| s.correct_feed(id, at, side))? {
            return Err(no_feed(id));
        }
        Ok(())
    }

    fn delete_feed(&mut self, id: u64) -> Result<(), CoachError> {
        if !self.change(|s| s.delete_feed(id))? {
            return Err(no_feed(id));
        }
        Ok(())
    }

    fn list_feeds(&self, limit: u32) -> Vec<FeedRow> {
        let n = self.state.feeds.len();
        let from = n.saturating_sub(if limit == 0 { n } else { limit as usize });
        self.state.feeds[from..]
            .iter()
            .map(|f| (f.id, f.at, f.side.name().to_string(), f.note.clone()))
            .collect()
    }

    fn set_feed_plan(
        &mut self,
        map: &std::collections::HashMap<String, String>,
    ) -> Result<(), CoachError> {
        let plan = if map.is_empty() {
            None
        } else {
            Some(FeedPlan::from_map(map).map_err(CoachError::InvalidArgument)?)
        };
        let now = Timestamp::now();
        self.change(|s| s.set_plan(now, plan))
    }

    fn add(
        &mut self,
        when: &str,
        routine: &str,
        routine_exists: impl Fn(&str) -> Result<(), CoachError>,
    ) -> Result<u64, CoachError> {
        let now = Timestamp::now();
        let rule = parse_when(when, now, &self.tz).map_err(CoachError::InvalidArgument)?;
        if !routine.is_empty() {
            routine_exists(routine)?;
        }
        self.change(|s| s.add_schedule(now, rule, routine))
    }

    fn cancel(&mut self, id: &str) -> Result<(), CoachError> {
        if id == "plan" {
            let now = Timestamp::now();
            return self.change(|s| s.set_plan(now, None));
        }
        let n: u64 = id.parse().map_err(|_| {
            CoachError::InvalidArgument(format!("\"{id}\" is not an id; see `letdown upcoming`"))
        })?;
        if !self.change(|s| s.cancel(n))? {
            return Err(CoachError::NotFound(format!(
                "no schedule with id {n}; see `letdown upcoming`"
            )));
        }
        Ok(())
    }

    fn snooze(&mut self, secs: u32) -> Result<(), CoachError> {
        if secs == 0 || secs > 86_400 {
            return Err(CoachError::InvalidArgument(format!(
                "cannot snooze by {secs} seconds; give 1 second to 1 day"
            )));
        }
        let now = Timestamp::now();
        let next = self.next_occurrence().ok_or_else(nothing_scheduled)?;
        self.change(|s| s.snooze(&next, now, Duration::from_secs(secs as u64)))
    }

    fn skip(&mut self) -> Result<(), CoachError> {
        let next = self.next_occurrence().ok_or_else(nothing_scheduled)?;
        self.change(|s| s.mark(&next, Outcome::Skipped))
    }

    fn upcoming(&self, default_routine: &str) -> Vec<UpcomingRow> {
        self.planner()
            .upcoming(Timestamp::now())
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

    fn take_notices(&mut self) -> Result<Vec<String>, CoachError> {
        if self.state.missed_untold.is_empty() {
            return Ok(Vec::new());
        }
        let notices = self.state.missed_untold.clone();
        self.change(|s| s.missed_untold.clear())?;
        Ok(notices)
    }
}

/// A schedule's routine, or the default one for "".
fn routine_or(routine: &str, default_routine: &str) -> String {
    if routine.is_empty() {
        default_routine.to_string()
    } else {
        routine.to_string()
    }
}

fn timestamp(at: i64) -> Result<Timestamp, CoachError> {
    Timestamp::from_second(at)
        .map_err(|_| CoachError::InvalidArgument(format!("{at} is not a time")))
}

fn no_feed(id: u64) -> CoachError {
    CoachError::NotFound(format!("no feed with id {id}; see `letdown feeds`"))
}

fn nothing_scheduled() -> CoachError {
    CoachError::NotFound("nothing is scheduled".into())
}
