//! The daemon's audio supervisor: the one owner of the live mix, the sound output and the
//! master volume.
//!
//! The output is open only while there is something to hear (a session, a heads-up) and closed
//! soon after, so an idle letdownd holds no audio stream. During a session it watches the
//! output's health and reopens it when the sound server comes back.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::error::CoachError;
use crate::output::{Mix, Output, SharedMix};

/// How often the output's health is checked during a session.
pub const HEALTH_CHECK: Duration = Duration::from_secs(1);
/// How long an output may stay broken before the session is reported interrupted.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
/// How long after the last sound the output is closed.
const CLOSE_AFTER: Duration = Duration::from_millis(200);

/// The mix, the output and the volume.
pub struct Audio {
    mix: SharedMix,
    output: Box<dyn Output>,
    /// The user's volume (the Volume property); a quiet-hours session plays below it.
    volume: f64,
    /// A quiet-hours session is playing at the quiet volume.
    quiet: bool,
    broken_since: Option<Instant>,
    close_at: Option<Instant>,
}

impl Audio {
    /// An idle supervisor playing to `output` at `volume`.
    pub fn new(output: Box<dyn Output>, volume: f64) -> Self {
        let mix = Arc::new(Mutex::new(Mix::new()));
        mix.lock().expect("new mutex").set_volume(volume as f32);
        Self {
            mix,
            output,
            volume,
            quiet: false,
            broken_since: None,
            close_at: None,
        }
    }

    /// The mix, locked. Never read a file or wait while holding it: the audio callback waits.
    pub fn mix(&self) -> MutexGuard<'_, Mix> {
        self.mix.lock().expect("mix lock")
    }

    /// The user's volume.
    pub fn volume(&self) -> f64 {
        self.volume
    }

    /// Sets the user's volume; it applies at once, a quiet-hours session included, and stays
    /// after it.
    pub fn set_volume(&mut self, v: f64) -> Result<(), CoachError> {
        if !(0.0..=1.0).contains(&v) || v.is_nan() {
            return Err(CoachError::InvalidArgument(format!(
                "volume {v} is outside 0.0 to 1.0"
            )));
        }
        self.volume = v;
        self.mix().set_volume(v as f32);
        Ok(())
    }

    /// Opens the output if it is closed.
    pub fn open(&mut self) -> Result<(), CoachError> {
        if !self.output.is_open() {
            self.output.open(Arc::clone(&self.mix)).map_err(|e| {
                CoachError::AudioUnavailable(format!("{e}; is a sound server running?"))
            })?;
            log::info!("opened {}", self.output.describe());
        }
        Ok(())
    }

    /// Readies the mix for a new session: open, nothing playing, not paused; at `quiet_volume`
    /// for a quiet-hours session.
    pub fn begin_session(&mut self, quiet_volume: Option<f64>) -> Result<(), CoachError> {
        if let Some(q) = quiet_volume {
            self.quiet = true;
            self.mix().set_volume(q as f32);
        }
        if let Err(e) = self.open() {
            self.end_quiet();
            return Err(e);
        }
        self.close_at = None;
        let mut m = self.mix();
        m.interrupt();
        m.set_paused(false);
        Ok(())
    }

    fn end_quiet(&mut self) {
        if std::mem::take(&mut self.quiet) {
            let v = self.volume;
            self.mix().set_volume(v as f32);
        }
    }

    /// After a session: not paused, back at the user's volume, closed once silent.
    pub fn end_session(&mut self) {
        self.mix().set_paused(false);
        self.end_quiet();
        self.close_soon();
    }

    /// Plays `clip` now even when idle (a heads-up), then closes the output once silent.
    pub fn announce(&mut self, clip: crate::clip::Clip, session_live: bool) {
        if let Err(e) = self.open() {
            log::warn!("not spoken: {e}");
            return;
        }
        self.mix().play_through_pause(clip, 1.0);
        if !session_live {
            self.close_soon();
        }
    }

    fn close_soon(&mut self) {
        self.close_at = Some(Instant::now() + CLOSE_AFTER);
    }

    /// When the output should be checked for closing.
    pub fn close_at(&self) -> Option<Instant> {
        self.close_at
    }

    /// Closes the output if nothing is playing and no session runs (else checks again soon).
    pub fn close_if_silent(&mut self, session_live: bool) {
        if session_live {
            self.close_at = None;
            return;
        }
        if self.mix().is_silent() {
            self.output.close();
            self.close_at = None;
            log::info!("idle: closed {}", self.output.describe());
        } else {
            self.close_soon();
        }
    }

    /// Checks the output during a session and reopens a broken one. True when it has been
    /// broken too long: the session should end.
    pub fn check_health(&mut self) -> bool {
        if !self.output.failed() && self.output.is_open() {
            self.broken_since = None;
            return false;
        }
        let since = *self.broken_since.get_or_insert_with(|| {
            log::warn!("lost {}; trying to reopen it", self.output.describe());
            Instant::now()
        });
        self.output.close();
        match self.output.open(Arc::clone(&self.mix)) {
            Ok(()) => {
                log::info!("reopened {}", self.output.describe());
                false
            }
            Err(e) if since.elapsed() > GIVE_UP_AFTER => {
                log::error!("giving up on the sound output ({e}); the session is interrupted");
                true
            }
            Err(e) => {
                log::debug!("still no sound output: {e}");
                false
            }
        }
    }

    /// Closes the output (at shutdown).
    pub fn close(&mut self) {
        self.output.close();
    }

    /// Where sound goes, for the log.
    pub fn describe(&self) -> String {
        self.output.describe()
    }
}
