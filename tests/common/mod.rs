//! Helpers shared by the end-to-end tests: run the real `letdown` binary in an isolated home,
//! and read what it wrote.
#![allow(dead_code)]

pub mod desktop;

/// `text` as `engine` speaks it with `voice` (no fallback), rendered here through the speech
/// cache in `cache`: what a recording is matched against.
pub fn spoken(cache: &Path, engine: &str, voice: &str, text: &str) -> Vec<f32> {
    let cfg = letdown::config::Config::parse(
        Path::new("config.toml"),
        &format!("[voice]\nengine = \"{engine}\"\nvoice = \"{voice}\"\nfallback = []\n"),
    )
    .unwrap();
    let v = letdown::voice::voice_for(&cfg.voice, &Default::default(), cache).unwrap();
    let p = v.prepare(&[text.to_string()]).unwrap();
    p.clips[text].load().unwrap().samples().to_vec()
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private set of XDG directories, so tests never touch the user's config or cache.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The config dir's file `rel`, created with `text`.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn letdown(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_letdown"))
            .args(args)
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_DATA_DIRS", self.path("share"))
            .env_remove("LETDOWN_CONFIG")
            .output()
            .expect("run letdown")
    }

    /// Runs letdown and insists on success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.letdown(args);
        assert!(
            out.status.success(),
            "letdown {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Reads a mono 16-bit WAV into f32 samples, checking its format.
pub fn read_wav(path: &Path) -> Vec<f32> {
    let r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 48_000, 16)
    );
    r.into_samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

/// The level above which a sample counts as sound (-50 dBFS).
pub const FLOOR: f32 = 0.003;

/// The first sample index at or after `from` whose level exceeds [`FLOOR`].
pub fn onset(samples: &[f32], from: usize) -> Option<usize> {
    samples[from.min(samples.len())..]
        .iter()
        .position(|x| x.abs() > FLOOR)
        .map(|i| i + from)
}

/// Root-mean-square level of a span.
pub fn rms(s: &[f32]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt()
}

/// How many of letdown's Piper workers are children of the process `parent`.
pub fn piper_workers_of(parent: u32) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("letdown's Piper worker"))
                && std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                    s.rsplit(") ").next().and_then(|r| r.split(' ').nth(1))
                        == Some(&parent.to_string())
                })
        })
        .count()
}
