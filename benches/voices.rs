//! Benchmark: every installed English voice on the shipped routines. For each voice: the cold
//! preparation of the full routine (every prompt and phrase synthesized into an empty cache,
//! a Piper worker started and its model loaded), the time per text, the warm preparation, and,
//! with `--out DIR`, every spoken prompt (`say`, not titles) as a 16 kHz WAV and a manifest
//! (`manifest.jsonl`) for `scripts/bench-voices` to measure word recall on.
//!
//! Prints figures; asserts nothing. `cargo bench --bench voices [-- --out DIR] [--voices A,B]`
//! (by default every voice but espeak-ng's accents other than en-us).
//! Targets (issue 11): Piper prepares the full routine cold in under 20 s here, warm in under
//! 100 ms, with its model loaded once.

use std::io::Write;
use std::time::{Duration, Instant};

use letdown::config::Config;
use letdown::paths::Paths;
use letdown::prepare::prepare;
use letdown::routine::Library;
use letdown::voice::catalog;

const ROUTINE: &str = "lactation-massage";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let out = arg("--out").map(std::path::PathBuf::from);
    let only: Option<Vec<String>> =
        arg("--voices").map(|v| v.split(',').map(String::from).collect());
    let user = Paths::from_env();
    let scratch = tempfile::tempdir().expect("temp dir");
    let paths = Paths {
        config_dir: scratch.path().join("config"),
        routines_dir: scratch.path().join("config/routines"),
        shared_routines_dirs: Vec::new(),
        cache_dir: scratch.path().join("cache"),
        audio_dirs: Vec::new(),
        data_dir: user.data_dir.clone(),
    };
    let routine = Library::new(paths.clone())
        .find(ROUTINE)
        .expect("the built-in routine");
    let says: Vec<String> = routine.steps.iter().filter_map(|s| s.say.clone()).collect();
    let mut manifest = out.as_ref().map(|dir| {
        std::fs::create_dir_all(dir).expect("--out folder");
        std::fs::File::create(dir.join("manifest.jsonl")).expect("manifest")
    });
    println!(
        "{ROUTINE}: {} spoken prompts; voices from {}",
        says.len(),
        user.data_dir.display()
    );
    println!(
        "{:34} {:>10} {:>8} {:>12} {:>10}",
        "voice", "cold (s)", "texts", "s per text", "warm (ms)"
    );
    for (i, v) in catalog::installed(&user.data_dir, Some("en"))
        .into_iter()
        .enumerate()
    {
        let wanted = match &only {
            Some(o) => o.contains(&v.full_name()) || o.contains(&v.name),
            // espeak-ng's accents all sound alike: its US one stands for them.
            None => v.engine != letdown::voice::EngineKind::EspeakNg || v.name == "en-us",
        };
        if !wanted {
            continue;
        }
        let mut cfg = Config::default();
        cfg.voice.engine = v.engine;
        cfg.voice.voice = Some(v.name.clone());
        cfg.voice.chosen = true;
        cfg.voice.fallback.clear();
        cfg.voice.data_dir = Some(user.data_dir.clone());
        let paths = Paths {
            cache_dir: scratch.path().join(format!("cache-{i}")),
            ..paths.clone()
        };
        let cold = match prepare(routine.clone(), &cfg, &paths) {
            Ok(r) => r,
            Err(e) => {
                println!("{:34} could not prepare: {e}", v.full_name());
                continue;
            }
        };
        let mut warm: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                prepare(routine.clone(), &cfg, &paths).expect("warm prepare");
                t.elapsed()
            })
            .collect();
        warm.sort();
        println!(
            "{:34} {:>10.2} {:>8} {:>12.3} {:>10.1}",
            v.full_name(),
            cold.took.as_secs_f64(),
            cold.synthesized,
            cold.took.as_secs_f64() / cold.synthesized.max(1) as f64,
            warm[2].as_secs_f64() * 1000.0
        );
        if let (Some(dir), Some(manifest)) = (&out, manifest.as_mut()) {
            let voice = letdown::voice::voice_for(&cfg.voice, &routine.voice, &paths.cache_dir)
                .expect("voice");
            let clips = voice.prepare(&says).expect("cached prompts").clips;
            for (n, text) in says.iter().enumerate() {
                let clip = clips[text].load().expect("cached clip");
                let wav = dir.join(format!(
                    "{}-{n:02}.wav",
                    v.full_name().replace([':', '/'], "_")
                ));
                write_16k(&wav, clip.samples());
                let line = serde_json::json!({"voice": v.full_name(), "text": text, "wav": wav});
                writeln!(manifest, "{line}").expect("manifest");
            }
        }
    }
    if let Some(n) = Some(letdown::voice::piper::workers_started()).filter(|n| *n > 0) {
        println!("Piper workers started: {n} (its model loaded once per worker)");
    }
}

/// Writes `samples` (48 kHz) as a 16 kHz 16-bit WAV, the rate the recogniser listens at.
fn write_16k(path: &std::path::Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    for s in letdown::clip::resample(samples, letdown::clip::SAMPLE_RATE, 16_000) {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .expect("wav");
    }
    w.finalize().expect("wav");
}
