//! A WAV file written in real time: what the speakers would play, for headless use and tests.
//!
//! A thread pulls the mix at the pace of the wall clock (by absolute sample count since the
//! file was opened, so it never drifts) and appends it to the file, flushing the header as it
//! goes so the file is readable at any moment. Sessions append to the same file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Output, SharedMix};
use crate::clip::SAMPLE_RATE;

/// Writes the mix to a WAV file in real time.
pub struct WavOutput {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WavOutput {
    /// An output that will write to `path` (created on first open, appended to afterwards).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            stop: Arc::new(AtomicBool::new(false)),
            failed: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }
}

fn open_writer(
    path: &PathBuf,
) -> Result<hound::WavWriter<std::io::BufWriter<std::fs::File>>, String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let existing = hound::WavReader::open(path).ok().map(|r| r.spec());
    let result = if existing == Some(spec) {
        hound::WavWriter::append(path)
    } else {
        hound::WavWriter::create(path, spec)
    };
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl Output for WavOutput {
    fn describe(&self) -> String {
        format!("the WAV file {}", self.path.display())
    }

    fn open(&mut self, mix: SharedMix) -> Result<(), String> {
        let mut writer = open_writer(&self.path)?;
        self.stop.store(false, Ordering::SeqCst);
        self.failed.store(false, Ordering::SeqCst);
        let stop = Arc::clone(&self.stop);
        let failed = Arc::clone(&self.failed);
        self.thread = Some(std::thread::spawn(move || {
            let start = Instant::now();
            let mut written: u64 = 0;
            let mut buf = vec![0.0f32; 4800];
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
                let due = (start.elapsed().as_nanos() * SAMPLE_RATE as u128 / 1_000_000_000) as u64;
                while written < due {
                    let n = ((due - written) as usize).min(buf.len());
                    super::lock_mix(&mix).fill(&mut buf[..n]);
                    for &s in &buf[..n] {
                        if writer.write_sample((s * 32767.0).round() as i16).is_err() {
                            failed.store(true, Ordering::SeqCst);
                        }
                    }
                    written += n as u64;
                }
                if writer.flush().is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
            }
            let _ = writer.finalize();
        }));
        Ok(())
    }

    fn close(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn is_open(&self) -> bool {
        self.thread.is_some()
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

impl Drop for WavOutput {
    fn drop(&mut self) {
        self.close();
    }
}
