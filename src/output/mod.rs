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
