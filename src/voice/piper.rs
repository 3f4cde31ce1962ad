//! Piper: a neural voice, the most natural one that installs here (`scripts/install
//! --natural-voice` puts `piper-tts` and a voice into a venv under letdown's data folder).
//!
//! Loading a Piper model takes over a second; speaking a sentence with it loaded, well under
//! one. So one **worker** process (`piper_worker.py`) loads the model once and speaks every
//! text sent to it. It starts when speech is first needed and exits after [`IDLE`] without
//! work, so an idle letdownd holds no memory for it. A thread of its own owns the worker: the
//! process is tied to that thread's life (it gets SIGKILL if the thread ends), is stopped with
//! its whole process group when a text takes longer than its limit, and is replaced by a fresh
//! one at the next text.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::catalog::InstalledVoice;
use super::{
    EngineKind, HUNG, Job, SpeakError, SpeechEngine, Spoken, VoiceSettings, limit_for, one_by_one,
};

/// The voice installed by `scripts/install --natural-voice`.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

/// How long a worker waits for work before it exits and frees its memory.
pub const IDLE: Duration = Duration::from_secs(120);

/// [`IDLE`], or `LETDOWN_PIPER_IDLE` seconds (for tests and benchmarks): the default of
/// [`super::VoiceConfig::piper_idle`].
pub fn idle_from_env() -> Duration {
    std::env::var("LETDOWN_PIPER_IDLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(IDLE, Duration::from_secs_f64)
}

/// Workers started by this process so far.
static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many workers this process has started (each loads its model once): for tests and
/// benchmarks.
pub fn workers_started() -> u64 {
    STARTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The worker's program, run as `python -c SCRIPT MODEL`.
const WORKER: &str = include_str!("piper_worker.py");

/// Where the natural voice lives under letdown's data folder: the venv, and the models
/// (`NAME.onnx` with `NAME.onnx.json`) any Piper voice can be dropped into.
pub struct PiperHome {
    /// The venv's Python.
    pub python: PathBuf,
    /// The folder of voice models.
    pub voices: PathBuf,
}

impl PiperHome {
    /// The layout under `data_dir` (`~/.local/share/letdown`).
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            python: data_dir.join("piper/venv/bin/python"),
            voices: data_dir.join("voices/piper"),
        }
    }

    /// The model file of voice `name`.
    pub fn model(&self, name: &str) -> PathBuf {
        self.voices.join(format!("{name}.onnx"))
    }
}

/// The Piper voices installed under `data_dir` (none without the venv).
pub fn installed_voices(data_dir: &Path) -> Vec<InstalledVoice> {
    let home = PiperHome::in_data_dir(data_dir);
    if !home.python.is_file() {
        return Vec::new();
    }
    let Ok(files) = std::fs::read_dir(&home.voices) else {
        return Vec::new();
    };
    let mut voices = Vec::new();
    for f in files.flatten() {
        let file = f.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".onnx") else {
            continue;
        };
        if super::check_voice_name(name).is_err() {
            continue;
        }
        // Piper names voices LANGUAGE_REGION-SPEAKER-QUALITY.
        let language = name.split('-').next().unwrap_or("").replace('_', "-");
        voices.push(InstalledVoice {
            engine: EngineKind::Piper,
            name: name.to_string(),
            language,
            gender: (name == DEFAULT_VOICE).then_some("male"),
            kind: super::catalog::Kind::Piper,
            within: u32::from(name != DEFAULT_VOICE),
        });
    }
    voices
}

/// Speaks through a Piper worker.
pub struct PiperEngine {
    settings: VoiceSettings,
    home: PiperHome,
    idle: Duration,
}

impl PiperEngine {
    /// An engine with these settings, using the venv and voices under `data_dir`; its worker
    /// leaves after `idle` without work.
    pub fn new(settings: VoiceSettings, data_dir: &Path, idle: Duration) -> Self {
        Self {
            settings,
            home: PiperHome::in_data_dir(data_dir),
            idle,
        }
    }

    fn voice(&self) -> &str {
        self.settings.voice.as_deref().unwrap_or(DEFAULT_VOICE)
    }

    /// Slower speech is a longer length scale.
    fn length_scale(&self) -> f64 {
        1.0 / self.settings.speed
    }

    fn key(&self) -> WorkerKey {
        WorkerKey {
            python: self.home.python.clone(),
            model: self.home.model(self.voice()),
            idle: self.idle,
        }
    }
}

impl SpeechEngine for PiperEngine {
    fn name(&self) -> &str {
        "piper"
    }

    fn identity(&self) -> String {
        format!("piper {} {:.3}", self.voice(), self.length_scale())
    }

    fn synthesize(&self, jobs: &[Job]) -> Vec<super::Spoken> {
        let key = self.key();
        let missing = if !key.python.is_file() {
            Some(format!(
                "Piper is not installed ({} is missing); install it with `scripts/install --natural-voice`",
                key.python.display()
            ))
        } else if !key.model.is_file() {
            Some(format!(
                "the Piper voice \"{}\" is not installed (no {})",
                self.voice(),
                key.model.display()
            ))
        } else {
            None
        };
        if let Some(e) = missing {
            return jobs.iter().map(|_| Err(e.clone().into())).collect();
        }
        // Loading the model is part of the first text's time.
        let load = self.settings.timeout;
        one_by_one(jobs, |job| {
            speak(
                &key,
                Work {
                    text: job.text.clone(),
                    out: job.out.clone(),
                    length_scale: self.length_scale(),
                    limit: limit_for(&self.settings, 1),
                    load,
                },
            )
        })
    }
}

/// Which worker can speak a text: the same Python and the same model.
#[derive(Debug, Clone, PartialEq)]
struct WorkerKey {
    python: PathBuf,
    model: PathBuf,
    /// How long the worker waits for work before it leaves.
    idle: Duration,
}

/// One text for the worker.
struct Work {
    text: String,
    out: PathBuf,
    length_scale: f64,
    /// How long the text may take.
    limit: Duration,
    /// How long loading the model may take, when the worker is new.
    load: Duration,
}

/// A text and where to send how it went.
type Request = (Work, Sender<Spoken>);

/// The running worker's thread: where to send it texts.
struct Running {
    key: WorkerKey,
    tx: Sender<Request>,
}

/// The worker in use (at most one: a model takes over 200 MB).
static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Speaks one text through the worker for `key`, starting one if there is none (or it
/// exited, or speaks another voice).
fn speak(key: &WorkerKey, work: Work) -> Spoken {
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    let (answer_tx, answer_rx) = mpsc::channel();
    let wait = work.limit + work.load;
    let mut request = (work, answer_tx);
    // A worker that exited (idle, or stopped) drops its receiver: the send fails and gives
    // the request back, and a new worker takes it.
    if let Some(r) = running.as_ref().filter(|r| r.key == *key) {
        match r.tx.send(request) {
            Ok(()) => return wait_for(answer_rx, wait),
            Err(mpsc::SendError(back)) => request = back,
        }
    }
    let (tx, rx) = mpsc::channel();
    let owner_key = key.clone();
    std::thread::Builder::new()
        .name("piper-worker".into())
        .spawn(move || own_worker(owner_key, rx))
        .map_err(|e| format!("cannot start a thread for Piper: {e}"))?;
    tx.send(request)
        .map_err(|_| "the Piper worker's thread ended at once".to_string())?;
    *running = Some(Running {
        key: key.clone(),
        tx,
    });
    wait_for(answer_rx, wait)
}

/// The worker's answer, or an error once it cannot come any more.
fn wait_for(rx: Receiver<Spoken>, wait: Duration) -> Spoken {
    // The worker's thread enforces the limits; this is only a backstop.
    match rx.recv_timeout(wait + Duration::from_secs(5)) {
        Ok(r) => r,
        Err(_) => Err(SpeakError::Hung(format!(
            "the Piper worker {HUNG} {}",
            crate::duration::show(wait)
        ))),
    }
}

/// The worker's thread: starts the process, feeds it texts one at a time, and ends (killing
/// the process) after [`IDLE`] without work, or when a text or the model's load overruns.
fn own_worker(key: WorkerKey, requests: Receiver<Request>) {
    let Ok((work, answer)) = requests.recv() else {
        return;
    };
    let mut worker = match Worker::start(&key, work.load) {
        Ok(w) => w,
        Err(e) => {
            let _ = answer.send(Err(e));
            return;
        }
    };
    log::info!("Piper worker started for {}", key.model.display());
    let mut next = Some((work, answer));
    loop {
        let (work, answer) = match next.take() {
            Some(r) => r,
            None => match requests.recv_timeout(key.idle) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    log::info!("Piper worker idle: stopped");
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        let result = worker.speak(&work);
        // A worker that hung or died is done: the next text starts a new one.
        let failed = matches!(result, Err(SpeakError::Hung(_) | SpeakError::Ended(_)));
        let _ = answer.send(result);
        if failed {
            return;
        }
    }
}

/// The worker process.
struct Worker {
    child: Child,
    stdin: std::process::ChildStdin,
    replies: Receiver<String>,
}

impl Worker {
    /// Starts the worker and waits for its model to load.
    fn start(key: &WorkerKey, load: Duration) -> Result<Self, SpeakError> {
        let mut command = super::tied_command(&key.python);
        command
            .arg("-c")
            .arg(WORKER)
            .arg(&key.model)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command
            .spawn()
            .map_err(|e| SpeakError::Failed(format!("cannot run {}: {e}", key.python.display())))?;
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            replies,
        };
        match worker.reply(load, "loading the voice")? {
            r if r == "ready" => Ok(worker),
            r => Err(SpeakError::Failed(
                r.strip_prefix("error ").map_or(r.clone(), str::to_string),
            )),
        }
    }

    /// The worker's next line, within `limit`.
    fn reply(&mut self, limit: Duration, doing: &str) -> Result<String, SpeakError> {
        match self.replies.recv_timeout(limit) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(SpeakError::Hung(format!(
                "the Piper worker {HUNG} {} {doing} and was stopped",
                crate::duration::show(limit)
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(SpeakError::Ended(format!(
                    "the Piper worker ended ({status}) {doing}"
                )))
            }
        }
    }

    /// Speaks one text into its file.
    fn speak(&mut self, work: &Work) -> Spoken {
        let line = serde_json::json!({
            "text": work.text,
            "out": work.out,
            "length_scale": work.length_scale,
        });
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| SpeakError::Ended(format!("the Piper worker ended ({e})")))?;
        match self.reply(work.limit, "speaking")? {
            r if r == "ok" => Ok(()),
            r => Err(SpeakError::Failed(
                r.strip_prefix("error ").map_or(r.clone(), str::to_string),
            )),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        super::kill_group(&mut self.child);
    }
}
