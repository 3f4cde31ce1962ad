//! Where the live mix goes: the default sound device, or a WAV file written in real time.
//!
//! One small trait with one file per backend (as librespot does): backends only move samples;
//! what plays when is decided by the engine and the [`Mix`]. An output is opened for a session
//! and closed when idle, so an idle daemon holds no audio stream.

mod alsa;
mod device;
mod mixer;
mod pulse;
mod wav;

pub use alsa::AlsaOutput;
pub use device::DeviceOutput;
pub use mixer::{Mix, lock as lock_mix};
pub use pulse::PulseOutput;
pub use wav::WavOutput;

use std::sync::{Arc, Mutex};

/// The mix shared between the session and the audio thread.
pub type SharedMix = Arc<Mutex<Mix>>;

/// A place the mix is played to.
pub trait Output: Send {
    /// A short description for logs.
    fn describe(&self) -> String;
    /// Starts pulling samples from `mix`.
    fn open(&mut self, mix: SharedMix) -> Result<(), String>;
    /// Stops pulling and releases the device or file.
    fn close(&mut self);
    /// Whether the output is open.
    fn is_open(&self) -> bool;
    /// True if the output failed since it was opened (device gone, disk full...).
    fn failed(&self) -> bool;
    /// A key's sound was just put in the mix: make it heard now rather than after what the
    /// output already holds (silence, or sounds the key cut). Never waits.
    fn hurry(&self) {}
}

/// Parses `--output`: `device` (default) or `wav:PATH`.
pub fn from_spec(spec: &str) -> Result<Box<dyn Output>, String> {
    match spec.split_once(':') {
        _ if spec == "device" => Ok(Box::new(DeviceOutput::new())),
        Some(("wav", path)) if !path.is_empty() => Ok(Box::new(WavOutput::new(path.into()))),
        _ => Err(format!(
            "unknown output \"{spec}\"; use \"device\" or \"wav:PATH\""
        )),
    }
}

/// An output for unit tests: it opens after `open_takes` (as a busy or vanished sound server
/// can make it), can be told it failed (`broken`: the server went away), and counts opens and
/// hurries.
#[cfg(test)]
#[derive(Default)]
pub struct TestOutput {
    /// How long opening takes.
    pub open_takes: std::time::Duration,
    /// Opens so far.
    pub opens: Arc<std::sync::atomic::AtomicU32>,
    /// Set to make the open output fail; cleared by an open.
    pub broken: Arc<std::sync::atomic::AtomicBool>,
    /// Hurries so far.
    pub hurried: Arc<std::sync::atomic::AtomicU32>,
    /// Whether it is open.
    pub open: bool,
}

#[cfg(test)]
impl Output for TestOutput {
    fn describe(&self) -> String {
        "a test output".into()
    }
    fn open(&mut self, _mix: SharedMix) -> Result<(), String> {
        use std::sync::atomic::Ordering::SeqCst;
        std::thread::sleep(self.open_takes);
        self.opens.fetch_add(1, SeqCst);
        self.broken.store(false, SeqCst);
        self.open = true;
        Ok(())
    }
    fn close(&mut self) {
        self.open = false;
    }
    fn is_open(&self) -> bool {
        self.open
    }
    fn failed(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn hurry(&self) {
        self.hurried
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
