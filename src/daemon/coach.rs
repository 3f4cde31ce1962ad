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
    /// Problems found (reload).
    Problems(Vec<String>),
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
    loaded_tx: mpsc::UnboundedSender<(u64, Result<Sounds, String>)>,
    loaded_rx: mpsc::UnboundedReceiver<(u64, Result<Sounds, String>)>,
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
        let volume = cfg.volume;
        let mix = Arc::new(Mutex::new(Mix::new()));
        mix.lock().expect("new mutex").set_volume(volume as f32);
        let (loaded_tx, loaded_rx) = mpsc::unbounded_channel();
        Self {
            sessions: 0,
            loaded_tx,
            loaded_rx,
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
        let default = self.cfg.default_routine.clone();
        if let Err(e) = self.ready(&default).await {
            log::warn!("could not prepare the default routine \"{default}\": {e}");
        }
        loop {
            let deadline = self
                .live
                .as_ref()
                .and_then(|l| l.session.poll_timeout())
                .map(|t| self.epoch + t);
            let health = self.live.as_ref().map(|_| Instant::now() + HEALTH_CHECK);
            tokio::select! {
                _ = &mut shutdown => break,
                req = requests.recv() => match req {
                    Some(req) => {
                        let result = self.handle(req.command).await;
                        let _ = req.reply.send(result);
                    }
                    None => break,
                },
                _ = sleep_until(deadline) => {
                    let now = self.now();
                    if let Some(l) = self.live.as_mut() {
                        l.session.handle_timeout(now);
                    }
                }
                _ = sleep_until(health) => self.check_output(),
                _ = sleep_until(self.close_output_at) => self.close_output_if_silent(),
                Some((id, loaded)) = self.loaded_rx.recv() => match (loaded, self.live.as_mut()) {
                    (Ok(sounds), Some(l)) if l.id == id => l.sounds.extend(sounds),
                    (Err(e), Some(l)) if l.id == id => log::error!("cannot read the session's sounds: {e}"),
                    _ => {}
                },
            }
            self.drain_events();
        }
        if let Some(l) = self.live.as_mut() {
            let now = Instant::now() - self.epoch;
            let _ = l.session.stop(now);
        }
        self.drain_events();
        self.output.close();
        log::info!("stopped");
    }

    async fn handle(&mut self, command: Command) -> Result<Reply, CoachError> {
        log::debug!("request: {command:?}");
        let now = self.now();
        match command {
            Command::Start(name) => self.start(name).await.map(|()| Reply::Done),
            Command::Stop => session(&mut self.live)?
                .stop(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::Pause => session(&mut self.live)?
                .pause(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::Resume => session(&mut self.live)?
                .resume(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::TogglePause => session(&mut self.live)?
                .toggle_pause(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::Next => session(&mut self.live)?
                .next(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::Previous => session(&mut self.live)?
                .previous(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::Repeat => session(&mut self.live)?
                .repeat(now)
                .map(|()| Reply::Done)
                .map_err(Into::into),
            Command::Extend(secs) => {
                if secs == 0 || secs > 1800 {
                    return Err(CoachError::InvalidArgument(format!(
                        "cannot extend by {secs} seconds; give 1 to 1800"
                    )));
                }
                session(&mut self.live)?
                    .extend(now, Duration::from_secs(secs as u64))
                    .map(|()| Reply::Done)
                    .map_err(Into::into)
            }
            Command::WhereAmI => self.where_am_i(),
            Command::ListRoutines => Ok(Reply::Routines(self.list_routines())),
            Command::Reload => self.reload().await,
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

    /// The prepared routine `name`, from memory when its file is unchanged.
    async fn ready(&mut self, name: &str) -> Result<Arc<Ready>, CoachError> {
        let routine: Routine = self.library().find(name).map_err(|e| match e {
            LoadError::NotFound { .. } => CoachError::UnknownRoutine(e.to_string()),
            LoadError::Invalid(d) => {
                CoachError::InvalidRoutine(format!("routine \"{name}\" has problems:\n{d}"))
            }
        })?;
        if let Some(r) = self.prepared.get(&routine.name)
            && r.routine == routine
        {
            return Ok(Arc::clone(r));
        }
        let cfg = self.cfg.clone();
        let paths = self.paths.clone();
        let key = routine.name.clone();
        let ready = tokio::task::spawn_blocking(move || prepare(routine, &cfg, &paths))
            .await
            .map_err(|e| CoachError::SpeechFailed(format!("preparing failed: {e}")))?
            .map_err(|e| CoachError::SpeechFailed(e.to_string()))?;
        for w in &ready.warnings {
            log::warn!("{w}");
        }
        log::info!(
            "prepared \"{key}\" ({} texts synthesized) in {:?}",
            ready.synthesized,
            ready.took
        );
        let ready = Arc::new(ready);
        self.prepared.insert(key, Arc::clone(&ready));
        Ok(ready)
    }

    async fn start(&mut self, name: String) -> Result<(), CoachError> {
        if let Some(l) = &self.live {
            return Err(CoachError::AlreadyRunning(format!(
                "\"{}\" is already running; stop it first with `letdown stop`",
                l.ready.routine.name
            )));
        }
        let name = if name.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            name
        };
        let ready = self.ready(&name).await?;
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
        let live = self.live.as_mut().ok_or_else(|| {
            CoachError::NotRunning("no session is running; start one with `letdown start`".into())
        })?;
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
        let mut m = self.mix.lock().expect("mix lock");
        let mut gap = 0usize;
        for s in sounds {
            if let Some(clip) = sound_clip(live, s) {
                // The second phrase follows the first after a short breath.
                let mut padded = vec![0.0; gap];
                padded.extend_from_slice(clip.samples());
                gap = to_samples(clip.duration() + Duration::from_millis(250)) as usize;
                m.play_through_pause(crate::clip::Clip::new(padded), 1.0);
            }
        }
        Ok(Reply::Text(text))
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

    async fn reload(&mut self) -> Result<Reply, CoachError> {
        let cfg = Config::load(&self.paths.config_file()).map_err(|e| {
            CoachError::InvalidConfig(format!(
                "the config file has problems; nothing was changed:\n{e}"
            ))
        })?;
        if cfg != self.cfg {
            self.prepared.clear();
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
        if let Err(e) = self.ready(&default).await {
            problems.push(format!("default routine \"{default}\": {e}"));
        }
        log::info!("reloaded config and routines ({} problems)", problems.len());
        Ok(Reply::Problems(problems))
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
    fn drain_events(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let now = Instant::now() - self.epoch;
        let mut changed = false;
        let mut finished = false;
        while let Some(ev) = live.session.poll_event() {
            let mut m = self.mix.lock().expect("mix lock");
            match ev.kind {
                EventKind::Play(sound) => {
                    if let Some(clip) = sound_clip(live, sound) {
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
            self.mix.lock().expect("mix lock").set_paused(false);
            self.close_output_at = Some(Instant::now() + Duration::from_millis(200));
            self.publish();
        } else if changed {
            self.publish();
        }
    }

    fn publish(&self) {
        let snap = match &self.live {
            None => Snapshot::idle(self.volume),
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
                    step_length: step.length,
                    remaining: st.step_remaining,
                    anchor: std::time::Instant::now(),
                    volume: self.volume,
                }
            }
        };
        self.snapshot.send_replace(snap);
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

fn session(live: &mut Option<Live>) -> Result<&mut Session, CoachError> {
    live.as_mut().map(|l| &mut l.session).ok_or_else(|| {
        CoachError::NotRunning("no session is running; start one with `letdown start`".into())
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
