//! letdown: a voice-guided audio coach for timed routines.
//!
//! The core lives here, free of daemons and buses: routines ([`routine`]) become a timeline
//! ([`plan`]) once their sounds are ready ([`prepare`], [`voice`], [`tones`]); a pure state
//! machine ([`engine`]) walks the timeline under commands; drivers such as the offline renderer
//! ([`render`]) turn its events into sound. docs/ARCHITECTURE.md has the map.

pub mod client;
pub mod clip;
pub mod config;
pub mod daemon;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod output;
pub mod paths;
pub mod phrase;
pub mod plan;
pub mod prepare;
pub mod render;
pub mod routine;
pub mod schedule;
pub mod shortcuts;
pub mod toml_check;
pub mod tones;
pub mod voice;
