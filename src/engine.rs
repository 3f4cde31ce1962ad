//! The session engine: a deterministic state machine with no clock and no I/O.
//!
//! Drivers (the offline renderer, the daemon, the tests) feed it commands and the current time,
//! ask when it next wants to be woken ([`Session::poll_timeout`]), tell it when that time comes
//! ([`Session::handle_timeout`]) and drain what it wants done ([`Session::poll_event`]). Every
//! event carries the exact time it belongs at, computed from the plan, never from when the
//! driver happened to wake up, so timing does not drift however late the driver is.
//!
//! Time is a [`Duration`] since an epoch of the driver's choosing. Pause stops a step's clock:
//! hands-on time only passes while the session runs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::plan::{Plan, Sound};

/// The most a single step may be extended, in total.
pub const MAX_EXTENSION: Duration = Duration::from_secs(30 * 60);

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No session.
    Idle,
    /// Steps are running.
    Running,
    /// A step is held.
    Paused,
    /// The last session completed (a new one may start).
    Finished,
}

impl State {
    /// The name used over D-Bus and in status output.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Paused => "paused",
            State::Finished => "finished",
        }
    }
}

/// What the engine wants done, or reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A session began.
    SessionStarted,
    /// Step N (0-based) began.
    StepStarted(usize),
    /// Play a sound now.
    Play(Sound),
    /// Cut off every sound still playing (a skip, repeat or stop).
    Interrupt,
    /// Hold every sound where it is.
    Paused,
    /// Continue every held sound.
    Resumed,
    /// The session ended: `completed` is false if it was stopped.
    SessionFinished {
        /// Whether the routine ran to its end.
        completed: bool,
    },
}

/// An event with the exact time it belongs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// When, on the driver's clock.
    pub at: Duration,
    /// What.
    pub kind: EventKind,
}

/// A command the engine refused; the state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Start while a session runs.
    #[error("a session is already running; stop it first")]
    AlreadyRunning,
    /// A command that needs a session, without one.
    #[error("no session is running")]
    NotRunning,
    /// Pause while paused.
    #[error("the session is already paused")]
    AlreadyPaused,
    /// Resume while running.
    #[error("the session is not paused")]
    NotPaused,
    /// Extend on a step that lasts until `next`.
    #[error("this step lasts until you say next; there is no end to move")]
    OpenStep,
    /// Extension of zero, or past [`MAX_EXTENSION`].
    #[error(
        "a step can be extended by 1 second up to {} minutes in all",
        MAX_EXTENSION.as_secs() / 60
    )]
    BadExtension,
}

/// Where the session is within the current step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Idle, running, paused or finished.
    pub state: State,
    /// The current step (0-based), if a session is on.
    pub step: Option<usize>,
    /// Running time spent in the current step.
    pub step_elapsed: Duration,
    /// Time until the current step ends, at the current pace.
    pub step_remaining: Duration,
    /// Hands-on time left in the current step (zero in a step that lasts until `next`).
    pub hands_on_remaining: Duration,
    /// The current step lasts until `next`.
    pub open: bool,
}

#[derive(Debug, Clone)]
struct Current {
    index: usize,
    /// Driver time at which `elapsed` was zero (moved on resume).
    origin: Duration,
    /// Running time in this step when paused.
    paused_elapsed: Option<Duration>,
    /// Extension of the step's end.
    extra: Duration,
    /// Delay of every cue still to come (from repeating the prompt in hands-on time).
    delay: Duration,
    fired: Vec<bool>,
}

/// One session of one routine.
#[derive(Debug, Clone)]
pub struct Session {
    plan: Arc<Plan>,
    state: State,
    now: Duration,
    current: Option<Current>,
    events: VecDeque<Event>,
    /// Steps that last until `next` end at their shown length instead (a render).
    close_open_steps: bool,
}

impl Session {
    /// A session of `plan`, idle.
    pub fn new(plan: Arc<Plan>) -> Self {
        Self {
            plan,
            state: State::Idle,
            now: Duration::ZERO,
            current: None,
            events: VecDeque::new(),
            close_open_steps: false,
        }
    }

    /// The same session, but a step that lasts until `next` ends at the length the plan shows
    /// it at, as if `next` came then: what a render plays.
    pub fn closing_open_steps(mut self) -> Self {
        self.close_open_steps = true;
        self
    }

    /// Whether step `index` runs until `next` in this session.
    fn open(&self, index: usize) -> bool {
        self.plan.steps[index].open && !self.close_open_steps
    }

    /// The cues of step `index` this session plays: an open step's go on past its shown
    /// length.
    fn cues(&self, index: usize) -> impl Iterator<Item = &crate::plan::PlannedCue> {
        let step = &self.plan.steps[index];
        let beyond: &[crate::plan::PlannedCue] = if self.open(index) { &step.beyond } else { &[] };
        step.cues.iter().chain(beyond)
    }

    /// When the current step ends, from its origin (`None`: it lasts until `next`).
    fn step_end(&self, cur: &Current) -> Option<Duration> {
        let step = &self.plan.steps[cur.index];
        (!self.open(cur.index)).then(|| step.length + cur.extra + cur.delay)
    }

    /// The plan this session follows.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Idle, running, paused or finished.
    pub fn state(&self) -> State {
        self.state
    }

    /// The next event to act on, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the engine next needs [`Session::handle_timeout`]; `None` while idle or paused.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.state != State::Running {
            return None;
        }
        let cur = self.current.as_ref()?;
        let next_cue = self
            .cues(cur.index)
            .zip(&cur.fired)
            .filter(|(_, f)| !**f)
            .map(|(c, _)| self.cue_offset(cur, c.at, c.from_end))
            .min();
        let wake = match (next_cue, self.step_end(cur)) {
            (Some(c), Some(e)) => c.min(e),
            (c, e) => c.or(e)?,
        };
        Some(cur.origin + wake)
    }

    /// Tells the engine that time `now` has come: due cues and step changes are emitted.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.advance(now);
    }

    /// Where the session is at `now` (does not advance it).
    pub fn status(&self, now: Duration) -> Status {
        let now = now.max(self.now);
        match (&self.current, self.state) {
            (Some(cur), State::Running | State::Paused) => {
                let step = &self.plan.steps[cur.index];
                let elapsed = cur.paused_elapsed.unwrap_or(now.saturating_sub(cur.origin));
                let open = self.open(cur.index);
                let end = step.length + cur.extra + cur.delay;
                let hands_on_end = step.hands_on_end() + cur.extra + cur.delay;
                let (step_remaining, hands_on_remaining) = if open {
                    (Duration::ZERO, Duration::ZERO)
                } else {
                    (
                        end.saturating_sub(elapsed),
                        hands_on_end
                            .saturating_sub(elapsed)
                            .min(step.hands_on + cur.extra),
                    )
                };
                Status {
                    state: self.state,
                    step: Some(cur.index),
                    step_elapsed: elapsed,
                    step_remaining,
                    hands_on_remaining,
                    open,
                }
            }
            _ => Status {
                state: self.state,
                step: None,
                step_elapsed: Duration::ZERO,
                step_remaining: Duration::ZERO,
                hands_on_remaining: Duration::ZERO,
                open: false,
            },
        }
    }

    /// Starts the routine from its first step.
    pub fn start(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        if matches!(self.state, State::Running | State::Paused) {
            return Err(CommandError::AlreadyRunning);
        }
        self.state = State::Running;
        self.emit(self.now, EventKind::SessionStarted);
        self.enter_step(0, self.now);
        self.advance(self.now);
        Ok(())
    }

    /// Ends the session early.
    pub fn stop(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        self.require_session()?;
        self.emit(self.now, EventKind::Interrupt);
        self.finish(self.now, false);
        Ok(())
    }

    /// Holds the current step; its clock stops.
    pub fn pause(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        match self.state {
            State::Paused => return Err(CommandError::AlreadyPaused),
            State::Running => {}
            _ => return Err(CommandError::NotRunning),
        }
        let t = self.now;
        let cur = self.current.as_mut().expect("running has a step");
        cur.paused_elapsed = Some(t - cur.origin);
        self.state = State::Paused;
        self.emit(t, EventKind::Paused);
        Ok(())
    }

    /// Continues a held step from where it was.
    pub fn resume(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        match self.state {
            State::Running => return Err(CommandError::NotPaused),
            State::Paused => {}
            _ => return Err(CommandError::NotRunning),
        }
        self.unpause();
        self.advance(self.now);
        Ok(())
    }

    /// Pauses if running, resumes if paused: the one-key command.
    pub fn toggle_pause(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        match self.state {
            State::Running => self.pause(now),
            _ => self.resume(now),
        }
    }

    /// Skips to the next step; past the last step the session completes.
    pub fn next(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        self.require_session()?;
        let index = self.current.as_ref().expect("session has a step").index;
        self.unpause();
        self.emit(self.now, EventKind::Interrupt);
        if index + 1 < self.plan.steps.len() {
            self.enter_step(index + 1, self.now);
        } else {
            self.finish(self.now, true);
        }
        self.advance(self.now);
        Ok(())
    }

    /// Goes back to the previous step (or restarts the first).
    pub fn previous(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        self.require_session()?;
        let index = self.current.as_ref().expect("session has a step").index;
        self.unpause();
        self.emit(self.now, EventKind::Interrupt);
        self.enter_step(index.saturating_sub(1), self.now);
        self.advance(self.now);
        Ok(())
    }

    /// Says the current prompt again. Before hands-on time this restarts the prompt; during it,
    /// the prompt plays now and the rest of the step waits for it, so no hands-on time is lost.
    /// Before the prompt has begun (during the step's start tone) it is coming anyway: nothing
    /// changes.
    pub fn repeat(&mut self, now: Duration) -> Result<(), CommandError> {
        self.advance(now);
        self.require_session()?;
        self.unpause();
        let t = self.now;
        let plan = Arc::clone(&self.plan);
        let cur = self.current.as_mut().expect("session has a step");
        let step = &plan.steps[cur.index];
        let elapsed = t.saturating_sub(cur.origin);
        if cur.delay.is_zero() && elapsed < step.prompt_at {
            self.advance(t);
            return Ok(());
        }
        self.events.push_back(Event {
            at: t,
            kind: EventKind::Interrupt,
        });
        if cur.delay.is_zero() && elapsed < step.hands_on_start {
            // Back to the start of the prompt: every cue from there on plays again.
            cur.origin = t - step.prompt_at;
            for (c, f) in step.cues.iter().zip(cur.fired.iter_mut()) {
                if c.at >= step.prompt_at {
                    *f = false;
                }
            }
        } else {
            cur.delay += step.prompt_len;
            self.events.push_back(Event {
                at: t,
                kind: EventKind::Play(Sound::Prompt(cur.index)),
            });
        }
        self.advance(t);
        Ok(())
    }

    /// Lengthens the current step's hands-on time by `by`.
    pub fn extend(&mut self, now: Duration, by: Duration) -> Result<(), CommandError> {
        self.advance(now);
        self.require_session()?;
        let index = self.current.as_ref().expect("session has a step").index;
        if self.open(index) {
            return Err(CommandError::OpenStep);
        }
        let cur = self.current.as_mut().expect("session has a step");
        if by < Duration::from_secs(1) || cur.extra + by > MAX_EXTENSION {
            return Err(CommandError::BadExtension);
        }
        cur.extra += by;
        Ok(())
    }

    fn require_session(&self) -> Result<(), CommandError> {
        match self.state {
            State::Running | State::Paused => Ok(()),
            _ => Err(CommandError::NotRunning),
        }
    }

    fn unpause(&mut self) {
        if self.state != State::Paused {
            return;
        }
        let t = self.now;
        let cur = self.current.as_mut().expect("paused has a step");
        let elapsed = cur
            .paused_elapsed
            .take()
            .expect("paused has an elapsed time");
        cur.origin = t - elapsed;
        self.state = State::Running;
        self.emit(t, EventKind::Resumed);
    }

    fn cue_offset(&self, cur: &Current, at: Duration, from_end: bool) -> Duration {
        at + cur.delay + if from_end { cur.extra } else { Duration::ZERO }
    }

    fn enter_step(&mut self, index: usize, at: Duration) {
        let cues = self.cues(index).count();
        self.current = Some(Current {
            index,
            origin: at,
            paused_elapsed: None,
            extra: Duration::ZERO,
            delay: Duration::ZERO,
            fired: vec![false; cues],
        });
        self.emit(at, EventKind::StepStarted(index));
    }

    fn finish(&mut self, at: Duration, completed: bool) {
        self.current = None;
        self.state = if completed {
            State::Finished
        } else {
            State::Idle
        };
        self.emit(at, EventKind::SessionFinished { completed });
    }

    fn emit(&mut self, at: Duration, kind: EventKind) {
        self.events.push_back(Event { at, kind });
    }

    /// Emits everything due up to `now`, in time order, crossing step boundaries exactly.
    fn advance(&mut self, now: Duration) {
        let now = now.max(self.now);
        self.now = now;
        while self.state == State::Running {
            let plan = Arc::clone(&self.plan);
            let cur = self.current.as_ref().expect("running has a step");
            let due = self
                .cues(cur.index)
                .enumerate()
                .filter(|(i, _)| !cur.fired[*i])
                .map(|(i, c)| {
                    (
                        cur.origin + self.cue_offset(cur, c.at, c.from_end),
                        i,
                        c.sound,
                    )
                })
                .min_by_key(|(at, i, _)| (*at, *i));
            let end = self.step_end(cur).map(|e| cur.origin + e);
            match due {
                Some((at, i, sound)) if at <= now && end.is_none_or(|e| at <= e) => {
                    self.current.as_mut().expect("step").fired[i] = true;
                    self.emit(at, EventKind::Play(sound));
                }
                _ if end.is_some_and(|e| e <= now) => {
                    let end = end.expect("checked");
                    let index = cur.index;
                    if index + 1 < plan.steps.len() {
                        self.enter_step(index + 1, end);
                    } else {
                        self.finish(end, true);
                    }
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
