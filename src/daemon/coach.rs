//! The coach: one task that selects over its owners' deadlines and runs the session.
//!
//! D-Bus and MPRIS handlers never touch this state; they send a [`Request`] and wait for its
//! typed answer. The coach owns the session on air ([`Live`]) and three helpers, each the one
//! owner of its part: the [`Scheduler`] (feeds, schedules, the zone), the [`Audio`] supervisor
//! (mix, output, volume) and the [`Preparer`] (speech synthesized beside the coach). It sleeps
//! until the engine's next absolute deadline, so step boundaries never drift, and holds no
//! timer and no audio stream when idle.

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
use super::snapshot::{Signal, Snapshot};
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

/// Lateness up to which a sound is started part-way in, to stay on the plan's time.
const CATCH_UP: Duration = Duration::from_millis(50);
/// The breath between two phrases said one after the other.
const BREATH: Duration = Duration::from_millis(250);

/// How late a cue may be handed to the mix before the log says so.
const LATE_WARNING: Duration = Duration::from_millis(20);

/// How late cues were handed to the mix: the measure of a coach that never blocks.
#[derive(Debug, Default)]
pub struct CueTiming {
    /// Cues played.
    pub played: std::sync::atomic::AtomicU64,
    /// The latest any cue was, microseconds.
    pub worst_us: std::sync::atomic::AtomicU64,
}

impl CueTiming {
    fn record(&self, late: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.played.fetch_add(1, Relaxed);
        self.worst_us.fetch_max(late.as_micros() as u64, Relaxed);
        if late > LATE_WARNING {
            log::warn!("a cue was played {} ms late", late.as_millis());
        }
    }
}

/// Who waits for a routine being prepared, to start it when it is ready.
enum Starter {
    /// A client's Start call, answered when the session starts (or cannot).
    Client(Answer<()>),
    /// A scheduled session; `quiet` plays it at the quiet-hours volume.
    Scheduled { quiet: bool },
}

impl Starter {
    fn answer(self, result: Result<(), CoachError>) {
        match self {
            Starter::Client(answer) => reply(answer, result),
            Starter::Scheduled { .. } => {
                if let Err(e) = result {
                    log::error!("the scheduled session could not start: {e}");
                }
            }
        }
    }
}

/// A start waiting for its routine's speech to be prepared, then for its first sounds to be
/// read and the output opened (both beside the coach).
struct PendingStart {
    routine: String,
    starter: Starter,
    stage: Stage,
}

/// Where a pending start is.
enum Stage {
    /// Its speech is being synthesized.
    Preparing,
    /// Prepared; its first sounds are being read and the output opened.
    Opening {
        ready: Arc<Ready>,
        /// The first step's sounds, once read.
        sounds: Option<Result<Sounds, String>>,
    },
}

/// A session's first sounds read beside the coach, and the output if it was lent to be opened.
struct Readied {
    sounds: Result<Sounds, String>,
    opened: Option<Opened>,
}

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
    /// The output, back from being reopened beside the coach.
    opened_tx: mpsc::UnboundedSender<Opened>,
    opened_rx: mpsc::UnboundedReceiver<Opened>,
    /// How late cues were played.
    timing: Arc<CueTiming>,
    /// When the output's health is checked next (during a session).
    next_health: Option<Instant>,
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
        let (opened_tx, opened_rx) = mpsc::unbounded_channel();
        let (scheduler, written) = Scheduler::new(&cfg, &paths.data_dir);
        Self {
            scheduler,
            written,
            held: Default::default(),
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
            opened_tx,
            opened_rx,
            timing: Arc::default(),
            next_health: None,
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
            tokio::select! {
                _ = &mut shutdown => break,
                req = requests.recv() => match req {
                    Some(req) => self.handle(req),
                    None => break,
                },
                _ = sleep_until(deadline) => {
                    let now = self.now();
                    if let Some(l) = self.live.as_mut() {
                        l.session.handle_timeout(now);
                    }
                }
                Some(done) = self.preparer.next() => match done {
                    Done::Prepared(p) => self.on_prepared(*p),
                    Done::Spoken(what, clip) => self.play_phrase(what, clip),
                },
                Some((id, loaded)) = self.loaded_rx.recv() => match (loaded, self.live.as_mut()) {
                    (Ok(sounds), Some(l)) if l.id == id => l.sounds.extend(sounds),
                    (Err(e), Some(l)) if l.id == id => {
                        log::error!("cannot read the session's sounds: {e}")
                    }
                    _ => {}
                },
                _ = sleep_until(health) => {
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
                Some(o) = self.opened_rx.recv() => self.on_reopened(o),
                _ = sleep_until(self.audio.close_at()) => {
                    self.audio.close_if_silent(self.live.is_some())
                }
                w = wall_sleep(wake) => {
                    if let Err(e) = w {
                        log::error!("wall-clock timer: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    self.check_schedule();
                    self.publish();
                }
                Some(result) = self.written.recv() => self.on_written(result),
                _ = self.scheduler.zone_changed() => {
                    // Local times (daily sessions, the feed plan's times) move with the zone.
                    self.scheduler.follow_zone();
                    self.check_schedule();
                    self.prepare_ahead();
                    self.publish();
                }
            }
            if self.drain_events() {
                // A session ended: a schedule held while it ran may start now.
                self.check_schedule();
                self.publish();
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

    fn handle(&mut self, request: Request) {
        log::debug!("request: {request:?}");
        match request {
            Request::Start(name, answer) => self.start(name, Starter::Client(answer)),
            Request::Session(command, answer) => reply(answer, self.on_session(command)),
            Request::WhereAmI(answer) => reply(answer, self.where_am_i()),
            Request::ListRoutines(answer) => reply(answer, Ok(self.list_routines())),
            Request::Reload(answer) => reply(answer, self.reload()),
            Request::SetVolume(v, answer) => {
                let r = self.audio.set_volume(v);
                self.publish();
                reply(answer, r)
            }
            Request::Schedule(r) => self.on_schedule(r),
        }
    }

    fn on_schedule(&mut self, request: ScheduleRequest) {
        if self.scheduler.writing() {
            self.held.push_back(request);
            return;
        }
        let library = self.library();
        let exists = |name: &str| {
            library
                .find(name)
                .map(|_| ())
                .map_err(|e| CoachError::UnknownRoutine(e.to_string()))
        };
        let default = self.cfg.default_routine.clone();
        let preparer = &self.preparer;
        let warn = |plan: &FeedPlan| lead_warning(plan, &default, preparer);
        if self.scheduler.handle(request, exists, warn, &default) {
            self.prepare_ahead();
            self.publish();
        }
    }

    /// Runs a command on the live session at the current time.
    fn on_session(&mut self, command: SessionCommand) -> Result<(), CoachError> {
        if let SessionCommand::Extend(secs) = command
            && (secs == 0 || secs > 1800)
        {
            return Err(CoachError::InvalidArgument(format!(
                "cannot extend by {secs} seconds; give 1 to 1800"
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

    /// Reads the routine `name` from its file (or the built-in ones).
    fn find_routine(&self, name: &str) -> Result<Routine, CoachError> {
        self.library().find(name).map_err(|e| match e {
            LoadError::NotFound { .. } => CoachError::UnknownRoutine(e.to_string()),
            LoadError::Invalid(d) => {
                CoachError::InvalidRoutine(format!("routine \"{name}\" has problems:\n{d}"))
            }
        })
    }

    /// Prepares, beside the coach, the default routine and every routine that a schedule or
    /// the feed plan will start in the next days, so a session starts on the second, not
    /// after its synthesis. Called at start, after schedule changes, a reload and a zone change.
    fn prepare_ahead(&mut self) {
        let mut names = self.scheduler.routines_ahead(&self.cfg.default_routine);
        names.insert(self.cfg.default_routine.clone());
        for name in names {
            match self.find_routine(&name) {
                Ok(r) => self.preparer.prepare(r, &self.cfg, &self.paths),
                Err(e) => log::warn!("cannot prepare \"{name}\": {e}"),
            }
        }
    }

    /// A preparation finished: start the session that waited for it.
    fn on_prepared(&mut self, p: Prepared) {
        let waiting = self
            .pending
            .as_ref()
            .is_some_and(|w| w.routine == p.name && matches!(w.stage, Stage::Preparing));
        let name = p.name.clone();
        match self.preparer.finish(p) {
            Finished::Ready(ready) if waiting => {
                let w = self.pending.take().expect("a pending start");
                self.begin(ready, w.starter);
            }
            Finished::Failed(e) if waiting => self.fail_pending(e),
            // The config changed while it ran: prepare again with the new one.
            Finished::Stale if waiting => match self.find_routine(&name) {
                Ok(r) => self.preparer.prepare(r, &self.cfg, &self.paths),
                Err(e) => self.fail_pending(e),
            },
            _ => {}
        }
        self.publish();
    }

    fn fail_pending(&mut self, e: CoachError) {
        if let Some(w) = self.pending.take() {
            w.starter.answer(Err(e));
            self.publish();
        }
    }

    /// Starts a routine ("" = the default): at once when its speech is ready, otherwise as soon
    /// as it has been prepared. The starter is answered then.
    fn start(&mut self, name: String, starter: Starter) {
        if let Some(l) = &self.live {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{}\" is already running; stop it first with `letdown stop`",
                l.ready.routine.name
            ))));
        }
        if let Some(w) = &self.pending {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{}\" is being prepared and starts when it is ready",
                w.routine
            ))));
        }
        let name = if name.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            name
        };
        let routine = match self.find_routine(&name) {
            Ok(r) => r,
            Err(e) => return starter.answer(Err(e)),
        };
        match self.preparer.ready_for(&routine) {
            Some(ready) => self.begin(ready, starter),
            None => {
                log::info!("\"{}\" starts when its speech is prepared", routine.name);
                self.pending = Some(PendingStart {
                    routine: routine.name.clone(),
                    starter,
                    stage: Stage::Preparing,
                });
                self.preparer.prepare(routine, &self.cfg, &self.paths);
                self.publish();
            }
        }
    }

    /// Begins a session of a prepared routine: its first sounds are read and the output opened
    /// beside the coach ([`Coach::on_readied`] starts it and answers the starter).
    fn begin(&mut self, ready: Arc<Ready>, starter: Starter) {
        let first: Vec<Sound> = ready.plan.steps[0].cues.iter().map(|c| c.sound).collect();
        let index = ready.sounds.clone();
        let lent = self.audio.lend();
        let tx = self.readied_tx.clone();
        tokio::task::spawn_blocking(move || {
            let sounds = index.load(first);
            let opened = lent.map(|(mut out, mix)| {
                let result = out.open(mix);
                (out, result)
            });
            let _ = tx.send(Readied { sounds, opened });
        });
        self.pending = Some(PendingStart {
            routine: ready.routine.name.clone(),
            starter,
            stage: Stage::Opening {
                ready,
                sounds: None,
            },
        });
        self.publish();
    }

    /// A starting session's first sounds are read (and the output opened, if it was closed).
    fn on_readied(&mut self, r: Readied) {
        let opened = r.opened.map(|o| self.audio.put_back(o));
        if let Some(PendingStart {
            stage: Stage::Opening { sounds, .. },
            ..
        }) = self.pending.as_mut()
        {
            *sounds = Some(r.sounds);
        }
        match opened {
            Some(Err(e)) => self.fail_start(e),
            _ => self.try_begin(),
        }
    }

    /// The output is back from being reopened.
    fn on_reopened(&mut self, o: Opened) {
        match self.audio.put_back(o) {
            Ok(()) => self.try_begin(),
            Err(e) if self.live.is_some() => log::debug!("still no sound output: {e}"),
            Err(e) => {
                log::warn!("{e}");
                self.fail_start(e);
            }
        }
    }

    /// Opens the output beside the coach if it is closed and not already being opened.
    fn reopen(&mut self) {
        if let Some(lent) = self.audio.lend() {
            open_output(lent, self.opened_tx.clone());
        }
    }

    /// Starts the pending session if its sounds are read and the output is open.
    fn try_begin(&mut self) {
        let ready_to_go = matches!(
            &self.pending,
            Some(PendingStart {
                stage: Stage::Opening {
                    sounds: Some(_),
                    ..
                },
                ..
            })
        ) && self.audio.is_open();
        if !ready_to_go {
            return;
        }
        let Some(PendingStart {
            starter,
            stage:
                Stage::Opening {
                    ready,
                    sounds: Some(sounds),
                },
            ..
        }) = self.pending.take()
        else {
            return;
        };
        let quiet = matches!(starter, Starter::Scheduled { quiet: true });
        let result = sounds
            .map_err(|e| CoachError::SpeechFailed(format!("cannot read the prepared speech: {e}")))
            .and_then(|sounds| {
                self.begin_session(ready, sounds, quiet.then_some(self.cfg.quiet_volume))
            });
        starter.answer(result);
        self.publish();
    }

    /// A start that cannot go on (no sound output): its starter hears why.
    fn fail_start(&mut self, e: CoachError) {
        if matches!(
            &self.pending,
            Some(PendingStart {
                stage: Stage::Opening { .. },
                ..
            })
        ) && let Some(w) = self.pending.take()
        {
            w.starter.answer(Err(e));
            self.publish();
        }
    }

    fn begin_session(
        &mut self,
        ready: Arc<Ready>,
        sounds: Sounds,
        quiet: Option<f64>,
    ) -> Result<(), CoachError> {
        self.audio.begin_session(quiet);
        self.sessions += 1;
        let id = self.sessions;
        // The rest of the routine's sounds are read beside the coach, long before the second
        // step needs them.
        let (index, tx) = (ready.sounds.clone(), self.loaded_tx.clone());
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

    fn where_am_i(&mut self) -> Result<String, CoachError> {
        let now = self.now();
        let live = self.live.as_mut().ok_or_else(not_running)?;
        let w = live.where_am_i(now);
        let id = live.id;
        let voice = live.ready.routine.voice.clone();
        self.say(w.clips);
        // A time left that the phrase bank does not have (the step was extended past its
        // planned length) is synthesized beside the coach and said when ready: never silence.
        for text in w.missing {
            self.preparer
                .speak(text, PhraseFor::Session(id), &self.cfg, &voice, &self.paths);
        }
        Ok(w.text)
    }

    /// Plays phrases one after the other (through a pause), after any still being said.
    fn say(&mut self, clips: Vec<Clip>) {
        let mut at = self.phrases_end.saturating_duration_since(Instant::now());
        let mut m = self.audio.mix();
        for clip in clips {
            let mut padded = vec![0.0; to_samples(at) as usize];
            padded.extend_from_slice(clip.samples());
            at += clip.duration() + BREATH;
            m.play_through_pause(Clip::new(padded), 1.0);
        }
        drop(m);
        self.phrases_end = Instant::now() + at;
    }

    /// A phrase synthesized beside the coach is ready.
    fn play_phrase(&mut self, what: PhraseFor, clip: Clip) {
        match what {
            PhraseFor::Session(id) if self.live.as_ref().is_some_and(|l| l.id == id) => {
                self.say(vec![clip])
            }
            PhraseFor::Session(_) => {}
            PhraseFor::HeadsUp => {
                self.audio.announce(clip, self.live.is_some());
                self.reopen();
                log::info!("heads-up spoken");
            }
        }
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

    fn reload(&mut self) -> Result<Vec<String>, CoachError> {
        let cfg = Config::load(&self.paths.config_file()).map_err(|e| {
            CoachError::InvalidConfig(format!(
                "the config file has problems; nothing was changed:\n{e}"
            ))
        })?;
        if cfg != self.cfg {
            self.preparer.config_changed();
        }
        self.scheduler.configure(&cfg);
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
        self.prepare_ahead();
        self.publish();
        log::info!("reloaded config and routines ({} problems)", problems.len());
        Ok(problems)
    }

    /// A change is on disk (or could not be written): start the sessions it recorded, then
    /// handle what waited for it.
    fn on_written(&mut self, result: WriteResult) {
        let failed = result.is_err();
        for o in self.scheduler.written(result) {
            self.run_scheduled(o);
        }
        while !self.scheduler.writing()
            && let Some(r) = self.held.pop_front()
        {
            self.on_schedule(r);
        }
        self.check_schedule();
        if failed {
            self.prepare_ahead();
        }
        self.publish();
    }

    /// Starts a scheduled session whose record is on disk.
    fn run_scheduled(&mut self, o: crate::schedule::Occurrence) {
        let reason = self.scheduler.reason(&o);
        log::info!("scheduled session {} ({reason}) fires", o.id());
        let _ = self
            .signals
            .send(Signal::ScheduleFired(o.id(), o.routine.clone(), reason));
        self.start(o.routine.clone(), Starter::Scheduled { quiet: o.quiet });
    }

    /// Gives heads-ups and records what has come due (its sessions start once that is on disk).
    fn check_schedule(&mut self) {
        let busy = self.live.is_some() || self.pending.is_some();
        if let Some(minutes) = self.scheduler.due(busy) {
            log::info!("heads-up: session in {minutes} min");
            let text = crate::phrase::Phrase::StartsIn(minutes).text();
            self.preparer.speak(
                text,
                PhraseFor::HeadsUp,
                &self.cfg,
                &Default::default(),
                &self.paths,
            );
        }
    }

    /// Acts on everything the engine emitted: sounds into the mix, signals and snapshots out.
    /// True when the session ended.
    fn drain_events(&mut self) -> bool {
        let Some(live) = self.live.as_mut() else {
            return false;
        };
        let now = Instant::now() - self.epoch;
        let (mut changed, mut finished) = (false, false);
        while let Some(ev) = live.session.poll_event() {
            // A sound not yet in memory is read from disk before the mix is locked: the audio
            // callback never waits on the disk.
            let clip = match ev.kind {
                EventKind::Play(sound) => live.clip(sound),
                _ => None,
            };
            let mut m = self.audio.mix();
            match ev.kind {
                EventKind::Play(sound) => {
                    if let Some(clip) = clip {
                        let late = now.saturating_sub(ev.at);
                        self.timing.record(late);
                        let skip = if late <= CATCH_UP {
                            to_samples(late) as usize
                        } else {
                            0
                        };
                        let gain = match sound {
                            Sound::Tone(_) => self.cfg.earcon_volume as f32,
                            _ => 1.0,
                        };
                        m.play(clip, gain, skip);
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
                    let name = live.ready.routine.name.clone();
                    let how = if completed { "completed" } else { "stopped" };
                    log::info!("session of \"{name}\" {how}");
                    let _ = self.signals.send(Signal::SessionFinished(name, completed));
                    finished = true;
                }
                EventKind::SessionStarted => changed = true,
            }
        }
        if finished {
            self.live = None;
            self.audio.end_session();
        }
        if finished || changed {
            self.publish();
        }
        finished
    }

    fn publish(&self) {
        let volume = self.audio.volume();
        let mut snap = match (&self.live, &self.pending) {
            (None, None) => Snapshot::idle(volume),
            (None, Some(w)) => Snapshot {
                state: "preparing",
                routine: w.routine.clone(),
                ..Snapshot::idle(volume)
            },
            (Some(l), _) => {
                let st = l.session.status(self.now());
                let i = st.step.unwrap_or(0);
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
                    step_title: l.ready.plan.steps[i].title.clone(),
                    // The step as it now stands: extensions and repeats included.
                    step_length: st.step_elapsed + st.step_remaining,
                    remaining: st.step_remaining,
                    anchor: std::time::Instant::now(),
                    ..Snapshot::idle(volume)
                }
            }
        };
        snap.next_session = self.scheduler.next_session();
        snap.feed_plan = self.scheduler.feed_plan_map();
        self.snapshot.send_replace(snap);
    }
}

/// Says so when a feed plan's lead is shorter than its routine (as last prepared).
fn lead_warning(plan: &FeedPlan, default_routine: &str, preparer: &Preparer) -> Option<String> {
    let name = if plan.routine.is_empty() {
        default_routine
    } else {
        &plan.routine
    };
    let total = preparer.last_prepared(name)?.plan.total();
    let lead = Duration::from_secs(plan.lead);
    (lead < total).then(|| {
        format!(
            "the lead ({}) is shorter than \"{name}\" ({}): the session will still be running when the feed is due",
            crate::duration::show(lead),
            crate::duration::show(total)
        )
    })
}

async fn wall_sleep(at: Option<jiff::Timestamp>) -> std::io::Result<super::wallclock::Wake> {
    match at {
        Some(t) => super::wallclock::sleep_until(t).await,
        None => std::future::pending().await,
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
