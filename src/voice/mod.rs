//! The voice: text in, audio clips out, ready before they are needed.
//!
//! A small [`SpeechEngine`] trait has one implementation per synthesizer (Festival, espeak-ng,
//! or any command that writes WAV). [`Voice`] puts a disk cache in front of them and falls back
//! to the next engine when one fails, so a session is never silent because of one broken engine.

mod cache;
pub mod catalog;
mod command;
pub mod espeak;
pub mod festival;
pub mod flite;
pub mod piper;
pub mod rhvoice;
mod settings;

pub use cache::{Cache, Cached};
pub use command::CommandEngine;
pub use espeak::EspeakEngine;
pub use festival::FestivalEngine;
pub use flite::FliteEngine;
pub use piper::PiperEngine;
pub use rhvoice::RhvoiceEngine;
pub use settings::{
    EngineKind, VoiceConfig, VoiceOverride, VoiceSettings, check_language, check_voice_name,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clip::Clip;

/// Silence kept after the last sound of a synthesized phrase.
pub const TAIL_PAD: Duration = Duration::from_millis(40);

/// One synthesis job: speak `text` into the WAV file `out`.
#[derive(Debug, Clone)]
pub struct Job {
    /// What to say.
    pub text: String,
    /// Where the engine writes its WAV.
    pub out: PathBuf,
}

/// A speech synthesizer.
pub trait SpeechEngine: Send + Sync {
    /// The engine's name, as in config files.
    fn name(&self) -> &str;

    /// Everything that changes the engine's output besides the text (voice, speed, command),
    /// as one string: part of the cache key.
    fn identity(&self) -> String;

    /// Speaks every job into its file, as fast as the engine allows. One result per job.
    fn synthesize(&self, jobs: &[Job]) -> Vec<Spoken>;
}

/// Makes the engine called `name` with `cfg`'s settings.
pub fn engine(
    kind: EngineKind,
    cfg: &VoiceConfig,
    settings: &VoiceSettings,
) -> Result<Box<dyn SpeechEngine>, String> {
    match kind {
        EngineKind::Festival => Ok(Box::new(FestivalEngine::new(settings.clone()))),
        EngineKind::EspeakNg => Ok(Box::new(EspeakEngine::new(settings.clone()))),
        EngineKind::Flite => Ok(Box::new(FliteEngine::new(settings.clone()))),
        EngineKind::Rhvoice => Ok(Box::new(RhvoiceEngine::new(settings.clone()))),
        EngineKind::Piper => Ok(Box::new(PiperEngine::new(
            settings.clone(),
            &cfg.data_dir(),
            cfg.piper_idle,
        ))),
        EngineKind::Command => {
            if cfg.command.is_empty() {
                return Err("the command engine needs `command` in [voice] of config.toml".into());
            }
            Ok(Box::new(CommandEngine::new(
                cfg.command.clone(),
                settings.clone(),
            )))
        }
    }
}

/// How many engine processes to run side by side.
pub fn parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
}

/// Runs `work` over `jobs` split into `parallelism()` chunks on scoped threads.
pub fn in_parallel<F>(jobs: &[Job], work: F) -> Vec<Spoken>
where
    F: Fn(&[Job]) -> Vec<Spoken> + Sync,
{
    if jobs.is_empty() {
        return Vec::new();
    }
    let chunk = jobs.len().div_ceil(parallelism());
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs.chunks(chunk).map(|c| s.spawn(|| work(c))).collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(SpeakError::Failed("synthesis thread panicked".into()))]
                })
            })
            .collect()
    })
}

/// Speaks `jobs` one by one with `speak`; once one hangs (runs out of its time), the rest are
/// not tried with this engine, so a hung engine costs one timeout, not one per text.
pub fn one_by_one<F>(jobs: &[Job], speak: F) -> Vec<Spoken>
where
    F: Fn(&Job) -> Spoken,
{
    let mut out = Vec::with_capacity(jobs.len());
    let mut hung: Option<SpeakError> = None;
    for job in jobs {
        let r = match &hung {
            Some(e) => Err(e.clone()),
            None => speak(job),
        };
        if let Err(e @ SpeakError::Hung(_)) = &r {
            hung = Some(e.clone());
        }
        out.push(r);
    }
    out
}

/// What `run` says of a program it had to stop.
pub(crate) const HUNG: &str = "did not finish within";

/// Why an engine gave a text no voice: the kind matched on, the words for people.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeakError {
    /// It ran past its time and was stopped: its other texts are not tried with it.
    Hung(String),
    /// Its process ended under it (a worker that died): a new one is needed.
    Ended(String),
    /// Anything else (not installed, bad output, an error it printed).
    Failed(String),
}

impl std::fmt::Display for SpeakError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpeakError::Hung(m) | SpeakError::Ended(m) | SpeakError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<String> for SpeakError {
    fn from(message: String) -> Self {
        SpeakError::Failed(message)
    }
}

/// How one text fared with one engine.
pub type Spoken = Result<(), SpeakError>;

/// A failure to give a text a voice, with every engine that was tried.
#[derive(Debug, thiserror::Error)]
#[error("could not synthesize \"{text}\": {}", attempts.iter().map(|(e, m)| format!("{e}: {m}")).collect::<Vec<_>>().join("; "))]
pub struct SynthesisError {
    /// The text.
    pub text: String,
    /// (engine, what went wrong), in the order tried.
    pub attempts: Vec<(String, String)>,
}

/// Cached, fault-tolerant speech: the primary engine, then the fallbacks.
pub struct Voice {
    engines: Vec<Box<dyn SpeechEngine>>,
    cache: Cache,
}

/// The result of preparing texts: every clip (in the cache), and what went wrong along the way.
#[derive(Debug)]
pub struct Prepared {
    /// The cached clip of each text.
    pub clips: HashMap<String, Cached>,
    /// Fallbacks that happened (engine failures that another engine covered).
    pub warnings: Vec<String>,
    /// How many texts were synthesized (not found in the cache).
    pub synthesized: usize,
}

impl Voice {
    /// A voice speaking with `engines` in order, caching in `cache_dir`.
    pub fn new(engines: Vec<Box<dyn SpeechEngine>>, cache_dir: &Path) -> Self {
        Self {
            engines,
            cache: Cache::new(cache_dir),
        }
    }

    /// The engines in the order they are tried.
    pub fn engine_names(&self) -> Vec<String> {
        self.engines.iter().map(|e| e.name().to_string()).collect()
    }

    /// The cache this voice uses.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Gives every text a clip in the cache: found there, or synthesized (all missing texts in
    /// one batch per engine), trimmed of silence and stored. Only file headers are read for
    /// texts already cached, so this is cheap when the cache is warm.
    pub fn prepare(&self, texts: &[String]) -> Result<Prepared, SynthesisError> {
        let mut clips = HashMap::new();
        let mut warnings = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        let primary = self
            .engines
            .first()
            .map(|e| e.identity())
            .unwrap_or_default();
        for t in texts {
            if clips.contains_key(t) || missing.contains(t) {
                continue;
            }
            match self.cache.entry(&primary, t) {
                Some(c) => {
                    clips.insert(t.clone(), c);
                }
                None => missing.push(t.clone()),
            }
        }
        let synthesized = missing.len();
        let mut attempts: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for engine in &self.engines {
            if missing.is_empty() {
                break;
            }
            let identity = engine.identity();
            // A fallback engine's earlier output may be cached too.
            missing.retain(|t| match self.cache.entry(&identity, t) {
                Some(c) if engine.identity() != primary => {
                    clips.insert(t.clone(), c);
                    false
                }
                _ => true,
            });
            let dir = match tempfile::Builder::new().prefix("letdown-tts-").tempdir() {
                Ok(d) => d,
                Err(e) => {
                    for t in &missing {
                        attempts
                            .entry(t.clone())
                            .or_default()
                            .push((engine.name().into(), format!("no temporary directory: {e}")));
                    }
                    continue;
                }
            };
            let jobs: Vec<Job> = missing
                .iter()
                .enumerate()
                .map(|(i, t)| Job {
                    text: t.clone(),
                    out: dir.path().join(format!("{i}.wav")),
                })
                .collect();
            let results = engine.synthesize(&jobs);
            let mut still = Vec::new();
            for (job, result) in jobs.into_iter().zip(results) {
                let outcome = result.and_then(|()| {
                    let bytes =
                        std::fs::read(&job.out).map_err(|e| format!("wrote no audio ({e})"))?;
                    let clip = Clip::decode_wav_bytes(bytes)?.trimmed(TAIL_PAD);
                    if clip.samples().is_empty() {
                        return Err(SpeakError::Failed("produced only silence".into()));
                    }
                    Ok(clip)
                });
                match outcome {
                    Ok(clip) => {
                        if let Some(previous) = attempts.get(&job.text) {
                            warnings.push(format!(
                                "\"{}\" was spoken by {} because {}",
                                job.text,
                                engine.name(),
                                previous
                                    .iter()
                                    .map(|(e, m)| format!("{e} failed: {m}"))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ));
                        }
                        match self.cache.put(&identity, &job.text, &clip) {
                            Ok(cached) => {
                                clips.insert(job.text, cached);
                            }
                            Err(e) => {
                                attempts.entry(job.text.clone()).or_default().push((
                                    engine.name().into(),
                                    format!("could not store the speech: {e}"),
                                ));
                                still.push(job.text);
                            }
                        }
                    }
                    Err(e) => {
                        attempts
                            .entry(job.text.clone())
                            .or_default()
                            .push((engine.name().into(), e.to_string()));
                        still.push(job.text);
                    }
                }
            }
            missing = still;
        }
        if let Some(text) = missing.into_iter().next() {
            let attempts = attempts
                .remove(&text)
                .unwrap_or_else(|| vec![("none".into(), "no speech engine is configured".into())]);
            return Err(SynthesisError { text, attempts });
        }
        Ok(Prepared {
            clips,
            warnings,
            synthesized,
        })
    }
}

/// Builds the voice for `cfg`, with a routine's choices laid over it.
pub fn voice_for(
    cfg: &VoiceConfig,
    routine: &VoiceOverride,
    cache_dir: &Path,
) -> Result<Voice, String> {
    let settings = VoiceSettings {
        voice: routine.voice.clone().or_else(|| cfg.voice.clone()),
        language: routine
            .language
            .clone()
            .unwrap_or_else(|| cfg.language.clone()),
        speed: routine.speed.unwrap_or(cfg.speed),
        timeout: cfg.timeout,
    };
    let primary = routine.engine.unwrap_or(cfg.engine);
    let mut names = vec![primary];
    for &f in &cfg.fallback {
        if !names.contains(&f) {
            names.push(f);
        }
    }
    let mut engines = Vec::new();
    for (i, name) in names.iter().enumerate() {
        // A voice name belongs to the primary engine; fallbacks use their own default voice.
        let s = if i == 0 {
            settings.clone()
        } else {
            VoiceSettings {
                voice: None,
                ..settings.clone()
            }
        };
        engines.push(engine(*name, cfg, &s)?);
    }
    Ok(Voice::new(engines, cache_dir))
}

/// A command for a synthesizer process: a process group of its own (so its helpers can be
/// stopped with it) that dies with the thread that starts it, so a stopping letdownd leaves
/// none behind.
pub(crate) fn tied_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(program);
    command.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    command
}

/// Stops a process started with [`tied_command`], with every process of its group, and
/// reaps it.
pub(crate) fn kill_group(child: &mut std::process::Child) {
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

/// Speaks each job with its own run of `program` (args and stdin from `make`), the jobs split
/// across cores; an engine that hangs costs one time limit, not one per text.
pub(crate) fn process_per_text<F>(
    jobs: &[Job],
    program: &str,
    settings: &VoiceSettings,
    make: F,
) -> Vec<Spoken>
where
    F: Fn(&Job) -> (Vec<String>, Vec<u8>) + Sync,
{
    in_parallel(jobs, |chunk| {
        one_by_one(chunk, |job| {
            let (args, stdin) = make(job);
            run(program, &args, &stdin, limit_for(settings, 1)).map(|_| ())
        })
    })
}

/// Runs `program` with `args`, feeding `stdin`, and returns its stdout; errors say what failed.
///
/// The program gets a process group of its own and `limit` to finish: past it the whole group
/// is killed (a synthesizer's helpers too) and the error names the program and the limit. It
/// also dies with the thread that started it, so a stopping letdownd leaves none behind.
pub(crate) fn run(
    program: &str,
    args: &[String],
    stdin: &[u8],
    limit: std::time::Duration,
) -> Result<Vec<u8>, SpeakError> {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut command = tied_command(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SpeakError::Failed(format!("`{program}` is not installed (not found on PATH)"))
        } else {
            SpeakError::Failed(format!("cannot run `{program}`: {e}"))
        }
    })?;
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() >= deadline => {
                kill_group(&mut child);
                let _ = writer.join();
                return Err(SpeakError::Hung(format!(
                    "`{program}` {HUNG} {} and was stopped",
                    crate::duration::show(limit)
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) => return Err(SpeakError::Failed(format!("`{program}` failed: {e}"))),
        }
    };
    let _ = writer.join();
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return Err(SpeakError::Failed(format!(
            "`{program}` exited with {status}{}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        )));
    }
    Ok(out)
}

/// How long an engine process given `texts` texts may run.
pub(crate) fn limit_for(settings: &VoiceSettings, texts: usize) -> std::time::Duration {
    settings.timeout + std::time::Duration::from_secs(texts as u64)
}
