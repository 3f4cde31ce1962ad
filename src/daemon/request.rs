//! What clients (D-Bus, MPRIS) ask of the coach, each request with an answer of its own type.
//!
//! A request carries the channel its answer goes back on (as mini-redis does), typed per
//! request: the bus side can never receive an answer of the wrong shape, so it has no fallback
//! to invent.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use super::error::CoachError;

/// Where a request's answer goes.
pub type Answer<T> = oneshot::Sender<Result<T, CoachError>>;

/// A routine as listed: (name, title, where it comes from, or why it is broken).
pub type RoutineRow = (String, String, String);
/// A logged feed: (id, start in Unix seconds, side, note).
pub type FeedRow = (u64, i64, String, String);
/// A logged pumping: (id, start and end in Unix seconds, millilitres, side, note).
pub type PumpingRow = (u64, i64, i64, f64, String, String);
/// An upcoming session: (id, start in Unix seconds, why, routine).
pub type UpcomingRow = (String, i64, String, String);

/// A command for the running session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionCommand {
    /// Stop the session.
    Stop,
    /// Pause.
    Pause,
    /// Resume.
    Resume,
    /// Pause or resume.
    TogglePause,
    /// Next step.
    Next,
    /// Previous step.
    Previous,
    /// Say the prompt again.
    Repeat,
    /// Lengthen the current step by seconds (1 up to `engine::MAX_EXTENSION` in all).
    Extend(u32),
}

impl SessionCommand {
    /// True when doing the command makes a sound of its own (a step's tone and prompt); false
    /// for pause, resume and stop, which only stop or continue what is playing.
    pub fn is_heard(self) -> bool {
        matches!(self, Self::Next | Self::Previous | Self::Repeat)
    }

    /// Whether its argument is one the engine takes: an extension is 1 s up to
    /// `engine::MAX_EXTENSION`.
    pub fn check(self) -> Result<(), CoachError> {
        let max = crate::engine::MAX_EXTENSION.as_secs();
        match self {
            Self::Extend(secs) if secs == 0 || u64::from(secs) > max => {
                Err(CoachError::InvalidArgument(format!(
                    "cannot extend by {secs} seconds; give 1 to {max}"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// A change to, or a question about, feeds and schedules.
#[derive(Debug)]
pub enum ScheduleRequest {
    /// Log a feed that started at `start` (Unix seconds), and ended at `end` if given;
    /// returns its id.
    LogFeed {
        /// Start, Unix seconds.
        start: i64,
        /// End, Unix seconds (`None`: it runs until ended).
        end: Option<i64>,
        /// left, right, both or "".
        side: String,
        /// Free text.
        note: String,
        /// The new id.
        answer: Answer<u64>,
    },
    /// Log a pumping session from `start` to `end` (Unix seconds); returns its id.
    LogPumping {
        /// Start, Unix seconds.
        start: i64,
        /// End, Unix seconds (the same as start when its length was not said).
        end: i64,
        /// Millilitres.
        amount_ml: f64,
        /// left, right, both or "".
        side: String,
        /// Free text.
        note: String,
        /// The new id.
        answer: Answer<u64>,
    },
    /// Correct a feed's start (and side, unless "").
    CorrectFeed {
        /// The feed.
        id: u64,
        /// New start, Unix seconds.
        start: i64,
        /// New side, or "" to keep it.
        side: String,
        /// Done.
        answer: Answer<()>,
    },
    /// Delete a feed.
    DeleteFeed(u64, Answer<()>),
    /// The most recent feeds (0 = all), oldest first.
    ListFeeds(u32, Answer<Vec<FeedRow>>),
    /// Set the feed plan (an empty map clears it); returns warnings.
    SetFeedPlan(HashMap<String, String>, Answer<Vec<String>>),
    /// Add a schedule ("at 16:40", "in 25m", "daily 06:30") for a routine ("" = default).
    Add {
        /// When, as people say it.
        when: String,
        /// The routine.
        routine: String,
        /// The new id.
        answer: Answer<u64>,
    },
    /// Cancel a schedule by id, or the feed plan with "plan".
    Cancel(String, Answer<()>),
    /// Move the next scheduled session later by seconds.
    Snooze(u32, Answer<()>),
    /// Skip the next scheduled session.
    Skip(Answer<()>),
    /// What will fire, soonest first.
    Upcoming(Answer<Vec<UpcomingRow>>),
    /// Notices not yet told (missed sessions), cleared by reading.
    TakeNotices(Answer<Vec<String>>),
    /// The most recent pumpings (0 = all), oldest first.
    ListPumpings(u32, Answer<Vec<PumpingRow>>),
    /// Delete a mistaken pumping.
    DeletePumping(u64, Answer<()>),
    /// End the running feed now; returns its id, start and end.
    EndFeed(Answer<(u64, i64, i64)>),
    /// Send what waits for Baby Buddy and read its feedings; answered when read.
    SyncBabyBuddy(Answer<()>),
}

/// Everything a client can ask.
#[derive(Debug)]
pub enum Request {
    /// Start a routine ("" = the configured default); answered when it has started.
    Start(String, Answer<()>),
    /// A command for the running session.
    Session(SessionCommand, Answer<()>),
    /// Speak and return where the session is.
    WhereAmI(Answer<String>),
    /// Every routine.
    ListRoutines(Answer<Vec<RoutineRow>>),
    /// Re-read config and routines; returns the problems found.
    Reload(Answer<Vec<String>>),
    /// Set the master volume, 0.0 to 1.0.
    SetVolume(f64, Answer<()>),
    /// Feeds and schedules.
    Schedule(ScheduleRequest),
    /// Where the day stands (next session, next feed, last feed, next side), as a map.
    Summary(Answer<HashMap<String, String>>),
    /// Say a key's result aloud: the text, and whether the action was refused (a low tone
    /// first), following the `feedback` setting and quiet hours.
    Announce(String, bool, Answer<()>),
    /// Say a sentence of the default routine with another voice (engine, voice name), to hear
    /// it before choosing it; answered with the sentence once it is being said.
    TryVoice(String, String, Answer<String>),
}

/// Sends the request `make` builds to the coach and waits for its answer.
pub async fn ask<T>(
    tx: &mpsc::Sender<Request>,
    make: impl FnOnce(Answer<T>) -> Request,
) -> Result<T, CoachError> {
    let gone = || CoachError::NotRunning("letdownd is shutting down".into());
    let (answer, rx) = oneshot::channel();
    tx.send(make(answer)).await.map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

/// Answers `answer` with `result` (a client that went away is no error).
pub fn reply<T>(answer: Answer<T>, result: Result<T, CoachError>) {
    let _ = answer.send(result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_is_one_second_up_to_the_engines_limit() {
        let max = crate::engine::MAX_EXTENSION.as_secs() as u32;
        let refused = |s| SessionCommand::Extend(s).check().is_err();
        assert!(refused(0) && refused(max + 1), "outside 1..={max}");
        assert!(!refused(1) && !refused(max));
        let e = SessionCommand::Extend(0).check().unwrap_err().to_string();
        assert!(e.contains(&format!("1 to {max}")), "{e}");
        assert!(SessionCommand::Pause.check().is_ok());
    }
}
