//! The session task: the one owner of the engine, the mix and the audio output.
//!
//! D-Bus and MPRIS handlers never touch this state; they send a [`Request`] over a channel and
//! wait for the reply (as mini-redis does). The task sleeps until the engine's next absolute
//! deadline, so step boundaries never drift, and holds no timer and no audio stream when idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::error::CoachError;
use super::snapshot::{Signal, Snapshot};
use crate::clip::to_samples;
use crate::config::Config;
use crate::engine::{EventKind, Session, State};
use crate::output::{Mix, Output, SharedMix};
use crate::paths::Paths;
use crate::phrase::Phrase;
use crate::plan::Sound;
use crate::prepare::{Ready, Sounds, prepare};
use crate::routine::{Library, LoadError, Routine, RoutineSource};
use crate::schedule::store::Store;
use crate::schedule::{Due, FeedPlan, Occurrence, Outcome, Planner, Side, State as Plans};

/// Lateness up to which a sound is started part-way in, to stay on the plan's time.
const CATCH_UP: Duration = Duration::from_millis(50);
/// How often the output's health is checked during a session.
const HEALTH_CHECK: Duration = Duration::from_secs(1);
/// How long an output may stay broken before the session is reported interrupted.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// What a client asks of the session task.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start a routine ("" = the configured default).
    Start(String),
    /// Stop the session.
    Stop,
    /// Pause.
    Pause,
    /// Resume.
    Resume,
    /// Pause or resume.
    TogglePause,
    /// Next step.
    Next,
    /// Previous step.
    Previous,
    /// Say the prompt again.
    Repeat,
    /// Lengthen the current step by seconds.
    Extend(u32),
    /// Speak and return where the session is.
    WhereAmI,
    /// List routines.
    ListRoutines,
    /// Re-read config and routines.
    Reload,
    /// Set the master volume.
    SetVolume(f64),
    /// Log a feed: start (Unix seconds), side, note.
    LogFeed(i64, String, String),
    /// Correct a feed: id, start, side ("" keeps it).
    CorrectFeed(u64, i64, String),
    /// Delete a feed.
    DeleteFeed(u64),
    /// The most recent feeds.
    ListFeeds(u32),
    /// Set the feed plan (empty map clears it).
    SetFeedPlan(std::collections::HashMap<String, String>),
    /// Add a schedule: "at 16:40", "in 25m", "daily 06:30"; routine.
    Schedule(String, String),
    /// Cancel a schedule by id, or "plan".
    Cancel(String),
    /// Move the next scheduled session later by seconds.
    Snooze(u32),
    /// Skip the next scheduled session.
    Skip,
    /// What will fire.
    Upcoming,
    /// Notices not yet told (missed sessions), cleared by reading.
    TakeNotices,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Done, nothing to say.
    Done,
    /// A sentence.
    Text(String),
    /// Routines: (name, title, source or problem).
    Routines(Vec<(String, String, String)>),
    /// Problems found (reload), or notices.
    Problems(Vec<String>),
    /// A new id.
    Id(u64),
    /// Feeds: (id, start, side, note).
    Feeds(Vec<(u64, i64, String, String)>),
    /// Upcoming sessions: (id, start, reason, routine).
    Upcoming(Vec<(String, i64, String, String)>),
}

/// A command with the channel its answer goes back on.
pub struct Request {
    /// What to do.
    pub command: Command,
    /// Where to answer.
    pub reply: oneshot::Sender<Result<Reply, CoachError>>,
}

/// Sends `command` to the session task and waits for its answer.
pub async fn ask(tx: &mpsc::Sender<Request>, command: Command) -> Result<Reply, CoachError> {
    let (reply, rx) = oneshot::channel();
    tx.send(Request { command, reply })
        .await
        .map_err(|_| CoachError::NotRunning("letdownd is shutting down".into()))?;
    rx.await
        .map_err(|_| CoachError::NotRunning("letdownd is shutting down".into()))?
}

/// Who waits for a routine being prepared, to start it when it is ready.
enum Starter {
    /// A client's Start call, answered when the session starts (or cannot).
    Client(oneshot::Sender<Result<Reply, CoachError>>),
    /// A scheduled session; `quiet` plays it at the quiet-hours volume.
    Scheduled { quiet: bool },
}

/// A start waiting for its routine's speech to be prepared.
struct PendingStart {
    routine: String,
    starter: Starter,
}

/// A prepared routine, or why it could not be, sent back by a preparing task.
struct Prepared {
    /// The routine name asked for.
    name: String,
    /// The config generation it was prepared with (stale after a reload changed the config).
    generation: u64,
    result: Result<Ready, CoachError>,
}

struct Live {
    id: u64,
    ready: Arc<Ready>,
    session: Session,
    /// The sounds read into memory so far: the first step's at start, the rest soon after.
    sounds: Sounds,
}

/// The session task's state.
pub struct Coach {
    paths: Paths,
    cfg: Config,
    volume: f64,
    epoch: Instant,
    live: Option<Live>,
    prepared: HashMap<String, Arc<Ready>>,
    mix: SharedMix,
    output: Box<dyn Output>,
    output_broken_since: Option<Instant>,
    close_output_at: Option<Instant>,
    snapshot: watch::Sender<Snapshot>,
    signals: mpsc::UnboundedSender<Signal>,
    sessions: u64,
    store: Store,
    plans: Plans,
    tz: jiff::tz::TimeZone,
    /// Wakes the coach when the system's time zone changes.
    zone_watch: super::zone::ZoneWatch,
    /// Heads-ups already given, by occurrence key.
    announced: std::collections::HashSet<String>,
    /// A quiet-hours session is playing at the quiet volume; at its end the mix goes back to
    /// `volume`, which stays the user's (a SetVolume during the session changes it).
    quiet_session: bool,
    loaded_tx: mpsc::UnboundedSender<(u64, Result<Sounds, String>)>,
    loaded_rx: mpsc::UnboundedReceiver<(u64, Result<Sounds, String>)>,
    /// Phrases that were not prepared, synthesized beside the coach: (session id, clip).
    spoken_tx: mpsc::UnboundedSender<(u64, crate::clip::Clip)>,
    spoken_rx: mpsc::UnboundedReceiver<(u64, crate::clip::Clip)>,
    /// When the phrases of the last "where am I" end: a late phrase waits for them.
    phrases_end: Instant,
    /// Routines being prepared beside the coach, by name.
    preparing: std::collections::HashSet<String>,
    /// A start waiting for its routine to be prepared (one at a time).
    pending: Option<PendingStart>,
    /// Bumped when a reload changes the config: preparations begun before are stale.
    generation: u64,
    prepared_tx: mpsc::UnboundedSender<Prepared>,
    prepared_rx: mpsc::UnboundedReceiver<Prepared>,
}

impl Coach {
    /// A session task with `cfg`, playing to `output`.
    pub fn new(
        paths: Paths,
        cfg: Config,
        output: Box<dyn Output>,
        snapshot: watch::Sender<Snapshot>,
        signals: mpsc::UnboundedSender<Signal>,
    ) -> Self {
        let store = Store::new(paths.state_file());
        let loaded = store.load();
        if let Some(w) = &loaded.warning {
            log::error!("{w}");
        }
        let volume = cfg.volume;
        let mix = Arc::new(Mutex::new(Mix::new()));
        mix.lock().expect("new mutex").set_volume(volume as f32);
        let (loaded_tx, loaded_rx) = mpsc::unbounded_channel();
        let (spoken_tx, spoken_rx) = mpsc::unbounded_channel();
        let (prepared_tx, prepared_rx) = mpsc::unbounded_channel();
        Self {
            preparing: Default::default(),
            pending: None,
            generation: 0,
            prepared_tx,
            prepared_rx,
            sessions: 0,
            store,
            plans: loaded.state,
            tz: jiff::tz::TimeZone::system(),
            zone_watch: super::zone::ZoneWatch::new(&super::zone::zone_file()),
            announced: Default::default(),
            quiet_session: false,
            loaded_tx,
            loaded_rx,
            spoken_tx,
            spoken_rx,
            phrases_end: Instant::now(),
            paths,
            cfg,
            volume,
            epoch: Instant::now(),
            live: None,
            prepared: HashMap::new(),
            mix,
            output,
            output_broken_since: None,
            close_output_at: None,
            snapshot,
            signals,
        }
    }

    fn now(&self) -> Duration {
        Instant::now() - self.epoch
    }

    /// Serves requests until `shutdown` fires (or every sender is gone); then stops any session
    /// and closes the output.
    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut shutdown: oneshot::Receiver<()>,
    ) {
        // Preparing the default routine (seconds when the cache is cold) runs beside the coach:
        // calls are answered from the first moment the bus name is owned.
        self.prepare_default();
        self.prepare_scheduled();
        self.check_schedule().await;
        self.publish();
        loop {
            let wake = self.next_wake();
            let deadline = self
                .live
                .as_ref()
                .and_then(|l| l.session.poll_timeout())
                .map(|t| self.epoch + t);
            let health = self.live.as_ref().map(|_| Instant::now() + HEALTH_CHECK);
            tokio::select! {
                _ = &mut shutdown => break,
                req = requests.recv() => match req {
                    Some(Request { command: Command::Start(name), reply }) => {
                        self.start(name, Starter::Client(reply));
                    }
                    Some(req) => {
                        let result = self.handle(req.command).await;
                        let _ = req.reply.send(result);
                    }
                    None => break,
                },
                Some(prepared) = self.prepared_rx.recv() => self.on_prepared(prepared),
                _ = sleep_until(deadline) => {
                    let now = self.now();
                    if let Some(l) = self.live.as_mut() {
                        l.session.handle_timeout(now);
                    }
                }
                _ = sleep_until(health) => self.check_output(),
                _ = sleep_until(self.close_output_at) => self.close_output_if_silent(),
                w = wall_sleep(wake) => {
                    if let Err(e) = w {
                        log::error!("wall-clock timer: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    self.check_schedule().await;
                    self.publish();
                }
                Some((id, clip)) = self.spoken_rx.recv() => self.play_late_phrase(id, clip),
                _ = self.zone_watch.changed() => {
                    // Local times (daily sessions, the feed plan's times) move with the zone.
                    self.tz = jiff::tz::TimeZone::system();
                    log::info!(
                        "the time zone is now {}; planning again",
                        self.tz.iana_name().unwrap_or("(unnamed)")
                    );
                    self.check_schedule().await;
                    self.prepare_scheduled();
                    self.publish();
                }
                Some((id, loaded)) = self.loaded_rx.recv() => match (loaded, self.live.as_mut()) {
                    (Ok(sounds), Some(l)) if l.id == id => l.sounds.extend(sounds),
                    (Err(e), Some(l)) if l.id == id => log::error!("cannot read the session's sounds: {e}"),
                    _ => {}
                },
            }
            if self.drain_events() {
                // A session ended: a schedule held while it ran may start now.
                self.check_schedule().await;
                self.publish();
            }
        }
        if let Some(l) = self.live.as_mut() {
            let now = Instant::now() - self.epoch;
            let _ = l.session.stop(now);
        }
        self.drain_events();
        self.output.close();
        log::info!("stopped");
    }

    /// Runs an engine command on the live session at the current time.
    fn on_session(
        &mut self,
        command: impl FnOnce(&mut Session, Duration) -> Result<(), crate::engine::CommandError>,
    ) -> Result<Reply, CoachError> {
        let now = self.now();
        command(session(&mut self.live)?, now)?;
        // Extend and Repeat change the step's length and what is left of it without an event
        // of their own: publish after every command, so properties never go stale.
        self.publish();
        Ok(Reply::Done)
    }

    async fn handle(&mut self, command: Command) -> Result<Reply, CoachError> {
        log::debug!("request: {command:?}");
        match command {
            Command::Start(_) => unreachable!("Start is answered when its routine is ready"),
            Command::Stop => self.on_session(|s, now| s.stop(now)),
            Command::Pause => self.on_session(|s, now| s.pause(now)),
            Command::Resume => self.on_session(|s, now| s.resume(now)),
            Command::TogglePause => self.on_session(|s, now| s.toggle_pause(now)),
            Command::Next => self.on_session(|s, now| s.next(now)),
            Command::Previous => self.on_session(|s, now| s.previous(now)),
            Command::Repeat => self.on_session(|s, now| s.repeat(now)),
            Command::Extend(secs) => {
                if secs == 0 || secs > 1800 {
                    return Err(CoachError::InvalidArgument(format!(
                        "cannot extend by {secs} seconds; give 1 to 1800"
                    )));
                }
                self.on_session(|s, now| s.extend(now, Duration::from_secs(secs as u64)))
            }
            Command::WhereAmI => self.where_am_i(),
            Command::ListRoutines => Ok(Reply::Routines(self.list_routines())),
            Command::Reload => self.reload(),
            Command::LogFeed(at, side, note) => {
                let side = Side::parse(&side).map_err(CoachError::InvalidArgument)?;
                let at = ts_arg(at)?;
                let now = jiff::Timestamp::now();
                if at > now + jiff::SignedDuration::from_secs(300) {
                    return Err(CoachError::InvalidArgument(
                        "a feed cannot start in the future".into(),
                    ));
                }
                let id = self.change(|p| p.log_feed(now, at, side, &note))?;
                Ok(Reply::Id(id))
            }
            Command::CorrectFeed(id, at, side) => {
                let side = if side.is_empty() {
                    None
                } else {
                    Some(Side::parse(&side).map_err(CoachError::InvalidArgument)?)
                };
                let at = ts_arg(at)?;
                if !self.change(|p| p.correct_feed(id, at, side))? {
                    return Err(CoachError::NotFound(format!(
                        "no feed with id {id}; see `letdown feeds`"
                    )));
                }
                Ok(Reply::Done)
            }
            Command::DeleteFeed(id) => {
                if !self.change(|p| p.delete_feed(id))? {
                    return Err(CoachError::NotFound(format!(
                        "no feed with id {id}; see `letdown feeds`"
                    )));
                }
                Ok(Reply::Done)
            }
            Command::ListFeeds(limit) => {
                let n = self.plans.feeds.len();
                let from = n.saturating_sub(if limit == 0 { n } else { limit as usize });
                Ok(Reply::Feeds(
                    self.plans.feeds[from..]
                        .iter()
                        .map(|f| (f.id, f.at, f.side.name().to_string(), f.note.clone()))
                        .collect(),
                ))
            }
            Command::SetFeedPlan(map) => {
                let plan = if map.is_empty() {
                    None
                } else {
                    Some(FeedPlan::from_map(&map).map_err(CoachError::InvalidArgument)?)
                };
                let now = jiff::Timestamp::now();
                self.change(|p| p.set_plan(now, plan))?;
                let warning = self.lead_warning();
                Ok(Reply::Problems(warning.into_iter().collect()))
            }
            Command::Schedule(when, routine) => {
                let now = jiff::Timestamp::now();
                let rule = crate::schedule::parse_when(&when, now, &self.tz)
                    .map_err(CoachError::InvalidArgument)?;
                if !routine.is_empty() {
                    self.library()
                        .find(&routine)
                        .map_err(|e| CoachError::UnknownRoutine(e.to_string()))?;
                }
                let id = self.change(|p| p.add_schedule(now, rule, &routine))?;
                Ok(Reply::Id(id))
            }
            Command::Cancel(id) => {
                if id == "plan" {
                    let now = jiff::Timestamp::now();
                    self.change(|p| p.set_plan(now, None))?;
                    return Ok(Reply::Done);
                }
                let n: u64 = id.parse().map_err(|_| {
                    CoachError::InvalidArgument(format!(
                        "\"{id}\" is not an id; see `letdown upcoming`"
                    ))
                })?;
                if !self.change(|p| p.cancel(n))? {
                    return Err(CoachError::NotFound(format!(
                        "no schedule with id {n}; see `letdown upcoming`"
                    )));
                }
                Ok(Reply::Done)
            }
            Command::Snooze(secs) => {
                if secs == 0 || secs > 86_400 {
                    return Err(CoachError::InvalidArgument(format!(
                        "cannot snooze by {secs} seconds; give 1 second to 1 day"
                    )));
                }
                let now = jiff::Timestamp::now();
                let next = self
                    .next_occurrence(now)
                    .ok_or_else(|| CoachError::NotFound("nothing is scheduled".into()))?;
                self.change(|p| p.snooze(&next, now, Duration::from_secs(secs as u64)))?;
                Ok(Reply::Done)
            }
            Command::Skip => {
                let now = jiff::Timestamp::now();
                let next = self
                    .next_occurrence(now)
                    .ok_or_else(|| CoachError::NotFound("nothing is scheduled".into()))?;
                self.change(|p| p.mark(&next, Outcome::Skipped))?;
                Ok(Reply::Done)
            }
            Command::Upcoming => {
                let now = jiff::Timestamp::now();
                let plan = self.feed_plan();
                let planner = Planner {
                    state: &self.plans,
                    plan: plan.as_ref(),
                    tz: &self.tz,
                };
                Ok(Reply::Upcoming(
                    planner
                        .upcoming(now)
                        .into_iter()
                        .map(|o| {
                            (
                                o.id(),
                                o.at.as_second(),
                                o.reason(&self.tz),
                                if o.routine.is_empty() {
                                    self.cfg.default_routine.clone()
                                } else {
                                    o.routine.clone()
                                },
                            )
                        })
                        .collect(),
                ))
            }
            Command::TakeNotices => {
                if self.plans.missed_untold.is_empty() {
                    return Ok(Reply::Problems(Vec::new()));
                }
                let notices = self.plans.missed_untold.clone();
                self.change(|p| p.missed_untold.clear())?;
                Ok(Reply::Problems(notices))
            }
            Command::SetVolume(v) => {
                if !(0.0..=1.0).contains(&v) || v.is_nan() {
                    return Err(CoachError::InvalidArgument(format!(
                        "volume {v} is outside 0.0 to 1.0"
                    )));
                }
                self.volume = v;
                self.mix.lock().expect("mix lock").set_volume(v as f32);
                self.publish();
                Ok(Reply::Done)
            }
        }
    }

    fn library(&self) -> Library {
        Library::new(self.paths.clone())
    }

    /// Reads the routine `name` from its file (or the built-in ones).
    fn find_routine(&self, name: &str) -> Result<Routine, CoachError> {
        self.library().find(name).map_err(|e| match e {
            LoadError::NotFound { .. } => CoachError::UnknownRoutine(e.to_string()),
            LoadError::Invalid(d) => {
                CoachError::InvalidRoutine(format!("routine \"{name}\" has problems:\n{d}"))
            }
        })
    }

    /// The prepared routine, when what is in memory still matches its file and the config,
    /// and its speech is still in the cache.
    fn prepared_for(&self, routine: &Routine) -> Option<Arc<Ready>> {
        self.prepared
            .get(&routine.name)
            .filter(|r| r.routine == *routine && r.sounds.intact())
            .cloned()
    }

    /// Prepares `routine` on a blocking thread beside the coach (once at a time per name); the
    /// result comes back through `prepared_rx`.
    fn prepare_in_background(&mut self, routine: Routine) {
        if !self.preparing.insert(routine.name.clone()) {
            return;
        }
        let cfg = self.cfg.clone();
        let paths = self.paths.clone();
        let tx = self.prepared_tx.clone();
        let generation = self.generation;
        let name = routine.name.clone();
        log::info!("preparing \"{name}\"");
        tokio::task::spawn_blocking(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                prepare(routine, &cfg, &paths).map_err(|e| CoachError::SpeechFailed(e.to_string()))
            }))
            .unwrap_or_else(|_| {
                Err(CoachError::SpeechFailed(
                    "preparing the speech failed unexpectedly (see the log)".into(),
                ))
            });
            let _ = tx.send(Prepared {
                name,
                generation,
                result,
            });
        });
    }

    /// Prepares the default routine in the background, unless it is ready already.
    fn prepare_default(&mut self) {
        let default = self.cfg.default_routine.clone();
        match self.find_routine(&default) {
            Ok(r) if self.prepared_for(&r).is_none() => self.prepare_in_background(r),
            Ok(_) => {}
            Err(e) => log::warn!("cannot prepare the default routine \"{default}\": {e}"),
        }
    }

    /// Prepares, beside the coach, every routine that a schedule or the feed plan will start
    /// (the next three days), so a scheduled session starts on the second, not after its
    /// synthesis. Called at start, after every schedule change and after a reload.
    fn prepare_scheduled(&mut self) {
        let plan = self.feed_plan();
        let names: std::collections::BTreeSet<String> = Planner {
            state: &self.plans,
            plan: plan.as_ref(),
            tz: &self.tz,
        }
        .upcoming(jiff::Timestamp::now())
        .into_iter()
        .map(|o| {
            if o.routine.is_empty() {
                self.cfg.default_routine.clone()
            } else {
                o.routine
            }
        })
        .collect();
        for name in names {
            match self.find_routine(&name) {
                Ok(r) if self.prepared_for(&r).is_none() => self.prepare_in_background(r),
                Ok(_) => {}
                Err(e) => log::warn!("a scheduled routine cannot be prepared: {e}"),
            }
        }
    }

    /// A preparation finished: keep it, and start the session that waited for it.
    fn on_prepared(&mut self, p: Prepared) {
        self.preparing.remove(&p.name);
        let waiting = self.pending.as_ref().is_some_and(|w| w.routine == p.name);
        if p.generation != self.generation {
            // The config changed while it ran: prepare again with the new one if someone waits.
            log::debug!("discarding a stale preparation of \"{}\"", p.name);
            if waiting {
                match self.find_routine(&p.name) {
                    Ok(r) => self.prepare_in_background(r),
                    Err(e) => self.fail_pending(e),
                }
            }
            return;
        }
        match p.result {
            Ok(ready) => {
                for w in &ready.warnings {
                    log::warn!("{w}");
                }
                log::info!(
                    "prepared \"{}\" ({} texts synthesized) in {:?}",
                    p.name,
                    ready.synthesized,
                    ready.took
                );
                let ready = Arc::new(ready);
                self.prepared.insert(p.name.clone(), Arc::clone(&ready));
                if waiting {
                    let w = self.pending.take().expect("a pending start");
                    self.begin(ready, w.starter);
                }
            }
            Err(e) => {
                log::error!("could not prepare \"{}\": {e}", p.name);
                if waiting {
                    self.fail_pending(e);
                }
            }
        }
        self.publish();
    }

    fn fail_pending(&mut self, e: CoachError) {
        if let Some(w) = self.pending.take() {
            match w.starter {
                Starter::Client(reply) => {
                    let _ = reply.send(Err(e));
                }
                Starter::Scheduled { .. } => {
                    log::error!("the scheduled session could not start: {e}")
                }
            }
            self.publish();
        }
    }

    /// Starts a routine ("" = the default): at once when its speech is ready, otherwise as soon
    /// as it has been prepared. The starter is answered then.
    fn start(&mut self, name: String, starter: Starter) {
        let refuse = |starter: Starter, e: CoachError| match starter {
            Starter::Client(reply) => {
                let _ = reply.send(Err(e));
            }
            Starter::Scheduled { .. } => log::error!("the scheduled session could not start: {e}"),
        };
        if let Some(l) = &self.live {
            let e = CoachError::AlreadyRunning(format!(
                "\"{}\" is already running; stop it first with `letdown stop`",
                l.ready.routine.name
            ));
            return refuse(starter, e);
        }
        if let Some(w) = &self.pending {
            let e = CoachError::AlreadyRunning(format!(
                "\"{}\" is being prepared and starts when it is ready",
                w.routine
            ));
            return refuse(starter, e);
        }
        let name = if name.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            name
        };
        let routine = match self.find_routine(&name) {
            Ok(r) => r,
            Err(e) => return refuse(starter, e),
        };
        match self.prepared_for(&routine) {
            Some(ready) => self.begin(ready, starter),
            None => {
                log::info!("\"{}\" starts when its speech is prepared", routine.name);
                self.pending = Some(PendingStart {
                    routine: routine.name.clone(),
                    starter,
                });
                self.prepare_in_background(routine);
                self.publish();
            }
        }
    }

    /// Begins a session of a prepared routine and answers its starter.
    fn begin(&mut self, ready: Arc<Ready>, starter: Starter) {
        let quiet = matches!(starter, Starter::Scheduled { quiet: true });
        if quiet {
            self.quiet_session = true;
            self.mix
                .lock()
                .expect("mix lock")
                .set_volume(self.cfg.quiet_volume as f32);
        }
        let result = self.begin_session(ready);
        if result.is_err() && std::mem::take(&mut self.quiet_session) {
            self.mix
                .lock()
                .expect("mix lock")
                .set_volume(self.volume as f32);
        }
        match starter {
            Starter::Client(reply) => {
                let _ = reply.send(result.map(|()| Reply::Done));
            }
            Starter::Scheduled { .. } => {
                if let Err(e) = result {
                    log::error!("the scheduled session could not start: {e}");
                }
            }
        }
        self.publish();
    }

    fn begin_session(&mut self, ready: Arc<Ready>) -> Result<(), CoachError> {
        if !self.output.is_open() {
            self.output.open(Arc::clone(&self.mix)).map_err(|e| {
                CoachError::AudioUnavailable(format!("{e}; is a sound server running?"))
            })?;
            log::info!("opened {}", self.output.describe());
        }
        self.close_output_at = None;
        {
            let mut m = self.mix.lock().expect("mix lock");
            m.interrupt();
            m.set_paused(false);
        }
        // The first step's sounds now (a few ms from the cache), the rest in the background,
        // long before the second step needs them.
        let first: Vec<Sound> = ready.plan.steps[0].cues.iter().map(|c| c.sound).collect();
        let sounds = ready.sounds.load(first).map_err(|e| {
            CoachError::SpeechFailed(format!("cannot read the prepared speech: {e}"))
        })?;
        self.sessions += 1;
        let id = self.sessions;
        let index = ready.sounds.clone();
        let tx = self.loaded_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send((id, index.load_all()));
        });
        let mut session = Session::new(Arc::clone(&ready.plan));
        session.start(self.now()).map_err(CoachError::from)?;
        log::info!("started \"{}\"", ready.routine.name);
        self.live = Some(Live {
            id,
            ready,
            session,
            sounds,
        });
        Ok(())
    }

    fn where_am_i(&mut self) -> Result<Reply, CoachError> {
        let now = self.now();
        let live = self.live.as_mut().ok_or_else(not_running)?;
        let st = live.session.status(now);
        let index = st.step.unwrap_or(0);
        let total = live.ready.plan.steps.len();
        let title = live.ready.plan.steps[index].title.clone();
        let left = st.hands_on_remaining.as_secs() as u32;
        // Round to the phrase bank's 5-second steps.
        let rounded = (left.div_ceil(5) * 5).max(5);
        let text = format!(
            "Step {} of {total}, {title}: {} left{}.",
            index + 1,
            crate::phrase::spoken_duration(left),
            if st.state == State::Paused {
                ", paused"
            } else {
                ""
            }
        );
        let sounds = [
            Sound::Phrase(Phrase::StepOf(index as u32 + 1, total as u32)),
            Sound::Phrase(Phrase::TimeLeft(rounded)),
        ];
        // A time left that the phrase bank does not have (the step was extended past its
        // planned length) is synthesized beside the coach and spoken when ready: never silence.
        let missing: Vec<String> = sounds
            .iter()
            .filter(|&&s| live.ready.sounds.source(s).is_none())
            .filter_map(|s| match s {
                Sound::Phrase(p) => Some(p.text()),
                _ => None,
            })
            .collect();
        let session = live.id;
        // Read (from disk if need be) before the mix is locked.
        let clips: Vec<_> = sounds.iter().filter_map(|&s| sound_clip(live, s)).collect();
        let mut m = self.mix.lock().expect("mix lock");
        let mut gap = 0usize;
        let mut end = Duration::ZERO;
        for clip in clips {
            // The second phrase follows the first after a short breath.
            let mut padded = vec![0.0; gap];
            padded.extend_from_slice(clip.samples());
            gap = to_samples(clip.duration() + Duration::from_millis(250)) as usize;
            let padded = crate::clip::Clip::new(padded);
            end = end.max(padded.duration());
            m.play_through_pause(padded, 1.0);
        }
        drop(m);
        self.phrases_end = Instant::now() + end + Duration::from_millis(250);
        for text in missing {
            self.speak_later(session, text);
        }
        Ok(Reply::Text(text))
    }

    /// Synthesizes `text` on a blocking thread; the clip comes back through `spoken_rx` and is
    /// played if session `session` is still on.
    fn speak_later(&self, session: u64, text: String) {
        let cfg = self.cfg.clone();
        let paths = self.paths.clone();
        let routine_voice = self
            .live
            .as_ref()
            .map(|l| l.ready.routine.voice.clone())
            .unwrap_or_default();
        let tx = self.spoken_tx.clone();
        tokio::task::spawn_blocking(move || {
            let clip = crate::voice::voice_for(&cfg.voice, &routine_voice, &paths.cache_dir)
                .and_then(|v| {
                    v.prepare(std::slice::from_ref(&text))
                        .map_err(|e| e.to_string())
                })
                .and_then(|p| p.clips[&text].load());
            match clip {
                Ok(c) => {
                    let _ = tx.send((session, c));
                }
                Err(e) => log::warn!("could not speak \"{text}\": {e}"),
            }
        });
    }

    fn play_late_phrase(&mut self, session: u64, clip: crate::clip::Clip) {
        if self.live.as_ref().is_some_and(|l| l.id == session) {
            // After the phrases already playing, with a short breath between.
            let wait = self.phrases_end.saturating_duration_since(Instant::now());
            let mut padded = vec![0.0; to_samples(wait) as usize];
            padded.extend_from_slice(clip.samples());
            self.mix
                .lock()
                .expect("mix lock")
                .play_through_pause(crate::clip::Clip::new(padded), 1.0);
        }
    }

    fn list_routines(&self) -> Vec<(String, String, String)> {
        self.library()
            .list()
            .into_iter()
            .map(|e| {
                let source = match &e.source {
                    RoutineSource::BuiltIn => "built-in".to_string(),
                    RoutineSource::File(p) => p.display().to_string(),
                };
                match e.routine {
                    Ok(r) => (e.name, r.title, source),
                    Err(errs) => (e.name, String::new(), format!("broken: {}", errs[0])),
                }
            })
            .collect()
    }

    fn reload(&mut self) -> Result<Reply, CoachError> {
        let cfg = Config::load(&self.paths.config_file()).map_err(|e| {
            CoachError::InvalidConfig(format!(
                "the config file has problems; nothing was changed:\n{e}"
            ))
        })?;
        if cfg != self.cfg {
            self.prepared.clear();
            self.generation += 1;
        }
        self.cfg = cfg;
        let mut problems = Vec::new();
        for e in self.library().list() {
            if let Err(errs) = e.routine {
                problems.extend(errs.iter().map(|d| d.to_string()));
            }
        }
        for p in &problems {
            log::warn!("{p}");
        }
        let default = self.cfg.default_routine.clone();
        if let Err(e) = self.find_routine(&default) {
            problems.push(format!("default routine \"{default}\": {e}"));
        }
        // Prepared beside the coach: a session running now keeps its cues on time.
        self.prepare_default();
        self.prepare_scheduled();
        log::info!("reloaded config and routines ({} problems)", problems.len());
        Ok(Reply::Problems(problems))
    }

    /// Applies a change to the saved state: written to disk first, kept only if that worked.
    fn change<T>(&mut self, f: impl FnOnce(&mut Plans) -> T) -> Result<T, CoachError> {
        let mut next = self.plans.clone();
        let out = f(&mut next);
        next.prune(jiff::Timestamp::now());
        self.store
            .save(&next)
            .map_err(|e| CoachError::StorageFailed(format!("{e}; nothing was changed")))?;
        self.plans = next;
        self.prepare_scheduled();
        self.publish();
        Ok(out)
    }

    /// The feed plan in force: the one set over D-Bus, else the config's.
    fn feed_plan(&self) -> Option<FeedPlan> {
        if self.plans.plan_since > 0 {
            self.plans.plan.clone()
        } else {
            self.cfg.feed_plan.clone()
        }
    }

    fn next_occurrence(&self, now: jiff::Timestamp) -> Option<Occurrence> {
        let plan = self.feed_plan();
        Planner {
            state: &self.plans,
            plan: plan.as_ref(),
            tz: &self.tz,
        }
        .pending(now)
        .into_iter()
        .next()
    }

    fn next_wake(&self) -> Option<jiff::Timestamp> {
        let plan = self.feed_plan();
        Planner {
            state: &self.plans,
            plan: plan.as_ref(),
            tz: &self.tz,
        }
        .next_wake(jiff::Timestamp::now(), self.cfg.heads_up)
    }

    /// Says so when the plan's lead is shorter than its routine.
    fn lead_warning(&self) -> Option<String> {
        let plan = self.feed_plan()?;
        let name = if plan.routine.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            plan.routine.clone()
        };
        let ready = self.prepared.get(&name)?;
        let total = ready.plan.total();
        (Duration::from_secs(plan.lead) < total).then(|| {
            format!(
                "the lead ({}) is shorter than \"{name}\" ({}): the session will still be running when the feed is due",
                crate::duration::show(Duration::from_secs(plan.lead)),
                crate::duration::show(total)
            )
        })
    }

    /// Runs what has come due, records what was missed, gives heads-ups.
    async fn check_schedule(&mut self) {
        let now = jiff::Timestamp::now();
        let plan = self.feed_plan();
        let due = Planner {
            state: &self.plans,
            plan: plan.as_ref(),
            tz: &self.tz,
        }
        .due(now, self.cfg.grace);
        for d in due {
            match d {
                Due::Missed(o) => {
                    let text = format!(
                        "the session at {} ({}) was missed: the computer was asleep or off",
                        crate::schedule::local_hm(o.at, &self.tz),
                        o.reason(&self.tz)
                    );
                    log::warn!("{text}");
                    if let Err(e) = self.change(|p| {
                        p.mark(&o, Outcome::Missed);
                        p.missed_untold.push(text);
                    }) {
                        log::error!("{e}");
                    }
                }
                // A session is running: this one waits for it to end (and runs then if it is
                // still within the grace period, otherwise it is recorded as missed).
                Due::Run(o) if self.live.is_some() || self.pending.is_some() => {
                    log::info!("{} is due but a session is running; it waits", o.key)
                }
                Due::Run(o) => {
                    // Recorded before it starts: never run twice, even after a crash.
                    if let Err(e) = self.change(|p| p.mark(&o, Outcome::Fired)) {
                        log::error!("cannot record a scheduled session, so it does not run: {e}");
                        continue;
                    }
                    let reason = o.reason(&self.tz);
                    log::info!("scheduled session {} ({reason}) fires", o.id());
                    let _ =
                        self.signals
                            .send(Signal::ScheduleFired(o.id(), o.routine.clone(), reason));
                    self.start(o.routine.clone(), Starter::Scheduled { quiet: o.quiet });
                }
            }
        }
        self.heads_up(now).await;
    }

    /// Speaks "your massage starts in N minutes" once per session, `heads_up` before it.
    async fn heads_up(&mut self, now: jiff::Timestamp) {
        let Some(h) = self.cfg.heads_up else { return };
        if self.live.is_some() {
            return;
        }
        let plan = self.feed_plan();
        let soon: Vec<Occurrence> = Planner {
            state: &self.plans,
            plan: plan.as_ref(),
            tz: &self.tz,
        }
        .upcoming(now)
        .into_iter()
        .filter(|o| {
            o.at.as_second() - now.as_second() <= h.as_secs() as i64
                && !self.announced.contains(&o.key)
        })
        .collect();
        let Some(o) = soon.into_iter().next() else {
            return;
        };
        self.announced.insert(o.key.clone());
        let minutes = ((o.at.as_second() - now.as_second()) as f64 / 60.0)
            .round()
            .max(1.0) as u32;
        let text = crate::phrase::Phrase::StartsIn(minutes).text();
        let cfg = self.cfg.clone();
        let paths = self.paths.clone();
        let spoken = tokio::task::spawn_blocking(move || {
            let voice = crate::voice::voice_for(&cfg.voice, &Default::default(), &paths.cache_dir)?;
            let prepared = voice
                .prepare(std::slice::from_ref(&text))
                .map_err(|e| e.to_string())?;
            prepared.clips[&text].load()
        })
        .await;
        match spoken {
            Ok(Ok(clip)) => {
                if !self.output.is_open()
                    && let Err(e) = self.output.open(Arc::clone(&self.mix))
                {
                    log::warn!("heads-up not spoken: {e}");
                    return;
                }
                self.mix
                    .lock()
                    .expect("mix lock")
                    .play_through_pause(clip, 1.0);
                self.close_output_at = Some(Instant::now() + Duration::from_millis(200));
                log::info!("heads-up: session in {minutes} min");
            }
            Ok(Err(e)) => log::warn!("heads-up not spoken: {e}"),
            Err(e) => log::warn!("heads-up not spoken: {e}"),
        }
    }

    fn check_output(&mut self) {
        if self.live.is_none() {
            return;
        }
        if !self.output.failed() && self.output.is_open() {
            self.output_broken_since = None;
            return;
        }
        let since = *self.output_broken_since.get_or_insert_with(|| {
            log::warn!("lost {}; trying to reopen it", self.output.describe());
            Instant::now()
        });
        self.output.close();
        match self.output.open(Arc::clone(&self.mix)) {
            Ok(()) => log::info!("reopened {}", self.output.describe()),
            Err(e) if since.elapsed() > GIVE_UP_AFTER => {
                log::error!("giving up on the sound output ({e}); the session is interrupted");
                let now = self.now();
                if let Some(l) = self.live.as_mut() {
                    let _ = l.session.stop(now);
                }
            }
            Err(e) => log::debug!("still no sound output: {e}"),
        }
    }

    fn close_output_if_silent(&mut self) {
        if self.live.is_some() {
            self.close_output_at = None;
            return;
        }
        if self.mix.lock().expect("mix lock").is_silent() {
            self.output.close();
            self.close_output_at = None;
            log::info!("idle: closed {}", self.output.describe());
        } else {
            self.close_output_at = Some(Instant::now() + Duration::from_millis(200));
        }
    }

    /// Acts on everything the engine emitted: sounds into the mix, signals and snapshots out.
    /// True when the session ended.
    fn drain_events(&mut self) -> bool {
        let Some(live) = self.live.as_mut() else {
            return false;
        };
        let now = Instant::now() - self.epoch;
        let mut changed = false;
        let mut finished = false;
        while let Some(ev) = live.session.poll_event() {
            // A sound not yet in memory is read from disk before the mix is locked: the audio
            // callback never waits on the disk.
            let clip = match ev.kind {
                EventKind::Play(sound) => sound_clip(live, sound),
                _ => None,
            };
            let mut m = self.mix.lock().expect("mix lock");
            match ev.kind {
                EventKind::Play(sound) => {
                    if let Some(clip) = clip {
                        let late = now.saturating_sub(ev.at);
                        let skip = if late <= CATCH_UP {
                            to_samples(late) as usize
                        } else {
                            0
                        };
                        let gain = match sound {
                            Sound::Tone(_) => self.cfg.earcon_volume as f32,
                            _ => 1.0,
                        };
                        m.play(clip.clone(), gain, skip);
                    }
                }
                EventKind::Interrupt => m.interrupt(),
                EventKind::Paused => {
                    m.set_paused(true);
                    changed = true;
                    log::info!("paused");
                }
                EventKind::Resumed => {
                    m.set_paused(false);
                    changed = true;
                    log::info!("resumed");
                }
                EventKind::StepStarted(i) => {
                    let title = live.ready.plan.steps[i].title.clone();
                    log::info!("step {} of {}: {title}", i + 1, live.ready.plan.steps.len());
                    let _ = self.signals.send(Signal::StepStarted(i as u32, title));
                    changed = true;
                }
                EventKind::SessionFinished { completed } => {
                    log::info!(
                        "session of \"{}\" {}",
                        live.ready.routine.name,
                        if completed { "completed" } else { "stopped" }
                    );
                    let _ = self.signals.send(Signal::SessionFinished(
                        live.ready.routine.name.clone(),
                        completed,
                    ));
                    finished = true;
                }
                EventKind::SessionStarted => changed = true,
            }
        }
        if finished {
            self.live = None;
            {
                let mut m = self.mix.lock().expect("mix lock");
                m.set_paused(false);
                if std::mem::take(&mut self.quiet_session) {
                    m.set_volume(self.volume as f32);
                }
            }
            self.close_output_at = Some(Instant::now() + Duration::from_millis(200));
            self.publish();
        } else if changed {
            self.publish();
        }
        finished
    }

    fn publish(&self) {
        let snap = match &self.live {
            None => match &self.pending {
                None => Snapshot::idle(self.volume),
                Some(w) => Snapshot {
                    state: "preparing",
                    routine: w.routine.clone(),
                    ..Snapshot::idle(self.volume)
                },
            },
            Some(l) => {
                let st = l.session.status(self.now());
                let i = st.step.unwrap_or(0);
                let step = &l.ready.plan.steps[i];
                Snapshot {
                    state: if st.state == State::Paused {
                        "paused"
                    } else {
                        "running"
                    },
                    routine: l.ready.routine.name.clone(),
                    routine_title: l.ready.routine.title.clone(),
                    step_index: i as u32,
                    step_count: l.ready.plan.steps.len() as u32,
                    step_title: step.title.clone(),
                    // The step as it now stands: extensions and repeats included.
                    step_length: st.step_elapsed + st.step_remaining,
                    remaining: st.step_remaining,
                    anchor: std::time::Instant::now(),
                    volume: self.volume,
                    next_session: 0,
                    feed_plan: Default::default(),
                }
            }
        };
        let mut snap = snap;
        snap.next_session = self
            .next_occurrence(jiff::Timestamp::now())
            .map_or(0, |o| o.at.as_second());
        snap.feed_plan = self.feed_plan().map(|p| p.to_map()).unwrap_or_default();
        self.snapshot.send_replace(snap);
    }
}

fn ts_arg(at: i64) -> Result<jiff::Timestamp, CoachError> {
    jiff::Timestamp::from_second(at)
        .map_err(|_| CoachError::InvalidArgument(format!("{at} is not a time")))
}

async fn wall_sleep(at: Option<jiff::Timestamp>) -> std::io::Result<super::wallclock::Wake> {
    match at {
        Some(t) => super::wallclock::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A sound of the session, read now if the background load has not brought it yet.
fn sound_clip(live: &mut Live, sound: Sound) -> Option<crate::clip::Clip> {
    if let Some(c) = live.sounds.get(sound) {
        return Some(c.clone());
    }
    match live.ready.sounds.source(sound)?.load() {
        Ok(c) => {
            log::debug!("read {sound:?} on demand");
            live.sounds.insert(sound, c.clone());
            Some(c)
        }
        Err(e) => {
            log::error!("cannot play {sound:?}: {e}");
            None
        }
    }
}

fn not_running() -> CoachError {
    CoachError::NotRunning("no session is running; start one with `letdown start`".into())
}

fn session(live: &mut Option<Live>) -> Result<&mut Session, CoachError> {
    live.as_mut()
        .map(|l| &mut l.session)
        .ok_or_else(not_running)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
