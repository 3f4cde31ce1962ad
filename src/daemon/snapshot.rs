//! What the daemon publishes about itself: the values behind the D-Bus and MPRIS properties.
//!
//! The session task owns the truth and sends a new snapshot whenever something changes; the
//! bus side reads the latest one without asking the session task, and emits change signals by
//! comparing snapshots.

use std::time::{Duration, Instant};

/// Where the daemon is: what the `State` property says, as a type the code matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No session.
    Idle,
    /// A start waits for its routine's speech to be prepared.
    Preparing,
    /// A session plays.
    Running,
    /// A session is paused.
    Paused,
}

impl Phase {
    /// The word the `State` property and `letdown status` show.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Preparing => "preparing",
            Phase::Running => "running",
            Phase::Paused => "paused",
        }
    }

    /// A session is on air (running or paused): MPRIS is offered, keys act on it.
    pub fn in_session(self) -> bool {
        matches!(self, Phase::Running | Phase::Paused)
    }
}

/// The daemon's visible state.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Idle, preparing, running or paused.
    pub state: Phase,
    /// The running routine's name, or empty.
    pub routine: String,
    /// The running routine's title, or empty.
    pub routine_title: String,
    /// The current step, 0-based (0 when idle).
    pub step_index: u32,
    /// Steps in the routine (0 when idle).
    pub step_count: u32,
    /// The current step's title, or empty.
    pub step_title: String,
    /// The current step's whole length.
    pub step_length: Duration,
    /// Time left in the step at `anchor`.
    pub remaining: Duration,
    /// When `remaining` was measured.
    pub anchor: Instant,
    /// The current step lasts until `next` (its `remaining` is zero).
    pub open: bool,
    /// Time into the current step at `anchor`.
    pub elapsed: Duration,
    /// Master volume, 0.0 to 1.0.
    pub volume: f64,
    /// When the next scheduled session starts (Unix seconds), 0 if none.
    pub next_session: i64,
    /// The feed plan in force, as D-Bus shows it.
    pub feed_plan: std::collections::BTreeMap<String, String>,
}

impl Snapshot {
    /// The state of a daemon with no session.
    pub fn idle(volume: f64) -> Self {
        Self {
            state: Phase::Idle,
            routine: String::new(),
            routine_title: String::new(),
            step_index: 0,
            step_count: 0,
            step_title: String::new(),
            step_length: Duration::ZERO,
            remaining: Duration::ZERO,
            anchor: Instant::now(),
            open: false,
            elapsed: Duration::ZERO,
            volume,
            next_session: 0,
            feed_plan: Default::default(),
        }
    }

    /// What is published: the session `on_air` if one is, else the routine `preparing` to
    /// start, else idle; at `volume`.
    pub fn of(on_air: Option<Snapshot>, preparing: Option<&str>, volume: f64) -> Self {
        match (on_air, preparing) {
            (Some(on_air), _) => on_air,
            (None, Some(routine)) => Snapshot {
                state: Phase::Preparing,
                routine: routine.to_string(),
                ..Snapshot::idle(volume)
            },
            (None, None) => Snapshot::idle(volume),
        }
    }

    /// Time into the current step now (counting up only while running).
    pub fn elapsed_now(&self) -> Duration {
        if self.state == Phase::Running {
            self.elapsed + self.anchor.elapsed()
        } else {
            self.elapsed
        }
    }

    /// Time left in the current step now (counting down only while running).
    pub fn remaining_now(&self) -> Duration {
        if self.state == Phase::Running {
            self.remaining.saturating_sub(self.anchor.elapsed())
        } else {
            self.remaining
        }
    }
}

/// Events the bus side turns into D-Bus signals.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// A step began: 0-based index, title.
    StepStarted(u32, String),
    /// A session ended: routine name, whether it completed.
    SessionFinished(String, bool),
    /// A scheduled session fired: id, routine, reason.
    ScheduleFired(String, String, String),
}
