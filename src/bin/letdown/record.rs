//! `letdown record ROUTINE`: a loved one reads every prompt of a routine aloud (each side's
//! version too). Each take is recorded from the default microphone through the sound server,
//! trimmed of silence, brought to the loudness of the synthesized prompts, saved in the audio
//! folder and played back. Prompts already recorded are skipped, so it picks up where it
//! stopped; `--redo N` records one again. The routine then plays the recordings in place of
//! synthesis (`letdown plan` shows which).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use letdown::clip::{Clip, SAMPLE_RATE};
use letdown::config::Config;
use letdown::paths::Paths;
use letdown::recordings;
use letdown::routine::Library;

/// How a take is recorded.
pub struct Takes {
    /// Re-record this prompt (1-based), even if it has a recording.
    pub redo: Option<usize>,
    /// Seconds counted in before recording starts.
    pub count_in: u32,
    /// The sound server's source to record (default: its default source).
    pub source: Option<String>,
    /// The longest take.
    pub max: Duration,
}

/// 50-ms frames: speech is detected and the end of it found on these.
const FRAME: usize = SAMPLE_RATE as usize / 20;
/// A frame louder than this (RMS, about -40 dBFS) is voice.
const VOICE: f32 = 0.01;
/// The take ends after this much quiet once the voice has begun.
const TRAILING_QUIET: Duration = Duration::from_secs(2);
/// No voice this long after recording starts: the microphone is probably off.
const NOTHING_HEARD: Duration = Duration::from_secs(15);

/// Runs `letdown record`.
pub fn run(
    routine: &str,
    takes: Takes,
    config: &Option<std::path::PathBuf>,
    paths: &Paths,
    timeout: Duration,
) -> anyhow::Result<()> {
    let cfg = crate::local::load_config(config, paths)?;
    let r = Library::new(paths.clone())
        .find_as_written(routine)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let prompts: Vec<(String, String)> = r
        .steps
        .iter()
        .filter_map(|s| Some((s.title.clone(), s.say.clone()?)))
        .collect();
    if prompts.is_empty() {
        anyhow::bail!("\"{}\" has no spoken prompts to record", r.name);
    }
    if let Some(n) = takes.redo
        && (n == 0 || n > prompts.len())
    {
        anyhow::bail!(
            "--redo {n}: \"{}\" has prompts 1 to {}",
            r.name,
            prompts.len()
        );
    }
    println!(
        "Recording \"{}\": {} prompts, saved in {}.",
        r.title,
        prompts.len(),
        recordings::folder(&paths.data_dir, &r.name).display()
    );
    let target = target_loudness(&cfg, &r, paths, &prompts);
    println!("Each take is brought to {target:.1} LUFS, the loudness of the synthesized prompts.");
    let interactive = std::io::stdin().is_terminal();
    let keys = interactive.then(keyboard);
    let mut recorded = 0;
    for (i, (title, text)) in prompts.iter().enumerate() {
        let n = i + 1;
        let file = recordings::file_for(&paths.data_dir, &r.name, text);
        let wanted = takes.redo.is_none_or(|redo| redo == n);
        if !wanted || (file.is_file() && takes.redo != Some(n)) {
            if wanted {
                println!(
                    "[{n}/{}] {title}: recorded already (--redo {n} to record it again)",
                    prompts.len()
                );
            }
            continue;
        }
        loop {
            println!("\n[{n}/{}] {title}\n    \"{text}\"", prompts.len());
            if let Some(keys) = &keys {
                print!("    Enter: record · s: skip · q: stop here > ");
                std::io::stdout().flush()?;
                match keys.recv().unwrap_or_default().trim() {
                    "q" => return finish(recorded, timeout),
                    "s" => break,
                    _ => {}
                }
            }
            for c in (1..=takes.count_in).rev() {
                print!("    {c}… ");
                std::io::stdout().flush()?;
                std::thread::sleep(Duration::from_secs(1));
            }
            println!();
            let speak_now = format!(
                "    ● recording {n}: speak now (it stops after {} s of quiet{})",
                TRAILING_QUIET.as_secs(),
                if keys.is_some() {
                    ", or press Enter"
                } else {
                    ""
                }
            );
            let take = record_take(
                takes.source.as_deref(),
                takes.max,
                keys.as_ref(),
                &speak_now,
            )?;
            let Some(take) = take else {
                println!("    Nothing was heard: is the microphone on and not muted?");
                if keys.is_none() {
                    anyhow::bail!("nothing was heard from the microphone for prompt {n}");
                }
                continue;
            };
            let (clip, gain) = recordings::even(&take, target);
            save(&file, &clip)?;
            println!(
                "    saved {} ({:.1} s, {gain:+.1} dB); playing it back…",
                file.display(),
                clip.duration().as_secs_f64()
            );
            play(&file);
            if let Some(keys) = &keys {
                print!("    Enter: keep · r: record again > ");
                std::io::stdout().flush()?;
                if keys.recv().unwrap_or_default().trim() == "r" {
                    continue;
                }
            }
            recorded += 1;
            break;
        }
    }
    finish(recorded, timeout)
}

/// Says what was done, and has a running letdownd prepare the routine with the recordings.
fn finish(recorded: usize, timeout: Duration) -> anyhow::Result<()> {
    println!("\n{recorded} prompt(s) recorded this time.");
    if recorded == 0 {
        return Ok(());
    }
    println!("The routine plays the recordings in place of the synthesized voice.");
    if crate::remote::on_daemon(timeout, |p| async move { p.reload().await }).is_ok() {
        println!("letdownd is preparing the routine with them.");
    }
    Ok(())
}

/// Lines typed at the terminal, read on a thread of their own.
fn keyboard() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The mean loudness of the routine's synthesized prompts (synthesizing them if needed), or
/// -23 LUFS (EBU R128's programme level) when they cannot be had.
fn target_loudness(
    cfg: &Config,
    r: &letdown::routine::Routine,
    paths: &Paths,
    prompts: &[(String, String)],
) -> f64 {
    let texts: Vec<String> = prompts.iter().map(|(_, t)| t.clone()).collect();
    let measured: Vec<f64> = letdown::voice::voice_for(&cfg.voice, &r.voice, &paths.cache_dir)
        .ok()
        .and_then(|v| v.prepare(&texts).ok())
        .map(|p| {
            p.clips
                .values()
                .filter_map(|c| c.load().ok())
                .filter_map(|c| recordings::loudness(c.samples()))
                .collect()
        })
        .unwrap_or_default();
    if measured.is_empty() {
        -23.0
    } else {
        measured.iter().sum::<f64>() / measured.len() as f64
    }
}

/// Records one take: from the first voice to 2 s of quiet after it (or Enter, or `max`).
/// `speak_now` is printed once the microphone's first sound has arrived. `None` when no voice
/// was heard.
fn record_take(
    source: Option<&str>,
    max: Duration,
    keys: Option<&mpsc::Receiver<String>>,
    speak_now: &str,
) -> anyhow::Result<Option<Clip>> {
    let mut args = vec![
        "--raw".to_string(),
        "--format=float32le".into(),
        format!("--rate={SAMPLE_RATE}"),
        "--channels=1".into(),
        "--latency-msec=20".into(),
    ];
    if let Some(s) = source {
        args.push(format!("--device={s}"));
    }
    let mut rec = Recorder(
        Command::new("parec")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run parec (pulseaudio-utils) to record")?,
    );
    let mut out = rec.0.stdout.take().expect("piped");
    let started = Instant::now();
    let mut samples: Vec<f32> = Vec::new();
    let (mut voice_at, mut quiet_since): (Option<usize>, Option<usize>) = (None, None);
    let mut buf = vec![0u8; FRAME * 4];
    loop {
        if out.read_exact(&mut buf).is_err() {
            let mut err = String::new();
            if let Some(mut e) = rec.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            anyhow::bail!("recording stopped: {}", err.trim());
        }
        if samples.is_empty() {
            println!("{speak_now}");
            std::io::stdout().flush()?;
        }
        let frame: Vec<f32> = buf
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let rms = (frame.iter().map(|s| s * s).sum::<f32>() / FRAME as f32).sqrt();
        samples.extend_from_slice(&frame);
        let at = samples.len();
        if rms >= VOICE {
            voice_at.get_or_insert(at);
            quiet_since = None;
        } else if voice_at.is_some() {
            quiet_since.get_or_insert(at);
        }
        let quiet_long = quiet_since.is_some_and(|q| {
            at - q >= (TRAILING_QUIET.as_secs_f64() * SAMPLE_RATE as f64) as usize
        });
        let pressed = keys.is_some_and(|k| k.try_recv().is_ok());
        if quiet_long || pressed || started.elapsed() >= max {
            break;
        }
        if voice_at.is_none() && started.elapsed() >= NOTHING_HEARD {
            return Ok(None);
        }
    }
    Ok(voice_at.map(|_| Clip::new(samples)))
}

/// parec, stopped when dropped.
struct Recorder(Child);

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes the take atomically: a stopped or crashed recording never leaves half a file.
fn save(file: &Path, clip: &Clip) -> anyhow::Result<()> {
    let dir = file.parent().expect("in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clip.save_wav(file).map_err(anyhow::Error::msg)
}

/// Plays a take back through the sound server.
fn play(file: &Path) {
    let _ = Command::new("paplay")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
