//! Routines: what a session walks through.
//!
//! A routine is a list of timed steps, each with a spoken prompt and cues, read from a TOML file
//! (format in docs/ROUTINES.md). Blocks of steps that repeat per side are expanded here, so the
//! rest of the program only ever sees a flat list of concrete steps.

mod audio;
mod library;
mod parse;
mod sides;

pub use library::{BUILT_IN, Library, LoadError, RoutineEntry, RoutineSource, is_path, named_in};
pub use parse::{ParseOptions, parse_routine};

use std::path::PathBuf;
use std::time::Duration;

/// When the hands-on time of a step starts, relative to its spoken prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// Listen first, then do: the step's duration counts from the end of its prompt (default).
    #[default]
    AfterPrompt,
    /// The prompt is spoken during the hands-on time; the duration counts from the prompt's
    /// start (a step is never shorter than its prompt).
    WithPrompt,
}

/// How the middle of a step's hands-on time is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HalfwayCue {
    /// Not marked (default).
    #[default]
    None,
    /// A soft tone.
    Tone,
    /// The word "halfway", spoken.
    Spoken,
}

/// How the last seconds of a step are counted down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Countdown {
    /// No countdown (default).
    #[default]
    None,
    /// A quiet tick each second.
    Ticks,
    /// The numbers, spoken.
    Spoken,
}

/// What a step's repeated cue (`every`) plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepeatedCue {
    /// Words, synthesized like a prompt (`every_say`).
    Say(String),
    /// A tone (`every_tone`).
    Tone(crate::tones::Earcon),
}

/// The cues of one step besides its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CueSettings {
    /// A tone when the step starts, before the prompt.
    pub start_tone: bool,
    /// A tone when the hands-on time ends.
    pub end_tone: bool,
    /// A cue halfway through the hands-on time.
    pub halfway: HalfwayCue,
    /// A countdown over the last seconds.
    pub countdown: Countdown,
    /// How many seconds the countdown covers.
    pub countdown_from: u32,
    /// Say "N seconds left" every so often, counted back from the end.
    pub remind_every: Option<Duration>,
    /// A cue repeated through the hands-on time, at this interval from its start
    /// (`every`, with `every_say` or `every_tone`).
    pub every: Option<(Duration, RepeatedCue)>,
}

impl Default for CueSettings {
    fn default() -> Self {
        Self {
            start_tone: true,
            end_tone: false,
            halfway: HalfwayCue::None,
            countdown: Countdown::None,
            countdown_from: 3,
            remind_every: None,
            every: None,
        }
    }
}

/// One concrete step, after side substitution.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Short name, shown in status and spoken by "where am I".
    pub title: String,
    /// The prompt's text: spoken by the voice engine, or the transcript of `audio`.
    pub say: Option<String>,
    /// A recorded prompt; played instead of synthesizing `say`.
    pub audio: Option<PathBuf>,
    /// Hands-on time.
    pub duration: Duration,
    /// Tones and spoken cues.
    pub cues: CueSettings,
    /// The side this step belongs to, if it came from a per-side block.
    pub side: Option<String>,
    /// True for the first step of every side after the first: it opens with the side-switch tone.
    pub switches_side: bool,
    /// The step lasts until `next` (`until = "next"`); `duration` is then the length plans and
    /// renders show it at ([`OPEN_STEP_SHOWN`]).
    pub open: bool,
}

/// The length a step that lasts until `next` is shown and rendered at.
pub const OPEN_STEP_SHOWN: Duration = Duration::from_secs(600);

pub use crate::voice::VoiceOverride;

/// A validated routine, ready to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Routine {
    /// Identifier used on the command line and over D-Bus.
    pub name: String,
    /// Human title.
    pub title: String,
    /// One or two sentences about what the routine is for.
    pub description: String,
    /// When hands-on time starts relative to the prompt.
    pub timing: Timing,
    /// Voice choices for this routine's prompts.
    pub voice: VoiceOverride,
    /// The steps, sides expanded.
    pub steps: Vec<Step>,
    /// Begin each per-side block with the side due next (`sides_order = "next-feed"`),
    /// rather than as written.
    pub next_side_first: bool,
    /// Said before the first step (its tone and prompt follow): letdownd sets it to which side
    /// is next when the feed log knows. Never from a file.
    pub lead_in: Option<crate::phrase::Phrase>,
    /// What the heads-up calls it ("Pumping" says "Pumping in ten minutes."); `None` says
    /// "Your massage starts in ten minutes."
    pub spoken_name: Option<String>,
}

impl Routine {
    /// The sum of all hands-on times (without prompts and tones).
    pub fn hands_on_total(&self) -> Duration {
        self.steps.iter().map(|s| s.duration).sum()
    }
}
