//! Scheduling sessions before feeds: the feed log, the feed plan, one-off and daily schedules.
//!
//! Like the session engine, the planner here is pure: it is given the state and the time and
//! answers which sessions are pending, which are due now, which were missed and when to wake
//! next. Wall-clock times are absolute instants ([`jiff::Timestamp`]); daily times are local
//! times resolved in a time zone with jiff, so a DST change neither skips nor doubles a daily
//! session (a time that does not exist that day runs just after the gap, a time that exists
//! twice runs at the first). The daemon keeps [`State`] on disk ([`store`]) and arms a wall-clock
//! timer for [`Planner::next_wake`].

pub mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

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

/// One logged feed (its start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    /// Stable id, for corrections.
    pub id: u64,
    /// When the feed started, Unix seconds.
    pub at: i64,
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
    fn contains(&self, t: Time) -> bool {
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

/// Everything letdownd keeps about feeds and schedules; saved as one JSON file.
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
}

impl State {
    /// Hands out a new id.
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Logs, at `now`, a feed that started at `at`; returns its id.
    pub fn log_feed(&mut self, now: Timestamp, at: Timestamp, side: Side, note: &str) -> u64 {
        let id = self.new_id();
        self.feeds.push(Feed {
            id,
            at: at.as_second(),
            side,
            note: note.to_string(),
            logged: now.as_second(),
        });
        self.feeds.sort_by_key(|f| f.at);
        id
    }

    /// Corrects a feed's time (and side, if given); false if there is no such feed.
    pub fn correct_feed(&mut self, id: u64, at: Timestamp, side: Option<Side>) -> bool {
        let Some(f) = self.feeds.iter_mut().find(|f| f.id == id) else {
            return false;
        };
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
    }
}

/// Why a session is scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A one-off schedule.
    Once(u64),
    /// A daily schedule.
    Daily(u64),
    /// The feed plan, for the feed due at this time.
    FeedPlan(Timestamp),
}

/// One time a session is to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Identifies this occurrence for ever (so it is never run twice).
    pub key: String,
    /// When it starts (after any snooze).
    pub at: Timestamp,
    /// The routine ("" = default).
    pub routine: String,
    /// Why.
    pub source: Source,
    /// In quiet hours with `quieter`: play at the quiet volume.
    pub quiet: bool,
}

impl Occurrence {
    /// The id a user cancels it by: the schedule's id, or "plan".
    pub fn id(&self) -> String {
        match self.source {
            Source::Once(id) | Source::Daily(id) => id.to_string(),
            Source::FeedPlan(_) => "plan".into(),
        }
    }

    /// Why it fires, in words.
    pub fn reason(&self, tz: &TimeZone) -> String {
        match &self.source {
            Source::Once(_) => "one-off".into(),
            Source::Daily(_) => "daily".into(),
            Source::FeedPlan(due) => format!("feed plan: feed due at {}", local_hm(*due, tz)),
        }
    }
}

/// `14:05` in `tz`.
pub fn local_hm(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned_datetime(tz.clone());
    format!("{:02}:{:02}", z.time().hour(), z.time().minute())
}

/// What is to be done now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Start this session now.
    Run(Occurrence),
    /// Its time passed more than the grace period ago: record it as missed.
    Missed(Occurrence),
}

/// How far back due occurrences are looked for (a machine off for longer just misses them).
const LOOKBACK: i64 = 36 * 3600;
/// How far ahead `upcoming` looks.
const HORIZON: i64 = 72 * 3600;

/// The planner: pure functions of the state, the plan in force, the time zone and the time.
pub struct Planner<'a> {
    /// The saved state.
    pub state: &'a State,
    /// The feed plan in force (the state's, else the config's).
    pub plan: Option<&'a FeedPlan>,
    /// The local time zone.
    pub tz: &'a TimeZone,
}

/// The instant a local date and time maps to in `tz`: after the gap if it does not exist that
/// day, the first if it exists twice.
fn local_instant(tz: &TimeZone, date: Date, hour: i8, minute: i8) -> Option<Timestamp> {
    let time = Time::new(hour, minute, 0, 0).ok()?;
    tz.to_ambiguous_zoned_datetime(date.to_datetime(time))
        .compatible()
        .ok()
        .map(|z| z.timestamp())
}

fn ts(sec: i64) -> Timestamp {
    Timestamp::from_second(sec).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Planner<'_> {
    fn local(&self, date: Date, hour: i8, minute: i8) -> Option<Timestamp> {
        local_instant(self.tz, date, hour, minute)
    }

    fn dates(&self, from: Timestamp, to: Timestamp) -> Vec<Date> {
        let mut d = from
            .to_zoned_datetime(self.tz.clone())
            .date()
            .yesterday()
            .unwrap_or(Date::MIN);
        let last = to.to_zoned_datetime(self.tz.clone()).date();
        let mut v = Vec::new();
        while d <= last {
            v.push(d);
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        v
    }

    /// Every occurrence planned in `[from, to]`, dealt with or not, before snoozes.
    fn planned(&self, from: Timestamp, to: Timestamp) -> Vec<Occurrence> {
        let mut v = Vec::new();
        let within = |t: Timestamp| t >= from && t <= to;
        for s in &self.state.schedules {
            let within = |t: Timestamp| within(t) && t.as_second() >= s.created;
            match s.rule {
                Rule::Once { at } => {
                    if within(ts(at)) {
                        v.push(Occurrence {
                            key: format!("once:{}", s.id),
                            at: ts(at),
                            routine: s.routine.clone(),
                            source: Source::Once(s.id),
                            quiet: false,
                        });
                    }
                }
                Rule::Daily { hour, minute } => {
                    for d in self.dates(from, to) {
                        if let Some(t) = self.local(d, hour, minute).filter(|t| within(*t)) {
                            v.push(Occurrence {
                                key: format!("daily:{}:{d}", s.id),
                                at: t,
                                routine: s.routine.clone(),
                                source: Source::Daily(s.id),
                                quiet: false,
                            });
                        }
                    }
                }
            }
        }
        if let Some(plan) = self.plan {
            let lead = plan.lead as i64;
            let mut dues = Vec::new();
            if let Some(interval) = plan.interval.filter(|i| *i > 0) {
                if let Some(last) = self.state.feeds.iter().map(|f| f.at).max() {
                    // Feeds go on every interval from the last logged one until a new one is logged.
                    let first_k = ((from.as_second() + lead - last) as f64 / interval as f64)
                        .floor()
                        .max(1.0) as i64;
                    let mut k = first_k;
                    loop {
                        let due = last + k * interval as i64;
                        if due - lead > to.as_second() {
                            break;
                        }
                        dues.push(ts(due));
                        k += 1;
                    }
                }
            } else {
                for d in self.dates(from, to + jiff::SignedDuration::from_secs(lead)) {
                    for &(h, m) in &plan.times {
                        if let Some(t) = self.local(d, h, m) {
                            dues.push(t);
                        }
                    }
                }
            }
            // Sessions from before the plan was set or the last feed was logged do not count.
            let since = self
                .state
                .feeds
                .iter()
                .map(|f| f.logged)
                .max()
                .unwrap_or(0)
                .max(self.state.plan_since);
            for due in dues {
                let at = ts(due.as_second() - lead);
                if !within(at) || at.as_second() < since {
                    continue;
                }
                let local = at.to_zoned_datetime(self.tz.clone()).time();
                let quiet = plan.quiet.as_ref().filter(|q| q.contains(local));
                if matches!(quiet, Some(q) if q.action == QuietAction::Skip) {
                    continue;
                }
                v.push(Occurrence {
                    key: format!("plan:{}", due.as_second()),
                    at,
                    routine: plan.routine.clone(),
                    source: Source::FeedPlan(due),
                    quiet: quiet.is_some(),
                });
            }
        }
        v
    }

    /// Occurrences not yet dealt with, from `LOOKBACK` before `now` to `HORIZON` after, with
    /// snoozes applied, soonest first.
    pub fn pending(&self, now: Timestamp) -> Vec<Occurrence> {
        let from = ts(now.as_second() - LOOKBACK);
        let to = ts(now.as_second() + HORIZON);
        let mut v: Vec<Occurrence> = self
            .planned(from, to)
            .into_iter()
            .filter(|o| !self.state.handled.contains_key(&o.key))
            .map(|mut o| {
                if let Some(&t) = self.state.snoozed.get(&o.key) {
                    o.at = ts(t);
                }
                o
            })
            .collect();
        v.sort_by(|a, b| a.at.cmp(&b.at).then(a.key.cmp(&b.key)));
        v
    }

    /// Sessions to come, after `now`.
    pub fn upcoming(&self, now: Timestamp) -> Vec<Occurrence> {
        self.pending(now)
            .into_iter()
            .filter(|o| o.at > now)
            .collect()
    }

    /// What has come due by `now`: to run if at most `grace` late, otherwise missed.
    pub fn due(&self, now: Timestamp, grace: Duration) -> Vec<Due> {
        self.pending(now)
            .into_iter()
            .filter(|o| o.at <= now)
            .map(|o| {
                if now.as_second() - o.at.as_second() <= grace.as_secs() as i64 {
                    Due::Run(o)
                } else {
                    Due::Missed(o)
                }
            })
            .collect()
    }

    /// When the daemon must wake next: the next session, or its heads-up if that is later than
    /// now.
    pub fn next_wake(&self, now: Timestamp, heads_up: Option<Duration>) -> Option<Timestamp> {
        let mut best: Option<Timestamp> = None;
        for o in self.upcoming(now) {
            let mut cands = vec![o.at];
            if let Some(h) = heads_up {
                let t = ts(o.at.as_second() - h.as_secs() as i64);
                if t > now {
                    cands.push(t);
                }
            }
            for c in cands {
                best = Some(best.map_or(c, |b| b.min(c)));
            }
        }
        best
    }
}

/// Reads a local time `HH:MM`.
pub fn parse_hm(s: &str) -> Result<(i8, i8), String> {
    let bad = || format!("\"{s}\" is not a time; write it as HH:MM, e.g. 06:30 or 16:40");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok((h, m))
}

/// A local time of day: (hour, minute).
pub type HourMinute = (i8, i8);

/// Reads quiet hours `HH:MM-HH:MM`.
pub fn parse_window(s: &str) -> Result<(HourMinute, HourMinute), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("\"{s}\" is not a time window; write e.g. 22:00-06:00"))?;
    Ok((parse_hm(a)?, parse_hm(b)?))
}

/// The next instant at local `HH:MM` after `now` (today, or tomorrow if it has passed).
pub fn next_local(now: Timestamp, tz: &TimeZone, (h, m): HourMinute) -> Timestamp {
    let today = now.to_zoned_datetime(tz.clone()).date();
    match local_instant(tz, today, h, m) {
        Some(t) if t > now => t,
        _ => local_instant(tz, today.tomorrow().unwrap_or(today), h, m).unwrap_or(now),
    }
}

/// The last instant at local `HH:MM` at or before `now` (for "I fed at 14:05").
pub fn last_local(now: Timestamp, tz: &TimeZone, (h, m): HourMinute) -> Timestamp {
    let today = now.to_zoned_datetime(tz.clone()).date();
    match local_instant(tz, today, h, m) {
        Some(t) if t <= now => t,
        _ => local_instant(tz, today.yesterday().unwrap_or(today), h, m).unwrap_or(now),
    }
}

/// Reads a schedule: `at HH:MM`, `in DURATION` or `daily HH:MM`.
pub fn parse_when(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Rule, String> {
    let t = text.trim();
    let (kind, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let rest = rest.trim();
    match kind {
        "at" => Ok(Rule::Once {
            at: next_local(now, tz, parse_hm(rest)?).as_second(),
        }),
        "in" => {
            let d = crate::duration::parse_duration(rest)?;
            if d.is_zero() || d > Duration::from_secs(7 * 86_400) {
                return Err(format!(
                    "\"{rest}\" is out of range; give 1 second to 7 days"
                ));
            }
            // Rounded to the nearest second (schedules keep whole seconds).
            let at_ms = now.as_millisecond() + d.as_millis() as i64;
            Ok(Rule::Once {
                at: (at_ms + 500).div_euclid(1000),
            })
        }
        "daily" => {
            let (hour, minute) = parse_hm(rest)?;
            Ok(Rule::Daily { hour, minute })
        }
        _ => Err(format!(
            "\"{t}\" is not a schedule; write \"at 16:40\", \"in 25m\" or \"daily 06:30\""
        )),
    }
}
