//! What is kept about feeds and sessions: the feed log, schedules, the feed plan and what was
//! done about each occurrence ([`State`], saved by [`super::store`]).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Time;
use serde::{Deserialize, Serialize};

use super::Occurrence;

/// Which breast a feed started on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Left.
    Left,
    /// Right.
    Right,
    /// Both.
    Both,
    /// Not said.
    #[default]
    Unknown,
}

impl Side {
    /// Reads `left`, `right`, `both` or an empty string.
    pub fn parse(s: &str) -> Result<Side, String> {
        match s {
            "left" | "l" => Ok(Side::Left),
            "right" | "r" => Ok(Side::Right),
            "both" | "b" => Ok(Side::Both),
            "" => Ok(Side::Unknown),
            other => Err(format!("unknown side \"{other}\"; use left, right or both")),
        }
    }

    /// The name used in files and output.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
            Side::Both => "both",
            Side::Unknown => "",
        }
    }
}

/// Which side comes next, from the feed log (oldest first), as docs/SCHEDULING.md states:
/// after a feed on one side, the other side; after `both`, the side opposite the last
/// one-sided feed before it (both were used, so the one that rested longest goes first); feeds
/// logged without a side are passed over. `None` when no feed says a side.
pub fn next_side(feeds: &[Feed]) -> Option<Side> {
    let other = |s: Side| match s {
        Side::Left => Some(Side::Right),
        Side::Right => Some(Side::Left),
        _ => None,
    };
    let mut sided = feeds.iter().rev().filter(|f| f.side != Side::Unknown);
    match sided.next()?.side {
        Side::Both => sided
            .find(|f| f.side != Side::Both)
            .and_then(|f| other(f.side))
            .or(Some(Side::Left)),
        s => other(s),
    }
}

/// One logged feed (its start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    /// Stable id, for corrections.
    pub id: u64,
    /// When the feed started, Unix seconds.
    pub at: i64,
    /// When it ended, Unix seconds; `None` while it runs (or where it was never said).
    #[serde(default)]
    pub end: Option<i64>,
    /// Which side.
    #[serde(default)]
    pub side: Side,
    /// A free note.
    #[serde(default)]
    pub note: String,
    /// When it was logged (Unix seconds): plan sessions before this are not looked for.
    #[serde(default)]
    pub logged: i64,
}

/// One logged pumping (or hand expression) session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pumping {
    /// Stable id (from the same sequence as feeds and schedules).
    pub id: u64,
    /// When it started, Unix seconds.
    pub start: i64,
    /// When it ended, Unix seconds (the same as `start` when its length was not said).
    pub end: i64,
    /// How much, in millilitres.
    pub amount_ml: f64,
    /// Which side (`Unknown` when not said, or for both pumped together and not said).
    #[serde(default)]
    pub side: Side,
    /// A free note.
    #[serde(default)]
    pub note: String,
    /// When it was logged (Unix seconds).
    #[serde(default)]
    pub logged: i64,
}

/// The least and most a pumping can be logged with, millilitres: a few drops of colostrum to
/// more than any one session gives (a typo, not a session, beyond it).
pub const PUMPED_ML: std::ops::RangeInclusive<f64> = 1.0..=1000.0;

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Rule {
    /// Once, at a Unix time.
    Once {
        /// Unix seconds.
        at: i64,
    },
    /// Every day at a local time.
    Daily {
        /// Hour 0-23.
        hour: i8,
        /// Minute 0-59.
        minute: i8,
    },
}

/// A user's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Stable id, for `cancel`.
    pub id: u64,
    /// When.
    pub rule: Rule,
    /// The routine to run ("" = the default routine).
    pub routine: String,
    /// When it was made (Unix seconds): nothing before this counts as due or missed.
    #[serde(default)]
    pub created: i64,
}

/// What to do with automatic sessions in quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuietAction {
    /// No automatic session.
    Skip,
    /// Run it at the quiet volume.
    Quieter,
}

impl QuietAction {
    /// Reads `skip` or `quieter`.
    pub fn parse(s: &str) -> Result<QuietAction, String> {
        match s {
            "skip" => Ok(QuietAction::Skip),
            "quieter" => Ok(QuietAction::Quieter),
            other => Err(format!(
                "unknown quiet action \"{other}\"; use \"skip\" or \"quieter\""
            )),
        }
    }
}

/// The keys of a feed plan, in config.toml's `[feed_plan]` and in D-Bus `SetFeedPlan`.
pub const FEED_PLAN_KEYS: &[&str] = &[
    "interval",
    "times",
    "lead",
    "routine",
    "quiet_hours",
    "quiet",
    "pumping_counts_as_feed",
];

/// A night window for the feed plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start, local (hour, minute).
    pub from: (i8, i8),
    /// End, local (hour, minute); may be past midnight.
    pub to: (i8, i8),
    /// Skip or play quieter.
    pub action: QuietAction,
}

impl QuietHours {
    /// Whether local time `t` is in the window.
    pub fn contains(&self, t: Time) -> bool {
        let m = t.hour() as i32 * 60 + t.minute() as i32;
        let from = self.from.0 as i32 * 60 + self.from.1 as i32;
        let to = self.to.0 as i32 * 60 + self.to.1 as i32;
        if from <= to {
            (from..to).contains(&m)
        } else {
            m >= from || m < to
        }
    }
}

/// When feeds are due and how long before them a session starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPlan {
    /// Start-to-start interval between feeds, seconds (predicts from the last logged feed).
    #[serde(default)]
    pub interval: Option<u64>,
    /// Fixed daily feed times (hour, minute), used when there is no interval.
    #[serde(default)]
    pub times: Vec<(i8, i8)>,
    /// How long before the due feed the session starts, seconds.
    pub lead: u64,
    /// The routine ("" = the default routine).
    #[serde(default)]
    pub routine: String,
    /// An optional night window.
    #[serde(default)]
    pub quiet: Option<QuietHours>,
    /// Pumping sessions count as feeds (exclusive pumpers schedule by pumping).
    #[serde(default)]
    pub pumping_counts_as_feed: bool,
}

/// How an occurrence was dealt with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The session ran.
    Fired,
    /// The user skipped it.
    Skipped,
    /// Its time passed by more than the grace period (machine asleep or off).
    Missed,
}

/// The most schedules kept: enough for any day's plan, and a bound on the planner's work.
pub const MAX_SCHEDULES: usize = 100;

/// The longest note a feed keeps, in characters: a note is a word or two typed at a key
/// press, and what is stored stays bounded whoever calls LogFeed (docs/DBUS.md says so).
pub const MAX_NOTE_CHARS: usize = 500;

/// The most untold missed sessions kept (the oldest are dropped): a machine off for weeks
/// does not pile up notices.
pub const MAX_UNTOLD: usize = 20;

/// Everything letdownd keeps about feeds and schedules (saved by [`super::store`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    #[serde(default)]
    pub version: u32,
    /// The next id to hand out (feeds and schedules share the sequence).
    #[serde(default)]
    pub next_id: u64,
    /// Logged feeds, oldest first.
    #[serde(default)]
    pub feeds: Vec<Feed>,
    /// Logged pumping sessions, oldest first.
    #[serde(default)]
    pub pumpings: Vec<Pumping>,
    /// One-off and daily schedules.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// The feed plan set over D-Bus (replaces the config's).
    #[serde(default)]
    pub plan: Option<FeedPlan>,
    /// Occurrences already dealt with, by key.
    #[serde(default)]
    pub handled: BTreeMap<String, (i64, Outcome)>,
    /// Occurrences moved later, by key: the new Unix time.
    #[serde(default)]
    pub snoozed: BTreeMap<String, i64>,
    /// Missed sessions not yet told to the user.
    #[serde(default)]
    pub missed_untold: Vec<String>,
    /// When the feed plan was last set (Unix seconds): its sessions before this do not count.
    #[serde(default)]
    pub plan_since: i64,
    /// The Baby Buddy sync: outbox, links, feedings logged elsewhere.
    #[serde(default)]
    pub babybuddy: super::sync::SyncState,
}

impl State {
    /// Everything but the feed log (kept apart from it on disk).
    pub fn without_feeds(&self) -> State {
        State {
            version: self.version,
            next_id: self.next_id,
            feeds: Vec::new(),
            pumpings: Vec::new(),
            schedules: self.schedules.clone(),
            plan: self.plan.clone(),
            handled: self.handled.clone(),
            snoozed: self.snoozed.clone(),
            missed_untold: self.missed_untold.clone(),
            plan_since: self.plan_since,
            babybuddy: self.babybuddy.clone(),
        }
    }

    /// The feeds the plan and the side are worked out from: the log and the feedings logged
    /// elsewhere (Baby Buddy), oldest first.
    pub fn all_feeds(&self) -> std::borrow::Cow<'_, [Feed]> {
        if self.babybuddy.mirror.is_empty() {
            std::borrow::Cow::Borrowed(&self.feeds)
        } else {
            std::borrow::Cow::Owned(super::sync::merged(&self.feeds, &self.babybuddy.mirror))
        }
    }

    /// The feeds the feed plan predicts from: [`State::all_feeds`], and the pumping sessions
    /// too when `pumping` (`pumping_counts_as_feed`). A pumping says no side.
    pub fn plan_feeds(&self, pumping: bool) -> std::borrow::Cow<'_, [Feed]> {
        let feeds = self.all_feeds();
        if !pumping || self.pumpings.is_empty() {
            return feeds;
        }
        let mut all = feeds.into_owned();
        all.extend(self.pumpings.iter().map(|p| Feed {
            id: p.id,
            at: p.start,
            end: Some(p.end),
            side: Side::Unknown,
            note: String::new(),
            logged: p.logged,
        }));
        all.sort_by_key(|f| f.at);
        std::borrow::Cow::Owned(all)
    }

    /// Hands out a new id.
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Logs, at `now`, a feed that started at `at` (and ended at `end`, if said); returns its
    /// id.
    pub fn log_feed(
        &mut self,
        now: Timestamp,
        at: Timestamp,
        end: Option<Timestamp>,
        side: Side,
        note: &str,
    ) -> u64 {
        let id = self.new_id();
        self.feeds.push(Feed {
            id,
            at: at.as_second(),
            end: end.map(|e| e.as_second()),
            side,
            note: note.to_string(),
            logged: now.as_second(),
        });
        self.feeds.sort_by_key(|f| f.at);
        id
    }

    /// Logs, at `now`, a pumping from `start` to `end`; returns its id.
    pub fn log_pumping(
        &mut self,
        now: Timestamp,
        start: i64,
        end: i64,
        amount_ml: f64,
        side: Side,
        note: &str,
    ) -> u64 {
        let id = self.new_id();
        self.pumpings.push(Pumping {
            id,
            start,
            end,
            amount_ml,
            side,
            note: note.to_string(),
            logged: now.as_second(),
        });
        self.pumpings.sort_by_key(|p| p.start);
        id
    }

    /// Corrects a feed's time (and side, if given); an end it has moves with its start, so
    /// it lasts as long as before. False if there is no such feed.
    pub fn correct_feed(&mut self, id: u64, at: Timestamp, side: Option<Side>) -> bool {
        let Some(f) = self.feeds.iter_mut().find(|f| f.id == id) else {
            return false;
        };
        if let Some(end) = f.end.as_mut() {
            *end += at.as_second() - f.at;
        }
        f.at = at.as_second();
        if let Some(s) = side {
            f.side = s;
        }
        self.feeds.sort_by_key(|f| f.at);
        true
    }

    /// Deletes a mistaken feed; false if there is no such feed.
    pub fn delete_feed(&mut self, id: u64) -> bool {
        let before = self.feeds.len();
        self.feeds.retain(|f| f.id != id);
        self.feeds.len() != before
    }

    /// Adds a schedule made at `now`; returns its id.
    pub fn add_schedule(&mut self, now: Timestamp, rule: Rule, routine: &str) -> u64 {
        let id = self.new_id();
        self.schedules.push(Schedule {
            id,
            rule,
            routine: routine.to_string(),
            created: now.as_second(),
        });
        id
    }

    /// Sets (or with `None` clears) the feed plan at `now`.
    pub fn set_plan(&mut self, now: Timestamp, plan: Option<FeedPlan>) {
        self.plan = plan;
        self.plan_since = now.as_second();
    }

    /// Removes a schedule; false if there is no such schedule.
    pub fn cancel(&mut self, id: u64) -> bool {
        let before = self.schedules.len();
        self.schedules.retain(|s| s.id != id);
        self.schedules.len() != before
    }

    /// Records how an occurrence was dealt with, so it never comes up again.
    pub fn mark(&mut self, o: &Occurrence, outcome: Outcome) {
        self.handled
            .insert(o.key.clone(), (o.at.as_second(), outcome));
        self.snoozed.remove(&o.key);
    }

    /// Moves an occurrence to `by` after `now` (or after its own time, if that is later).
    pub fn snooze(&mut self, o: &Occurrence, now: Timestamp, by: Duration) {
        let base = o.at.max(now).as_second();
        self.snoozed
            .insert(o.key.clone(), base + by.as_secs() as i64);
    }

    /// Forgets dealt-with occurrences older than two days (they can no longer come up).
    pub fn prune(&mut self, now: Timestamp) {
        let cutoff = now.as_second() - 2 * 86_400;
        self.handled.retain(|_, (at, _)| *at >= cutoff);
        self.snoozed.retain(|_, at| *at >= cutoff);
        self.schedules
            .retain(|s| !matches!(s.rule, Rule::Once { at } if at < cutoff));
        let extra = self.missed_untold.len().saturating_sub(MAX_UNTOLD);
        self.missed_untold.drain(..extra);
        let extra = self.babybuddy.untold.len().saturating_sub(MAX_UNTOLD);
        self.babybuddy.untold.drain(..extra);
        // Where feeds and pumpings of the last month are on Baby Buddy (to correct or delete them there);
        // older ones are history.
        let month = now.as_second() - 30 * 86_400;
        let recent: std::collections::HashSet<u64> = self
            .feeds
            .iter()
            .filter(|f| f.at >= month)
            .map(|f| f.id)
            .chain(
                self.pumpings
                    .iter()
                    .filter(|p| p.start >= month)
                    .map(|p| p.id),
            )
            .collect();
        let queued: std::collections::HashSet<u64> =
            self.babybuddy.outbox.iter().map(|o| o.feed).collect();
        self.babybuddy
            .links
            .retain(|id, _| recent.contains(id) || queued.contains(id));
    }
}
