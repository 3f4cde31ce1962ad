//! `org.letdown.Coach1` on the session bus: the daemon's remote control.
//!
//! Each method forwards to the session task and waits for its answer; properties are read from
//! the latest [`Snapshot`]. docs/DBUS.md documents every method, property, signal and error.

use tokio::sync::{mpsc, watch};
use zbus::interface;
use zbus::object_server::SignalEmitter;

use super::error::CoachError;
use super::request::{
    FeedRow, Request, RoutineRow, ScheduleRequest as S, SessionCommand, UpcomingRow, ask,
};
use super::snapshot::Snapshot;

/// The well-known bus name letdownd owns.
pub const BUS_NAME: &str = "org.letdown.Coach";
/// The object path of the coach.
pub const OBJECT_PATH: &str = "/org/letdown/Coach";
/// The interface name.
pub const INTERFACE: &str = "org.letdown.Coach1";

/// The `org.letdown.Coach1` object.
pub struct CoachInterface {
    tx: mpsc::Sender<Request>,
    snapshot: watch::Receiver<Snapshot>,
}

impl CoachInterface {
    /// An interface forwarding to `tx` and reading `snapshot`.
    pub fn new(tx: mpsc::Sender<Request>, snapshot: watch::Receiver<Snapshot>) -> Self {
        Self { tx, snapshot }
    }

    async fn session(&self, command: SessionCommand) -> Result<(), CoachError> {
        ask(&self.tx, |a| Request::Session(command, a)).await
    }

    async fn schedule_request<T>(
        &self,
        make: impl FnOnce(super::request::Answer<T>) -> S,
    ) -> Result<T, CoachError> {
        ask(&self.tx, |a| Request::Schedule(make(a))).await
    }
}

#[interface(name = "org.letdown.Coach1")]
impl CoachInterface {
    /// Starts a routine by name; "" starts the configured default routine. When its speech is
    /// still being prepared, answers once the session has started.
    async fn start(&self, routine: &str) -> Result<(), CoachError> {
        ask(&self.tx, |a| Request::Start(routine.to_string(), a)).await
    }

    /// Stops the session.
    async fn stop(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::Stop).await
    }

    /// Pauses the session: sound stops at once and the step's clock holds.
    async fn pause(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::Pause).await
    }

    /// Resumes a paused session where it left off.
    async fn resume(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::Resume).await
    }

    /// Pauses if running, resumes if paused.
    async fn toggle_pause(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::TogglePause).await
    }

    /// Skips to the next step (after the last, the session completes).
    async fn next(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::Next).await
    }

    /// Goes back one step (on the first step, restarts it).
    async fn previous(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::Previous).await
    }

    /// Says the current step's prompt again without losing hands-on time.
    async fn repeat(&self) -> Result<(), CoachError> {
        self.session(SessionCommand::Repeat).await
    }

    /// Lengthens the current step by 1 second up to `engine::MAX_EXTENSION` (30 minutes) in
    /// all.
    async fn extend(&self, seconds: u32) -> Result<(), CoachError> {
        self.session(SessionCommand::Extend(seconds)).await
    }

    /// Speaks the current step and the time left, and returns the same as text.
    async fn where_am_i(&self) -> Result<String, CoachError> {
        ask(&self.tx, Request::WhereAmI).await
    }

    /// Where the day stands: next_session (Unix seconds) and next_session_reason,
    /// next_feed_due, last_feed and last_side, next_side, and with Baby Buddy connected the
    /// `sync_*` keys; keys without a value are left out.
    async fn summary(&self) -> Result<std::collections::HashMap<String, String>, CoachError> {
        ask(&self.tx, Request::Summary).await
    }

    /// Says a key's result aloud, as the `feedback` setting asks (speech, tone or none; in
    /// quiet hours quieter, or a tone only). `refused` plays the low "could not" tone first.
    /// At most 300 characters.
    async fn announce(&self, text: &str, refused: bool) -> Result<(), CoachError> {
        let text = text.to_string();
        ask(&self.tx, |a| Request::Announce(text, refused, a)).await
    }

    /// Says a sentence of the default routine with another voice, to hear it before choosing
    /// it (`letdown voices try`): ENGINE (festival, flite, espeak-ng, rhvoice, piper) and its
    /// VOICE. Answered with the sentence once it is synthesized and being said; InvalidArgument
    /// for an unknown engine or a malformed name, SpeechFailed when that voice cannot speak.
    async fn try_voice(&self, engine: &str, voice: &str) -> Result<String, CoachError> {
        let (engine, voice) = (engine.to_string(), voice.to_string());
        ask(&self.tx, |a| Request::TryVoice(engine, voice, a)).await
    }

    /// Every routine: (name, title, where it comes from, or why it is broken).
    async fn list_routines(&self) -> Result<Vec<RoutineRow>, CoachError> {
        ask(&self.tx, Request::ListRoutines).await
    }

    /// Re-reads the config and the routines; returns the problems found in routine files. A
    /// broken config is refused (InvalidConfig) and the old one kept.
    async fn reload(&self) -> Result<Vec<String>, CoachError> {
        ask(&self.tx, Request::Reload).await
    }

    /// Logs a feed that started at `start` (Unix seconds); side is left, right, both or "".
    /// Returns its id.
    async fn log_feed(&self, start: i64, side: &str, note: &str) -> Result<u64, CoachError> {
        let (side, note) = (side.to_string(), note.to_string());
        self.schedule_request(|answer| S::LogFeed {
            start,
            end: None,
            side,
            note,
            answer,
        })
        .await
    }

    /// Logs a feed that is over: it started at `start` and ended at `end` (Unix seconds).
    /// Returns its id. A feed logged with `LogFeed` runs until `EndFeed`, the next feed, or
    /// Baby Buddy's `max_feed`.
    async fn log_finished_feed(
        &self,
        start: i64,
        end: i64,
        side: &str,
        note: &str,
    ) -> Result<u64, CoachError> {
        let (side, note) = (side.to_string(), note.to_string());
        self.schedule_request(|answer| S::LogFeed {
            start,
            end: Some(end),
            side,
            note,
            answer,
        })
        .await
    }

    /// Logs a pumping (or hand expression) session from `start` to `end` (Unix seconds; the
    /// same when its length was not said) of `amount_ml` millilitres; side left, right, both or
    /// "". Returns its id.
    async fn log_pumping(
        &self,
        start: i64,
        end: i64,
        amount_ml: f64,
        side: &str,
        note: &str,
    ) -> Result<u64, CoachError> {
        let (side, note) = (side.to_string(), note.to_string());
        self.schedule_request(|answer| S::LogPumping {
            start,
            end,
            amount_ml,
            side,
            note,
            answer,
        })
        .await
    }

    /// The last `limit` pumpings (0 = all), oldest first: id, start, end, millilitres, side,
    /// note.
    async fn list_pumpings(
        &self,
        limit: u32,
    ) -> Result<Vec<super::request::PumpingRow>, CoachError> {
        self.schedule_request(|a| S::ListPumpings(limit, a)).await
    }

    /// Deletes a mistaken pumping (in Baby Buddy too, when connected).
    async fn delete_pumping(&self, id: u64) -> Result<(), CoachError> {
        self.schedule_request(|a| S::DeletePumping(id, a)).await
    }

    /// Ends the running feed now; returns its id, start and end (Unix seconds).
    async fn end_feed(&self) -> Result<(u64, i64, i64), CoachError> {
        self.schedule_request(S::EndFeed).await
    }

    /// Sends the feeds waiting for Baby Buddy (retries cut short) and reads its feedings;
    /// returns once they are read. `SyncFailed` when the server cannot be read.
    async fn sync_baby_buddy(&self) -> Result<(), CoachError> {
        self.schedule_request(S::SyncBabyBuddy).await
    }

    /// Corrects a logged feed's start (and side, unless "").
    async fn correct_feed(&self, id: u64, start: i64, side: &str) -> Result<(), CoachError> {
        let side = side.to_string();
        self.schedule_request(|answer| S::CorrectFeed {
            id,
            start,
            side,
            answer,
        })
        .await
    }

    /// Deletes a mistaken feed.
    async fn delete_feed(&self, id: u64) -> Result<(), CoachError> {
        self.schedule_request(|a| S::DeleteFeed(id, a)).await
    }

    /// The most recent feeds (0 = all), oldest first: (id, start, side, note).
    async fn list_feeds(&self, limit: u32) -> Result<Vec<FeedRow>, CoachError> {
        self.schedule_request(|a| S::ListFeeds(limit, a)).await
    }

    /// Sets the feed plan: keys interval ("3h") or times ("06:00,09:00"), lead ("10m"), routine,
    /// quiet_hours ("22:00-06:00"), quiet ("skip" or "quieter"). An empty map clears it.
    /// Returns warnings (a lead shorter than the routine).
    async fn set_feed_plan(
        &self,
        plan: std::collections::HashMap<String, String>,
    ) -> Result<Vec<String>, CoachError> {
        self.schedule_request(|a| S::SetFeedPlan(plan, a)).await
    }

    /// Schedules a session: `when` is "at 16:40", "in 25m" or "daily 06:30" (local time);
    /// routine "" = the default. Returns its id.
    async fn schedule(&self, when: &str, routine: &str) -> Result<u64, CoachError> {
        let (when, routine) = (when.to_string(), routine.to_string());
        self.schedule_request(|answer| S::Add {
            when,
            routine,
            answer,
        })
        .await
    }

    /// Cancels a schedule by id, or the feed plan with "plan".
    async fn cancel(&self, id: &str) -> Result<(), CoachError> {
        let id = id.to_string();
        self.schedule_request(|a| S::Cancel(id, a)).await
    }

    /// Moves the next scheduled session later by `seconds`.
    async fn snooze(&self, seconds: u32) -> Result<(), CoachError> {
        self.schedule_request(|a| S::Snooze(seconds, a)).await
    }

    /// Skips the next scheduled session.
    async fn skip(&self) -> Result<(), CoachError> {
        self.schedule_request(S::Skip).await
    }

    /// What will fire, soonest first: (id, start, why, routine).
    async fn upcoming(&self) -> Result<Vec<UpcomingRow>, CoachError> {
        self.schedule_request(S::Upcoming).await
    }

    /// Notices not yet told (missed sessions); each is returned once, and none in the feed
    /// plan's quiet hours (they are held until a key is pressed after them).
    async fn take_notices(&self) -> Result<Vec<String>, CoachError> {
        self.schedule_request(S::TakeNotices).await
    }

    /// When the next scheduled session starts (Unix seconds), 0 if none.
    #[zbus(property)]
    async fn next_session(&self) -> i64 {
        self.snapshot.borrow().next_session
    }

    /// The feed plan in force (from SetFeedPlan, else the config), as SetFeedPlan takes it.
    #[zbus(property)]
    async fn feed_plan(&self) -> std::collections::HashMap<String, String> {
        self.snapshot
            .borrow()
            .feed_plan
            .clone()
            .into_iter()
            .collect()
    }

    /// `idle`, `preparing`, `running` or `paused`.
    #[zbus(property)]
    async fn state(&self) -> String {
        self.snapshot.borrow().state.as_str().to_string()
    }

    /// The running routine's name ("" when idle).
    #[zbus(property)]
    async fn routine(&self) -> String {
        self.snapshot.borrow().routine.clone()
    }

    /// The current step, 0-based.
    #[zbus(property)]
    async fn step_index(&self) -> u32 {
        self.snapshot.borrow().step_index
    }

    /// How many steps the running routine has (0 when idle).
    #[zbus(property)]
    async fn step_count(&self) -> u32 {
        self.snapshot.borrow().step_count
    }

    /// The current step's title.
    #[zbus(property)]
    async fn step_title(&self) -> String {
        self.snapshot.borrow().step_title.clone()
    }

    /// The current step's whole length in milliseconds (prompt, hands-on time and tones).
    #[zbus(property)]
    async fn step_length(&self) -> u64 {
        self.snapshot.borrow().step_length.as_millis() as u64
    }

    /// Milliseconds left in the current step, read live. It changes every moment, so its change
    /// signal only invalidates it (at step changes, pause, resume, commands): read it again.
    #[zbus(property(emits_changed_signal = "invalidates"))]
    async fn step_remaining(&self) -> u64 {
        self.snapshot.borrow().remaining_now().as_millis() as u64
    }

    /// Whether the current step lasts until `next` (`until = "next"`): it has no time left,
    /// only time so far (`StepElapsed`).
    #[zbus(property)]
    async fn step_open(&self) -> bool {
        self.snapshot.borrow().open
    }

    /// Milliseconds into the current step, read live (invalidated like `StepRemaining`).
    #[zbus(property(emits_changed_signal = "invalidates"))]
    async fn step_elapsed(&self) -> u64 {
        self.snapshot.borrow().elapsed_now().as_millis() as u64
    }

    /// Master volume, 0.0 to 1.0.
    #[zbus(property)]
    async fn volume(&self) -> f64 {
        self.snapshot.borrow().volume
    }

    /// Sets the master volume, 0.0 to 1.0.
    #[zbus(property)]
    async fn set_volume(&mut self, volume: f64) -> zbus::fdo::Result<()> {
        ask(&self.tx, |a| Request::SetVolume(volume, a))
            .await
            .map_err(|e| zbus::fdo::Error::InvalidArgs(e.to_string()))
    }

    /// A step began (0-based index, title).
    #[zbus(signal)]
    pub async fn step_started(
        emitter: &SignalEmitter<'_>,
        index: u32,
        title: &str,
    ) -> zbus::Result<()>;

    /// A scheduled session fired: schedule id ("plan" for the feed plan), routine, why.
    #[zbus(signal)]
    pub async fn schedule_fired(
        emitter: &SignalEmitter<'_>,
        id: &str,
        routine: &str,
        reason: &str,
    ) -> zbus::Result<()>;

    /// A session ended; `completed` is false if it was stopped.
    #[zbus(signal)]
    pub async fn session_finished(
        emitter: &SignalEmitter<'_>,
        routine: &str,
        completed: bool,
    ) -> zbus::Result<()>;
}
