//! The `letdown` command's remote control of letdownd over D-Bus.
//!
//! Each command is one method call on `org.letdown.Coach1`, short enough to bind to a key. When
//! the daemon is not there, the error says how to start it (with the D-Bus activation file
//! installed, the bus starts it by itself).

use std::time::Duration;

use zbus::proxy;

/// Client side of `org.letdown.Coach1`.
#[proxy(
    interface = "org.letdown.Coach1",
    default_service = "org.letdown.Coach",
    default_path = "/org/letdown/Coach"
)]
pub trait Coach {
    /// Start a routine.
    fn start(&self, routine: &str) -> zbus::Result<()>;
    /// Stop.
    fn stop(&self) -> zbus::Result<()>;
    /// Pause.
    fn pause(&self) -> zbus::Result<()>;
    /// Resume.
    fn resume(&self) -> zbus::Result<()>;
    /// Pause or resume.
    fn toggle_pause(&self) -> zbus::Result<()>;
    /// Next step.
    fn next(&self) -> zbus::Result<()>;
    /// Previous step.
    fn previous(&self) -> zbus::Result<()>;
    /// Repeat the prompt.
    fn repeat(&self) -> zbus::Result<()>;
    /// Lengthen the step.
    fn extend(&self, seconds: u32) -> zbus::Result<()>;
    /// Where the session is, spoken and returned.
    fn where_am_i(&self) -> zbus::Result<String>;
    /// Say a sentence of the default routine with another voice.
    fn try_voice(&self, engine: &str, voice: &str) -> zbus::Result<String>;
    /// Routines.
    fn list_routines(&self) -> zbus::Result<Vec<(String, String, String)>>;
    /// Re-read config and routines.
    fn reload(&self) -> zbus::Result<Vec<String>>;
    /// Log a feed.
    fn log_feed(&self, start: i64, side: &str, note: &str) -> zbus::Result<u64>;

    /// Logs a feed that is over.
    fn log_finished_feed(&self, start: i64, end: i64, side: &str, note: &str) -> zbus::Result<u64>;

    /// Logs a pumping session.
    fn log_pumping(
        &self,
        start: i64,
        end: i64,
        amount_ml: f64,
        side: &str,
        note: &str,
    ) -> zbus::Result<u64>;

    /// Ends the running feed now: (id, start, end).
    fn end_feed(&self) -> zbus::Result<(u64, i64, i64)>;

    /// Sends what waits for Baby Buddy and reads its feedings.
    fn sync_baby_buddy(&self) -> zbus::Result<()>;
    /// Correct a feed.
    fn correct_feed(&self, id: u64, start: i64, side: &str) -> zbus::Result<()>;
    /// Delete a feed.
    fn delete_feed(&self, id: u64) -> zbus::Result<()>;
    /// Recent feeds.
    fn list_feeds(&self, limit: u32) -> zbus::Result<Vec<(u64, i64, String, String)>>;
    /// List pumpings: (id, start, end, ml, side, note).
    fn list_pumpings(&self, limit: u32) -> zbus::Result<Vec<(u64, i64, i64, f64, String, String)>>;
    /// Delete a pumping.
    fn delete_pumping(&self, id: u64) -> zbus::Result<()>;
    /// Set the feed plan.
    fn set_feed_plan(
        &self,
        plan: std::collections::HashMap<String, String>,
    ) -> zbus::Result<Vec<String>>;
    /// Schedule a session.
    fn schedule(&self, when: &str, routine: &str) -> zbus::Result<u64>;
    /// Cancel a schedule.
    fn cancel(&self, id: &str) -> zbus::Result<()>;
    /// Snooze the next session.
    fn snooze(&self, seconds: u32) -> zbus::Result<()>;
    /// Skip the next session.
    fn skip(&self) -> zbus::Result<()>;
    /// What will fire.
    fn upcoming(&self) -> zbus::Result<Vec<(String, i64, String, String)>>;
    /// Notices not yet told.
    fn take_notices(&self) -> zbus::Result<Vec<String>>;
    /// Where the day stands (see `letdown::feedback::DaySummary`).
    fn summary(&self) -> zbus::Result<std::collections::HashMap<String, String>>;
    /// Say a key's result aloud.
    fn announce(&self, text: &str, refused: bool) -> zbus::Result<()>;
    /// The feed plan in force.
    #[zbus(property)]
    fn feed_plan(&self) -> zbus::Result<std::collections::HashMap<String, String>>;
    /// State.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// Routine name.
    #[zbus(property)]
    fn routine(&self) -> zbus::Result<String>;
    /// Step index, 0-based.
    #[zbus(property)]
    fn step_index(&self) -> zbus::Result<u32>;
    /// Steps.
    #[zbus(property)]
    fn step_count(&self) -> zbus::Result<u32>;
    /// Step title.
    #[zbus(property)]
    fn step_title(&self) -> zbus::Result<String>;
    /// The step's length in milliseconds.
    #[zbus(property)]
    fn step_length(&self) -> zbus::Result<u64>;
    /// Milliseconds left in the step.
    #[zbus(property)]
    fn step_remaining(&self) -> zbus::Result<u64>;
    /// Whether the step lasts until next.
    #[zbus(property)]
    fn step_open(&self) -> zbus::Result<bool>;
    /// Milliseconds into the step.
    #[zbus(property)]
    fn step_elapsed(&self) -> zbus::Result<u64>;
    /// Volume.
    #[zbus(property)]
    fn volume(&self) -> zbus::Result<f64>;
    /// Set the volume.
    #[zbus(property)]
    fn set_volume(&self, volume: f64) -> zbus::Result<()>;
}

/// Where a session is, as `letdown status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// idle, running or paused.
    pub state: String,
    /// Routine name.
    pub routine: String,
    /// 1-based step number (0 when idle).
    pub step: u32,
    /// Steps in the routine.
    pub steps: u32,
    /// Step title.
    pub title: String,
    /// Milliseconds left in the step.
    pub remaining_ms: u64,
    /// The step's length in milliseconds.
    pub length_ms: u64,
    /// The step lasts until next: no time left, `elapsed_ms` so far.
    pub open: bool,
    /// Milliseconds into the step.
    pub elapsed_ms: u64,
    /// Master volume.
    pub volume: f64,
}

impl Status {
    /// One line: `running  lactation-massage  step 3/13  Upper chest  0:42 left`.
    pub fn line(&self) -> String {
        if self.state == "idle" {
            return "idle".into();
        }
        if self.state == "preparing" {
            return format!(
                "preparing  {}  (its speech is being synthesized)",
                self.routine
            );
        }
        // A step that lasts until next has no time left, only time so far.
        let (secs, which) = if self.open {
            (self.elapsed_ms / 1000, "so far (until next)")
        } else {
            (self.remaining_ms.div_ceil(1000), "left")
        };
        format!(
            "{}  {}  step {}/{}  {}  {}:{:02} {which}",
            self.state,
            self.routine,
            self.step,
            self.steps,
            self.title,
            secs / 60,
            secs % 60
        )
    }
}

/// Reads every status property.
pub async fn status(p: &CoachProxy<'_>) -> zbus::Result<Status> {
    let state = p.state().await?;
    let index = p.step_index().await?;
    Ok(Status {
        routine: p.routine().await?,
        step: if state == "idle" { 0 } else { index + 1 },
        steps: p.step_count().await?,
        title: p.step_title().await?,
        remaining_ms: p.step_remaining().await?,
        length_ms: p.step_length().await?,
        open: p.step_open().await?,
        elapsed_ms: p.step_elapsed().await?,
        volume: p.volume().await?,
        state,
    })
}

/// An error letdownd answered with: its name kept to match on (the part after
/// `org.letdown.Coach1.Error.`, e.g. `NotRunning`), its message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The error's name, e.g. `NotRunning`.
    pub name: String,
    /// What letdownd said.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.name)
    }
}

impl std::error::Error for Refusal {}

/// The refusal in `e`, when letdownd refused the call with one of its own errors.
pub fn refusal(e: &zbus::Error) -> Option<Refusal> {
    let zbus::Error::MethodError(name, msg, _) = e else {
        return None;
    };
    let short = name.as_str().strip_prefix("org.letdown.Coach1.Error.")?;
    Some(Refusal {
        name: short.to_string(),
        message: msg.clone().unwrap_or_else(|| short.to_string()),
    })
}

/// Turns a D-Bus error into a sentence for the terminal.
pub fn explain(e: &zbus::Error) -> String {
    if let Some(r) = refusal(e) {
        return r.to_string();
    }
    if let zbus::Error::MethodError(name, msg, _) = e {
        let name = name.as_str();
        if name == "org.freedesktop.DBus.Error.ServiceUnknown"
            || name == "org.freedesktop.DBus.Error.NameHasNoOwner"
        {
            return "letdownd is not running. Start it with `systemctl --user start letdownd`, \
                    or run `letdownd &` (scripts/install sets up both)"
                .into();
        }
        return format!("{name}: {}", msg.as_deref().unwrap_or(""));
    }
    let text = e.to_string();
    if matches!(e, zbus::Error::Address(_))
        || text.contains("DBUS_SESSION_BUS_ADDRESS")
        || text.contains("Failed to connect to address")
    {
        return format!("no D-Bus session bus ({e}); letdown needs a desktop session");
    }
    e.to_string()
}

/// A progress bar `[#####.....]` for `elapsed` of `total`.
pub fn bar(elapsed: Duration, total: Duration, width: usize) -> String {
    let frac = if total.is_zero() {
        0.0
    } else {
        (elapsed.as_secs_f64() / total.as_secs_f64()).clamp(0.0, 1.0)
    };
    let filled = (frac * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}
