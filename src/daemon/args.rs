//! letdownd's command line, in the library so that `letdown man` can write its manual page
//! from the same definition the daemon parses.

use clap::{CommandFactory, Parser};

/// The letdown voice coach daemon.
///
/// Serves org.letdown.Coach on the D-Bus session bus; control it with the `letdown` command,
/// media keys or `playerctl -p letdown`. Logs go to stderr (the journal under systemd); set
/// LETDOWN_LOG=debug for more. LETDOWN_DEVICE_BUFFER=FRAMES sets the sound device's buffer
/// (default 512: low latency). LETDOWN_PIPER_IDLE=SECONDS sets how long the Piper voice's worker
/// stays loaded without work (default 120).
#[derive(Parser)]
#[command(name = "letdownd", version, about, long_about)]
pub struct Args {
    /// Where sound goes: `device` (the default sound device) or `wav:PATH` (a WAV file written
    /// in real time, for headless use and tests).
    #[arg(long, default_value = "device", value_name = "OUTPUT")]
    pub output: String,
}

impl Args {
    /// The command with a `--version` that says which installation runs (see [`crate::install`]).
    pub fn command_with_version() -> clap::Command {
        Self::command().version(crate::install::version_text())
    }
}
