//! The default sound device: the sound server over a kept connection when one is there, else
//! cpal (ALSA), so a session goes on when the server is gone.

use super::{AlsaOutput, Output, PulseOutput, SharedMix};

/// Which way the open output plays.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    Closed,
    Server,
    Alsa,
}

/// Plays to the default output device.
pub struct DeviceOutput {
    /// `None` when no sound server socket was there as letdownd started.
    server: Option<PulseOutput>,
    alsa: AlsaOutput,
    way: Way,
}

impl DeviceOutput {
    /// A closed device output; connects to the sound server ahead when there is one.
    pub fn new() -> Self {
        Self {
            server: PulseOutput::available().then(PulseOutput::new),
            alsa: AlsaOutput::new(),
            way: Way::Closed,
        }
    }

    fn current(&self) -> Option<&dyn Output> {
        match self.way {
            Way::Closed => None,
            Way::Server => self.server.as_ref().map(|s| s as &dyn Output),
            Way::Alsa => Some(&self.alsa),
        }
    }
}

impl Default for DeviceOutput {
    fn default() -> Self {
        Self::new()
    }
}

impl Output for DeviceOutput {
    fn describe(&self) -> String {
        "the default sound device".into()
    }

    fn open(&mut self, mix: SharedMix) -> Result<(), String> {
        self.close();
        if let Some(server) = self.server.as_mut() {
            match server.open(mix.clone()) {
                Ok(()) => {
                    self.way = Way::Server;
                    return Ok(());
                }
                Err(e) => log::warn!("{e}; playing through ALSA instead"),
            }
        }
        self.alsa.open(mix)?;
        self.way = Way::Alsa;
        Ok(())
    }

    fn close(&mut self) {
        match self.way {
            Way::Closed => {}
            Way::Server => {
                if let Some(s) = self.server.as_mut() {
                    s.close()
                }
            }
            Way::Alsa => self.alsa.close(),
        }
        self.way = Way::Closed;
    }

    fn is_open(&self) -> bool {
        self.current().is_some_and(|o| o.is_open())
    }

    fn failed(&self) -> bool {
        self.current().is_some_and(|o| o.failed())
    }

    fn hurry(&self) {
        if let Some(o) = self.current() {
            o.hurry()
        }
    }
}
