//! letdown: a voice-guided audio coach for timed routines.
//!
//! The core: routines ([`routine`]) become a timeline ([`plan`]) once their sounds are ready
//! ([`prepare`], [`voice`], [`tones`]); a pure state machine ([`engine`]) walks the timeline
//! under commands; drivers turn its events into sound: the offline renderer ([`render`]) and
//! the daemon ([`daemon`], with its D-Bus interface and scheduling). The core modules do no I/O
//! of their own; the daemon and the CLI's remote control ([`client`]) are the edges.
//! docs/ARCHITECTURE.md has the map.

pub mod babybuddy;
pub mod client;
pub mod clip;
pub mod config;
pub mod daemon;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod feedback;
pub mod install;
pub mod output;
pub mod paths;
pub mod phrase;
pub mod plan;
pub mod prepare;
pub mod recordings;
pub mod render;
pub mod routine;
pub mod schedule;
pub mod shortcuts;
pub mod toml_check;
pub mod tones;
pub mod voice;
