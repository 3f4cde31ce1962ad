//! The daemon's scheduler: the one owner of the feed log, schedules and feed plan on disk, and
//! of the time zone they are planned in.
//!
//! It answers schedule requests and says what has come due as [`Action`]s; it never starts a
//! session or plays a sound itself (the coach does).
//!
//! A change is applied in memory and handed to the store's thread ([`Writer`]); the request
//! that made it is answered, and a scheduled session it recorded is started, only once the
//! change is on disk. If writing fails, the state goes back to what the disk holds and the
//! caller gets `StorageFailed`. One change is in flight at a time: the coach holds further
//! schedule requests until it is written ([`Scheduler::writing`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;

use super::error::CoachError;
use super::request::{Answer, ScheduleRequest, UpcomingRow};
use super::writer::{WriteResult, WriteResults};
use super::zone::{ZoneWatch, zone_file};
use crate::config::Config;
use crate::schedule::store::Store;
use crate::schedule::{FeedPlan, Occurrence, Planner, State};
use coming_due::HeadsUpsGiven;
use ledger::Ledger;
use sync::BabyBuddySync;

mod coming_due;
mod day;
mod ledger;
mod plans;
mod records;
mod requests;
mod running_feed;
mod send_job;
mod sync;
mod sync_link;
mod sync_results;
mod sync_status;
#[cfg(test)]
mod tests;

pub use requests::routine_or;

/// The wall clock the scheduler reads: the system's, or one a test sets and jumps (a suspend,
/// a DST day). Time comes in from outside, as in the engine.
pub type WallClock = std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> WallClock {
    std::sync::Arc::new(Timestamp::now)
}

/// Feeds, schedules, the feed plan and the zone they are planned in.
pub struct Scheduler {
    /// The state and its writes.
    ledger: Ledger,
    tz: TimeZone,
    zone_watch: ZoneWatch,
    /// Heads-ups already given.
    announced: HeadsUpsGiven,
    /// The config's feed plan, used until one is set over D-Bus.
    config_plan: Option<FeedPlan>,
    grace: Duration,
    heads_up: Option<Duration>,
    /// What "now" is.
    clock: WallClock,
    /// The Baby Buddy server feeds sync with, if one is configured.
    sync: BabyBuddySync,
}

impl Scheduler {
    /// Loads the state from the store in `data_dir` (a broken file is moved aside and said so
    /// in the log) and starts the store's thread.
    pub fn new(cfg: &Config, data_dir: &std::path::Path) -> (Self, WriteResults) {
        let (store, loaded) = Store::open(data_dir);
        for w in &loaded.warnings {
            log::warn!("{w}");
        }
        Self::with_store(cfg, store, loaded.state)
    }

    /// A scheduler over an open `store` holding `state`, on the system's clock and zone.
    pub fn with_store(cfg: &Config, store: Store, state: State) -> (Self, WriteResults) {
        Self::with_clock(cfg, store, state, system_clock(), TimeZone::system())
    }

    /// A scheduler over an open `store` holding `state`, reading `clock` and planning in `tz`.
    pub fn with_clock(
        cfg: &Config,
        store: Store,
        state: State,
        clock: WallClock,
        tz: TimeZone,
    ) -> (Self, WriteResults) {
        let (ledger, results) = Ledger::new(store, state);
        let mut scheduler = Self {
            ledger,
            tz,
            zone_watch: ZoneWatch::new(&zone_file()),
            announced: HeadsUpsGiven::default(),
            config_plan: cfg.feed_plan.clone(),
            grace: cfg.grace,
            heads_up: cfg.heads_up,
            clock,
            sync: BabyBuddySync::new(),
        };
        scheduler.sync.configure(cfg.babybuddy.as_ref());
        (scheduler, results)
    }

    /// Takes the scheduling settings of a (re)loaded config.
    pub fn configure(&mut self, cfg: &Config) {
        self.config_plan = cfg.feed_plan.clone();
        self.grace = cfg.grace;
        self.heads_up = cfg.heads_up;
        self.sync.configure(cfg.babybuddy.as_ref());
        self.pump_sync();
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
        if self.state().plan_since > 0 {
            self.state().plan.as_ref()
        } else {
            self.config_plan.as_ref()
        }
    }

    /// Now, by the scheduler's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn planner(&self) -> Planner<'_> {
        Planner {
            state: self.ledger.state(),
            plan: self.feed_plan(),
            tz: &self.tz,
        }
    }

    /// Whether any session is planned from now on (a schedule or the feed plan's next).
    pub fn has_sessions_ahead(&self) -> bool {
        !self.planner().upcoming(self.now()).is_empty()
    }

    /// When the wall-clock timer should next wake the coach.
    pub fn next_wake(&self) -> Option<Timestamp> {
        let wake = self.planner().next_wake(self.now(), self.heads_up);
        let wake = match self.ledger.retry_at() {
            Some(r) => wake.map(|w| w.max(r)),
            None => wake,
        };
        match (wake, self.sync.wake(self.ledger.state(), self.now())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next session that will start, if any.
    pub fn next_occurrence(&self) -> Option<Occurrence> {
        self.planner().pending(self.now()).into_iter().next()
    }

    /// The routines that schedules and the feed plan will start in the next days.
    pub fn routines_ahead(&self, default_routine: &str) -> BTreeSet<String> {
        self.planner()
            .upcoming(self.now())
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

    /// The state as it is in memory.
    fn state(&self) -> &State {
        self.ledger.state()
    }

    /// Answers `answer` now, or, if the request changed the state, once the change is written.
    fn answer<T: Send + Sync + 'static>(
        &mut self,
        answer: Answer<T>,
        result: Result<T, CoachError>,
    ) {
        self.ledger.answer(answer, result)
    }

    /// Sends the staged change to disk. True if there was one (the state changed).
    fn flush(&mut self) -> bool {
        self.ledger.flush()
    }

    /// Whether a change is being written: further requests and checks wait for it.
    pub fn writing(&self) -> bool {
        self.ledger.writing()
    }

    /// A write finished: answers the request that made it and returns the scheduled sessions
    /// it recorded, to start now. If it failed, the state goes back to what the disk holds.
    pub fn written(&mut self, result: WriteResult) -> Vec<Occurrence> {
        let now = self.now();
        let run = self.ledger.written(result, now);
        self.pump_sync();
        run
    }

    /// What has come due. Missed sessions are recorded (and kept to be told); a session due
    /// while `busy` (one is running or starting) waits, and runs when it ends if still within
    /// the grace period; one to run is recorded before it is returned, so it never runs twice,
    /// even after a crash. A heads-up is given once per session.
    ///
    /// A session to run is returned by [`Scheduler::written`], once its record is on disk.
    pub fn due(&mut self, busy: bool) -> Option<u32> {
        let now = self.now();
        if self.ledger.holding(now) {
            return None;
        }
        let due = self.planner().due(now, self.grace);
        coming_due::record(&mut self.ledger, due, busy, &self.tz, now);
        self.end_overdue_feed();
        if !self.flush() {
            self.pump_sync();
        }
        let lead = self.heads_up.filter(|_| !busy)?;
        let upcoming = self.planner().upcoming(now);
        self.announced.next(upcoming, lead, now)
    }

    /// The zone times are planned and said in.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// The feed plan's quiet-hours action, if it is quiet hours now.
    pub fn quiet_now(&self) -> Option<crate::schedule::QuietAction> {
        let q = self.feed_plan()?.quiet.as_ref()?;
        let local = self.now().to_zoned_datetime(self.tz.clone()).time();
        q.contains(local).then_some(q.action)
    }

    /// The `Summary` map: where the day stands, and the Baby Buddy sync's `sync_*` keys.
    pub fn summary_map(&self) -> std::collections::HashMap<String, String> {
        let (sync, trouble) = self.sync_summary();
        let mut m = self.day(trouble).to_map();
        m.extend(sync);
        m
    }

    /// Where the day stands, for `where` and the answers to key presses.
    pub fn summary(&self) -> crate::feedback::DaySummary {
        self.day(self.sync_summary().1)
    }

    /// [`Scheduler::summary`], with what is wrong with the sync already worked out.
    fn day(&self, trouble: Option<String>) -> crate::feedback::DaySummary {
        day::summary(&self.planner(), self.now(), trouble)
    }

    /// Takes the missed sessions not yet told (the change is written like any other); empty
    /// while a change is being written.
    pub fn take_untold(&mut self) -> Vec<String> {
        if self.writing() {
            return Vec::new();
        }
        let notices = self.plans().take_notices();
        self.flush();
        notices
    }

    /// The reason an occurrence fires, as people read it.
    pub fn reason(&self, o: &Occurrence) -> String {
        o.reason(&self.tz)
    }

    // The Baby Buddy sync's glue: the link is its own owner; these hand it the ledger and now.

    /// The results of the Baby Buddy worker, for the coach's loop (taken once).
    pub fn sync_results(&mut self) -> Option<mpsc::UnboundedReceiver<super::babybuddy::Synced>> {
        self.sync.results()
    }

    /// Whether a Baby Buddy server is configured.
    pub fn syncing(&self) -> bool {
        self.sync.connected()
    }

    /// Gives the Baby Buddy worker its next job, when the state is on disk.
    fn pump_sync(&mut self) {
        let now = self.now();
        self.sync.pump(&self.ledger, now)
    }

    /// Reads feedings again if the last read is stale (a key press that depends on them); the
    /// answer does not wait for it.
    pub fn refresh_if_stale(&mut self) {
        let now = self.now();
        if self.sync.ask_read_if_stale(self.ledger.state(), now) {
            self.pump_sync();
        }
    }

    /// `letdown babybuddy sync`, answered when its read is done.
    fn sync_now(&mut self, answer: Answer<()>) {
        let now = self.now();
        self.sync.sync_now(&mut self.ledger, now, answer)
    }

    /// What the Baby Buddy worker did, written.
    pub fn synced(&mut self, done: super::babybuddy::Synced) {
        let now = self.now();
        self.sync.synced(done, &mut self.ledger, now, &self.tz);
        self.flush();
    }

    /// Ends a feed that ran past `max_feed`, and queues it to be sent.
    fn end_overdue_feed(&mut self) {
        let now = self.now();
        let max = self.sync.max_feed();
        if let Some(id) = running_feed::end_overdue(&mut self.ledger, max, now) {
            let feed = crate::schedule::sync::Record::Feed;
            self.sync
                .queue(&mut self.ledger, now, feed, id, None, false)
        }
    }

    /// The `sync_*` keys of `Summary`, and what `where` says when something is wrong.
    fn sync_summary(&self) -> (BTreeMap<String, String>, Option<String>) {
        self.sync.summary(self.ledger.state(), self.now(), &self.tz)
    }
}
