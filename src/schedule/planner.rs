//! The pure planner: given the state, the feed plan, a time zone and the time, which sessions
//! are pending, due, missed, and when to wake next.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::{FeedPlan, QuietAction, Rule, State};

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

// The planner's work is bounded whatever the state and plan: it looks at a window of
// LOOKBACK + HORIZON = 108 hours; a feed plan gives at most one feed per MIN_INTERVAL (30 min)
// in it, 216, or MAX_TIMES (24) a day over 6 dates, 144; each of at most MAX_SCHEDULES (100)
// schedules gives at most one occurrence per date, 6. So at most 216 + 600 = 816 occurrences,
// whatever is stored or sent over D-Bus (`a_worst_case_state_keeps_the_planner_bounded`).

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
pub(super) fn local_instant(tz: &TimeZone, date: Date, hour: i8, minute: i8) -> Option<Timestamp> {
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
                if let Some(last) = self
                    .state
                    .plan_feeds(plan.pumping_counts_as_feed)
                    .iter()
                    .map(|f| f.at)
                    .max()
                {
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
                .plan_feeds(plan.pumping_counts_as_feed)
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
