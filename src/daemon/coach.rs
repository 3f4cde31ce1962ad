//! The coach: one task that selects over its owners' deadlines and runs the session.
//!
//! D-Bus and MPRIS handlers never touch this state; they send a [`Request`] and wait for its
//! typed answer. The coach owns the session on air ([`Live`]) and three helpers, each the one
//! owner of its part: the [`Scheduler`] (feeds, schedules, the zone), the [`Audio`] supervisor
//! (mix, output, volume) and the [`Preparer`] (speech synthesized beside the coach). It sleeps
//! until the engine's next absolute deadline, so step boundaries never drift, and holds no
//! timer and no audio stream when idle.
//!
//! Its work is in files beside this loop: `start` (a session from request to first sound),
//! `on_air` (cues to the mix, phrases on request), `schedule` (schedule requests and what a
//! written change starts) and `feedback` (answers to key presses, missed sessions told).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::audio::{Audio, HEALTH_CHECK, Health, Opened, open_output};
use super::error::CoachError;
use super::live::Live;
use super::preparer::{Done, Finished, PhraseFor, Prepared, Preparer};
use super::request::{Answer, Request, RoutineRow, ScheduleRequest, SessionCommand, reply};
use super::scheduler::Scheduler;
use super::snapshot::{Phase, Signal, Snapshot};
use super::writer::{WriteResult, WriteResults};
use crate::clip::{Clip, to_samples};
use crate::config::Config;
use crate::engine::{EventKind, Session, State};
use crate::output::Output;
use crate::paths::Paths;
use crate::plan::Sound;
use crate::prepare::{Ready, Sounds};
use crate::routine::{Library, LoadError, Routine, RoutineSource};
use crate::schedule::FeedPlan;

mod feedback;
mod on_air;
mod schedule;
mod start;

pub use on_air::CueTiming;
use start::{PendingStart, Readied, Starter};

/// The session task.
pub struct Coach {
    paths: Paths,
    cfg: Config,
    /// The engine's clock starts here.
    epoch: Instant,
    live: Option<Live>,
    /// A start waiting for its routine to be prepared (one at a time).
    pending: Option<PendingStart>,
    sessions: u64,
    scheduler: Scheduler,
    /// Results of the scheduler's writes, from the store's thread.
    written: WriteResults,
    /// Schedule requests that came while a change was being written, in order.
    held: std::collections::VecDeque<ScheduleRequest>,
    /// Baby Buddy results that came while a change was being written, in order.
    held_synced: std::collections::VecDeque<super::babybuddy::Synced>,
    audio: Audio,
    preparer: Preparer,
    snapshot: watch::Sender<Snapshot>,
    signals: mpsc::UnboundedSender<Signal>,
    /// A session's sounds read from disk beside the coach: (session id, sounds).
    loaded_tx: mpsc::UnboundedSender<(u64, Result<Sounds, String>)>,
    loaded_rx: mpsc::UnboundedReceiver<(u64, Result<Sounds, String>)>,
    /// When the phrases said last end: a phrase synthesized late waits for them.
    phrases_end: Instant,
    /// A starting session's first sounds and output, from beside the coach.
    readied_tx: mpsc::UnboundedSender<Readied>,
    readied_rx: mpsc::UnboundedReceiver<Readied>,
    /// A reload's config and routine problems, read from disk beside the coach.
    reloaded_tx: mpsc::UnboundedSender<Reloaded>,
    reloaded_rx: mpsc::UnboundedReceiver<Reloaded>,
    /// The output, back from being reopened beside the coach.
    opened_tx: mpsc::UnboundedSender<Opened>,
    opened_rx: mpsc::UnboundedReceiver<Opened>,
    /// How late cues were played.
    timing: Arc<CueTiming>,
    /// When the output's health is checked next (during a session).
    next_health: Option<Instant>,
    /// The next heads-up, synthesized ahead of its time: its text, and its sound once ready.
    warmed_heads_up: Option<String>,
    warm_clip: Option<(String, Clip)>,
    /// Which synthesis ahead is the current one.
    warm_gen: u64,
    /// Answers to key presses, in order.
    feedback: feedback::FeedbackQueue,
    /// What the Baby Buddy worker did, from its thread.
    synced: mpsc::UnboundedReceiver<super::babybuddy::Synced>,
}

impl Coach {
    /// A coach with `cfg`, playing to `output`, publishing to `snapshot` and `signals`.
    pub fn new(
        paths: Paths,
        cfg: Config,
        output: Box<dyn Output>,
        snapshot: watch::Sender<Snapshot>,
        signals: mpsc::UnboundedSender<Signal>,
    ) -> Self {
        let (loaded_tx, loaded_rx) = mpsc::unbounded_channel();
        let (readied_tx, readied_rx) = mpsc::unbounded_channel();
        let (reloaded_tx, reloaded_rx) = mpsc::unbounded_channel();
        let (opened_tx, opened_rx) = mpsc::unbounded_channel();
        let (mut scheduler, written) = Scheduler::new(&cfg, &paths.data_dir);
        let synced = scheduler
            .sync_results()
            .expect("a new scheduler's results are not taken yet");
        super::login_start::ensure(&paths.data_dir, || scheduler.has_sessions_ahead());
        Self {
            scheduler,
            written,
            held: Default::default(),
            held_synced: Default::default(),
            audio: Audio::new(output, cfg.volume),
            preparer: Preparer::new(),
            epoch: Instant::now(),
            live: None,
            pending: None,
            sessions: 0,
            snapshot,
            signals,
            loaded_tx,
            loaded_rx,
            phrases_end: Instant::now(),
            readied_tx,
            readied_rx,
            reloaded_tx,
            reloaded_rx,
            opened_tx,
            opened_rx,
            timing: Arc::default(),
            next_health: None,
            warmed_heads_up: None,
            warm_clip: None,
            warm_gen: 0,
            feedback: Default::default(),
            synced,
            paths,
            cfg,
        }
    }

    /// How late cues are played, readable while the coach runs.
    pub fn cue_timing(&self) -> Arc<CueTiming> {
        Arc::clone(&self.timing)
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
        // Preparing (seconds when the cache is cold) runs beside the coach: calls are answered
        // from the first moment the bus name is owned.
        self.prepare_ahead();
        self.prepare_answer_heads();
        self.check_schedule();
        self.publish();
        loop {
            let deadline = self
                .live
                .as_ref()
                .and_then(|l| l.session.poll_timeout())
                .map(|t| self.epoch + t);
            // Checked every second of a session, however busy the coach is.
            let health = match (&self.live, self.next_health) {
                (None, _) => None,
                (Some(_), Some(at)) => Some(at),
                (Some(_), None) => Some(*self.next_health.insert(Instant::now() + HEALTH_CHECK)),
            };
            let wake = self.scheduler.next_wake();
            // A sound that answers a request is hurried out; a timed cue is not (every timed
            // cue is heard the same output buffer after its time, so their spacing is exact).
            let before = self.audio.before_request();
            let mut timed = false;
            tokio::select! {
                _ = &mut shutdown => break,
                req = requests.recv() => match req {
                    Some(req) => self.handle(req),
                    None => break,
                },
                _ = sleep_until(deadline) => {
                    timed = true;
                    let now = self.now();
                    if let Some(l) = self.live.as_mut() {
                        l.session.handle_timeout(now);
                    }
                }
                Some(done) = self.preparer.next() => match done {
                    Done::Prepared(p) => self.on_prepared(*p),
                    Done::Spoken(what, clip) => self.play_phrase(what, clip),
                    Done::Unspoken(what, why) => self.phrase_failed(what, why),
                },
                Some((id, loaded)) = self.loaded_rx.recv() => match (loaded, self.live.as_mut()) {
                    (Ok(sounds), Some(l)) if l.id == id => l.sounds.extend(sounds),
                    (Err(e), Some(l)) if l.id == id => {
                        log::error!("cannot read the session's sounds: {e}")
                    }
                    _ => {}
                },
                _ = sleep_until(health) => {
                    timed = true;
                    self.next_health = None;
                    match self.audio.check_health() {
                        Health::Fine => {}
                        Health::Reopen => self.reopen(),
                        Health::GiveUp => {
                            self.on_session(SessionCommand::Stop).ok();
                        }
                    }
                }
                Some(r) = self.readied_rx.recv() => self.on_readied(r),
                Some(r) = self.reloaded_rx.recv() => self.on_reloaded(r),
                Some(o) = self.opened_rx.recv() => self.on_reopened(o),
                _ = sleep_until(self.audio.close_at()) => {
                    self.audio.close_if_silent(self.live.is_some())
                }
                _ = wall_sleep(wake) => {
                    timed = true;
                    self.check_schedule();
                    self.publish();
                }
                Some(result) = self.written.recv() => self.on_written(result),
                Some(done) = self.synced.recv() => self.on_synced(done),
                _ = self.scheduler.zone_changed() => {
                    // Local times (daily sessions, the feed plan's times) move with the zone.
                    self.scheduler.follow_zone();
                    self.check_schedule();
                    self.prepare_ahead();
                    self.publish();
                }
            }
            self.drain_and_settle();
            if !timed {
                self.audio.after_request(before);
            }
        }
        if let Some(l) = self.live.as_mut() {
            let now = Instant::now() - self.epoch;
            let _ = l.session.stop(now);
        }
        self.drain_events();
        self.audio.close();
        log::info!("stopped");
    }

    /// Acts on what the engine emitted; when that ended the session, a schedule held while
    /// it ran may start now.
    fn drain_and_settle(&mut self) {
        if self.drain_events() {
            self.check_schedule();
            self.publish();
        }
    }

    fn handle(&mut self, request: Request) {
        log::debug!("request: {request:?}");
        match request {
            Request::Start(name, answer) => self.start(name, Starter::Client(answer)),
            Request::Session(command, answer) => {
                let silent = self.audio.mix().is_silent();
                let r = self.on_session(command);
                if r.is_ok() && silent && !command.is_heard() {
                    // Pausing, resuming or stopping in a silent moment (hands-on time) would
                    // be heard as nothing: a tone says it was done (after the stop has cleared
                    // the mix). Over a prompt, its stopping or going on is answer enough.
                    self.drain_and_settle();
                    self.acknowledge();
                }
                reply(answer, r)
            }
            Request::WhereAmI(answer) => reply(answer, self.where_am_i()),
            Request::ListRoutines(answer) => reply(answer, Ok(self.list_routines())),
            Request::Reload(answer) => self.reload(answer),
            Request::SetVolume(v, answer) => {
                let r = self.audio.set_volume(v);
                self.publish();
                reply(answer, r)
            }
            Request::Schedule(r) => self.on_schedule(r),
            Request::Summary(answer) => reply(answer, Ok(self.scheduler.summary_map())),
            Request::Announce(text, refused, answer) => reply(answer, self.announce(text, refused)),
            Request::TryVoice(engine, voice, answer) => self.try_voice(&engine, &voice, answer),
        }
    }

    /// Runs a command on the live session at the current time.
    fn on_session(&mut self, command: SessionCommand) -> Result<(), CoachError> {
        let max = crate::engine::MAX_EXTENSION.as_secs();
        if let SessionCommand::Extend(secs) = command
            && (secs == 0 || u64::from(secs) > max)
        {
            return Err(CoachError::InvalidArgument(format!(
                "cannot extend by {secs} seconds; give 1 to {max}"
            )));
        }
        let now = self.now();
        let session = &mut self.live.as_mut().ok_or_else(not_running)?.session;
        match command {
            SessionCommand::Stop => session.stop(now),
            SessionCommand::Pause => session.pause(now),
            SessionCommand::Resume => session.resume(now),
            SessionCommand::TogglePause => session.toggle_pause(now),
            SessionCommand::Next => session.next(now),
            SessionCommand::Previous => session.previous(now),
            SessionCommand::Repeat => session.repeat(now),
            SessionCommand::Extend(secs) => session.extend(now, Duration::from_secs(secs as u64)),
        }?;
        // Extend and Repeat change the step's length and what is left of it without an event
        // of their own: publish after every command, so properties never go stale.
        self.publish();
        Ok(())
    }

    fn library(&self) -> Library {
        Library::new(self.paths.clone())
    }

    /// Reads the routine `name` from its file (or the built-in ones), as it would start now:
    /// said first, which side is next (when the feed log says); with `sides_order =
    /// "next-feed"`, its side blocks begin with that side.
    fn find_routine(&self, name: &str) -> Result<Routine, CoachError> {
        // A name from the bus is only ever a name: a path is not read (`find_named`).
        let routine = self.library().find_named(name).map_err(|e| match e {
            LoadError::NotFound { .. } => CoachError::UnknownRoutine(e.to_string()),
            LoadError::Invalid(d) => {
                CoachError::InvalidRoutine(format!("routine \"{name}\" has problems:\n{d}"))
            }
        })?;
        use crate::phrase::{Breast, Phrase};
        use crate::schedule::Side;
        let (mut routine, first) = match self.scheduler.summary().next_side {
            Some(side @ Side::Left) => (routine.for_next_side(side.name()), Some(Breast::Left)),
            Some(side @ Side::Right) => (routine.for_next_side(side.name()), Some(Breast::Right)),
            _ => (routine, None),
        };
        // Which side is next is the session's first sentence.
        routine.lead_in = first.map(Phrase::SideNext);
        Ok(routine)
    }

    fn list_routines(&self) -> Vec<RoutineRow> {
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

    /// Re-reads the config and the routines beside the coach (they are files, and a slow disk
    /// must not hold a session's cues up); [`Coach::on_reloaded`] applies them and answers.
    fn reload(&mut self, answer: Answer<Vec<String>>) {
        let (paths, tx) = (self.paths.clone(), self.reloaded_tx.clone());
        tokio::task::spawn_blocking(move || {
            let read = super::caught::caught("reading the config and routines", || {
                Ok(read_for_reload(&paths))
            })
            .unwrap_or_else(|e| {
                Err(CoachError::InvalidConfig(format!(
                    "nothing was changed: {e}"
                )))
            });
            let _ = tx.send(Reloaded { read, answer });
        });
    }

    /// A reload's reading is done: the new config takes effect, and the caller hears what is
    /// wrong in the routines.
    fn on_reloaded(&mut self, r: Reloaded) {
        let result = r.read.map(|(cfg, problems)| {
            let changed = cfg != self.cfg;
            if changed {
                self.preparer.config_changed();
            }
            self.scheduler.configure(&cfg);
            self.cfg = cfg;
            if changed {
                // The answering voice may have changed.
                self.prepare_answer_heads();
            }
            for p in &problems {
                log::warn!("{p}");
            }
            // Prepared beside the coach: a session running now keeps its cues on time.
            self.prepare_ahead();
            self.publish();
            log::info!("reloaded config and routines ({} problems)", problems.len());
            problems
        });
        reply(r.answer, result);
    }

    fn publish(&self) {
        let volume = self.audio.volume();
        let mut snap = match (&self.live, &self.pending) {
            (None, None) => Snapshot::idle(volume),
            (None, Some(w)) => Snapshot {
                state: Phase::Preparing,
                routine: w.routine.clone(),
                ..Snapshot::idle(volume)
            },
            (Some(l), _) => {
                let st = l.session.status(self.now());
                let i = st.step.unwrap_or(0);
                Snapshot {
                    state: if st.state == State::Paused {
                        Phase::Paused
                    } else {
                        Phase::Running
                    },
                    routine: l.ready.routine.name.clone(),
                    routine_title: l.ready.routine.title.clone(),
                    step_index: i as u32,
                    step_count: l.ready.plan.steps.len() as u32,
                    step_title: l.ready.plan.steps[i].title.clone(),
                    // The step as it now stands: extensions and repeats included.
                    step_length: st.step_elapsed + st.step_remaining,
                    remaining: st.step_remaining,
                    anchor: std::time::Instant::now(),
                    open: st.open,
                    elapsed: st.step_elapsed,
                    ..Snapshot::idle(volume)
                }
            }
        };
        snap.next_session = self.scheduler.next_session();
        snap.feed_plan = self.scheduler.feed_plan_map();
        self.snapshot.send_replace(snap);
    }
}

/// What a reload read beside the coach, and whom to answer.
struct Reloaded {
    /// The new config and the problems found in routine files, or why nothing changed.
    read: Result<(Config, Vec<String>), CoachError>,
    answer: Answer<Vec<String>>,
}

/// Reads the config and every routine file for a reload (on a blocking thread): the config, or
/// why it cannot be used; and every problem in the routines, the default one (by the new
/// config) included.
fn read_for_reload(paths: &Paths) -> Result<(Config, Vec<String>), CoachError> {
    let cfg = Config::load(&paths.config_file())
        .map_err(|e| {
            CoachError::InvalidConfig(format!(
                "the config file has problems; nothing was changed:\n{e}"
            ))
        })?
        .on_this_machine(paths);
    let all = crate::routine::Library::new(paths.clone()).list();
    let mut problems: Vec<String> = all
        .iter()
        .filter_map(|e| e.routine.as_ref().err())
        .flatten()
        .map(|d| d.to_string())
        .collect();
    let default = &cfg.default_routine;
    if let Err(e) = crate::routine::named_in(all, default) {
        problems.push(format!("default routine \"{default}\": {e}"));
    }
    Ok((cfg, problems))
}

/// Sleeps until the wall-clock time `at` (never, without one). When the wall-clock timer
/// fails, it waits a second here, inside the future the coach races with everything else, and
/// returns: the schedule is checked again then, and no request waits meanwhile.
async fn wall_sleep(at: Option<jiff::Timestamp>) {
    let Some(t) = at else {
        return std::future::pending().await;
    };
    if let Err(e) = super::wallclock::sleep_until(t).await {
        log::error!("wall-clock timer: {e}; checking the schedule again in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn not_running() -> CoachError {
    CoachError::NotRunning("no session is running; start one with `letdown start`".into())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
