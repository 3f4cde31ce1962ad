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

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;

use super::error::CoachError;
use super::request::{Answer, FeedRow, ScheduleRequest, UpcomingRow, reply};
use super::writer::{WriteResult, WriteResults, Writer};
use super::zone::{ZoneWatch, zone_file};
use crate::config::Config;
use crate::schedule::store::Store;
use crate::schedule::{Due, FeedPlan, Occurrence, Outcome, Planner, Side, State, parse_when};

mod requests;
mod sync;
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

/// Answers a request with the result of writing its change.
type WrittenReply = Box<dyn FnOnce(Result<(), CoachError>) + Send + Sync>;

/// What waits for a change to be on disk.
#[derive(Default)]
struct Staged {
    /// Answers the request that made the change (with its value, or the write's error).
    reply: Option<WrittenReply>,
    /// Scheduled sessions recorded as fired by the change, to start once it is written.
    run: Vec<Occurrence>,
}

/// How long to wait before recording what is due again, after writing it failed.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Feeds, schedules, the feed plan and the zone they are planned in.
pub struct Scheduler {
    writer: Writer,
    /// The state: what the disk holds, plus the change in flight.
    state: State,
    /// A change made while handling the current request or check, not yet sent to disk.
    staged: Option<Staged>,
    /// The change being written.
    in_flight: Option<Staged>,
    /// After a failed write, no check for what is due before this.
    retry_at: Option<Timestamp>,
    tz: TimeZone,
    zone_watch: ZoneWatch,
    /// Heads-ups already given, by occurrence key.
    announced: HashSet<String>,
    /// The config's feed plan, used until one is set over D-Bus.
    config_plan: Option<FeedPlan>,
    grace: Duration,
    heads_up: Option<Duration>,
    /// What "now" is.
    clock: WallClock,
    /// The Baby Buddy server feeds sync with, if one is configured.
    sync: Option<sync::SyncLink>,
    /// Which worker is the current one.
    sync_generation: u64,
    /// Where workers send their results, and the coach's end of it (until it takes it).
    sync_tx: mpsc::UnboundedSender<super::babybuddy::Synced>,
    sync_rx: Option<mpsc::UnboundedReceiver<super::babybuddy::Synced>>,
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
        let (writer, results) = Writer::spawn(store);
        let (sync_tx, sync_rx) = mpsc::unbounded_channel();
        let mut scheduler = Self {
            writer,
            state,
            staged: None,
            in_flight: None,
            retry_at: None,
            tz,
            zone_watch: ZoneWatch::new(&zone_file()),
            announced: HashSet::new(),
            config_plan: cfg.feed_plan.clone(),
            grace: cfg.grace,
            heads_up: cfg.heads_up,
            clock,
            sync: None,
            sync_generation: 0,
            sync_tx,
            sync_rx: Some(sync_rx),
        };
        scheduler.configure_sync(cfg.babybuddy.as_ref());
        (scheduler, results)
    }

    /// Takes the scheduling settings of a (re)loaded config.
    pub fn configure(&mut self, cfg: &Config) {
        self.config_plan = cfg.feed_plan.clone();
        self.grace = cfg.grace;
        self.heads_up = cfg.heads_up;
        self.configure_sync(cfg.babybuddy.as_ref());
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
        if self.state.plan_since > 0 {
            self.state.plan.as_ref()
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
            state: &self.state,
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
        let wake = match self.retry_at {
            Some(r) => wake.map(|w| w.max(r)),
            None => wake,
        };
        match (wake, self.sync_wake()) {
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

    /// Applies a change in memory and stages it: [`Scheduler::flush`] sends it to disk, and
    /// what waits for it ([`Staged`]) happens once it is written.
    fn change<T>(&mut self, f: impl FnOnce(&mut State) -> T) -> T {
        self.staged.get_or_insert_with(Staged::default);
        let out = f(&mut self.state);
        self.state.prune(self.now());
        out
    }

    /// Answers `answer` now, or, if the request changed the state, once the change is written.
    fn answer<T: Send + Sync + 'static>(
        &mut self,
        answer: Answer<T>,
        result: Result<T, CoachError>,
    ) {
        match (result, self.staged.as_mut()) {
            (Ok(value), Some(staged)) => {
                staged.reply = Some(Box::new(move |written| {
                    reply(answer, written.map(|()| value))
                }))
            }
            (result, _) => reply(answer, result),
        }
    }

    /// Sends the staged change to disk. True if there was one (the state changed).
    fn flush(&mut self) -> bool {
        let Some(staged) = self.staged.take() else {
            return false;
        };
        self.writer.write(self.state.clone());
        self.in_flight = Some(staged);
        true
    }

    /// Whether a change is being written: further requests and checks wait for it.
    pub fn writing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// A write finished: answers the request that made it and returns the scheduled sessions
    /// it recorded, to start now. If it failed, the state goes back to what the disk holds.
    pub fn written(&mut self, result: WriteResult) -> Vec<Occurrence> {
        let Some(staged) = self.in_flight.take() else {
            log::error!("a write finished that was never started");
            return Vec::new();
        };
        let result = match result {
            Ok(()) => {
                self.retry_at = None;
                Ok(())
            }
            Err((e, on_disk)) => {
                log::error!("cannot save a change: {e}");
                self.state = on_disk;
                self.retry_at = Some(self.now() + RETRY_AFTER);
                for o in &staged.run {
                    log::error!(
                        "cannot record scheduled session {}, so it does not run now",
                        o.id()
                    );
                }
                Err(CoachError::StorageFailed(format!(
                    "{e}; nothing was changed"
                )))
            }
        };
        let ok = result.is_ok();
        if let Some(answer) = staged.reply {
            answer(result);
        }
        self.pump_sync();
        if ok { staged.run } else { Vec::new() }
    }

    /// What has come due. Missed sessions are recorded (and kept to be told); a session due
    /// while `busy` (one is running or starting) waits, and runs when it ends if still within
    /// the grace period; one to run is recorded before it is returned, so it never runs twice,
    /// even after a crash. A heads-up is given once per session.
    ///
    /// A session to run is returned by [`Scheduler::written`], once its record is on disk.
    pub fn due(&mut self, busy: bool) -> Option<u32> {
        let now = self.now();
        if self.writing() || self.retry_at.is_some_and(|r| now < r) {
            return None;
        }
        for d in self.planner().due(now, self.grace) {
            match d {
                Due::Missed(o) => {
                    let text = format!(
                        "the session at {} ({}) was missed: the computer was asleep or off",
                        crate::schedule::local_hm(o.at, &self.tz),
                        o.reason(&self.tz)
                    );
                    log::warn!("{text}");
                    self.change(|s| {
                        s.mark(&o, Outcome::Missed);
                        s.missed_untold.push(text);
                    });
                }
                Due::Run(o) if busy => {
                    log::info!("{} is due but a session is running; it waits", o.key)
                }
                Due::Run(o) => {
                    self.change(|s| s.mark(&o, Outcome::Fired));
                    if let Some(staged) = self.staged.as_mut() {
                        staged.run.push(o);
                    }
                }
            }
        }
        self.end_overdue_feed();
        if !self.flush() {
            self.pump_sync();
        }
        if busy { None } else { self.heads_up(now) }
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
        let now = self.now();
        let upcoming = self.planner().upcoming(now);
        let next_feed_due = upcoming.iter().find_map(|o| match o.source {
            crate::schedule::Source::FeedPlan(due) => Some(due),
            _ => None,
        });
        crate::feedback::DaySummary {
            next_session: self.next_occurrence().map(|o| (o.at, o.reason(&self.tz))),
            next_feed_due,
            last_feed: self
                .state
                .all_feeds()
                .last()
                .and_then(|f| Some((Timestamp::from_second(f.at).ok()?, f.side))),
            next_side: crate::schedule::next_side(&self.state.all_feeds()),
            trouble,
            last_pumped: self
                .state
                .pumpings
                .last()
                .and_then(|p| Some((Timestamp::from_second(p.start).ok()?, p.amount_ml))),
            pumped_today_ml: self.pumped_today(now),
        }
    }

    /// Millilitres pumped today (the local day of `now`), when any.
    fn pumped_today(&self, now: Timestamp) -> Option<f64> {
        let day = now.to_zoned_datetime(self.tz.clone()).date();
        let today: Vec<f64> = self
            .state
            .pumpings
            .iter()
            .filter(|p| {
                Timestamp::from_second(p.start)
                    .is_ok_and(|t| t.to_zoned_datetime(self.tz.clone()).date() == day)
            })
            .map(|p| p.amount_ml)
            .collect();
        (!today.is_empty()).then(|| today.iter().sum())
    }

    /// Takes the missed sessions not yet told (the change is written like any other); empty
    /// while a change is being written.
    pub fn take_untold(&mut self) -> Vec<String> {
        if self.writing() {
            return Vec::new();
        }
        let notices = self.take_notices();
        self.flush();
        notices
    }

    /// The reason an occurrence fires, as people read it.
    pub fn reason(&self, o: &Occurrence) -> String {
        o.reason(&self.tz)
    }
}
