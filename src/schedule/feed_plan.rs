//! The feed plan's one constructor, with the one set of limits that config.toml, D-Bus
//! (`SetFeedPlan`) and the CLI all go through.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{
    FEED_PLAN_KEYS, FeedPlan, HourMinute, QuietAction, QuietHours, parse_hm, parse_window,
};

/// The shortest interval between feeds a plan may have (start to start).
pub const MIN_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// The longest interval between feeds.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The shortest lead (session start to feed).
pub const MIN_LEAD: Duration = Duration::from_secs(60);
/// The longest lead.
pub const MAX_LEAD: Duration = Duration::from_secs(6 * 3600);
/// The most fixed feed times a day.
pub const MAX_TIMES: usize = 24;

impl FeedPlan {
    /// A feed plan, or why it cannot be one. With these limits the planner's work is bounded
    /// whatever the plan: at most one occurrence per 30 minutes from the interval, and 24 a
    /// day from fixed times, over its few days of look-back and horizon.
    pub fn new(
        interval: Option<Duration>,
        times: Vec<HourMinute>,
        lead: Duration,
        routine: String,
        quiet: Option<QuietHours>,
    ) -> Result<FeedPlan, String> {
        let show = crate::duration::show;
        if let Some(i) = interval
            && !(MIN_INTERVAL..=MAX_INTERVAL).contains(&i)
        {
            return Err(format!(
                "interval {} is outside {} to {}",
                show(i),
                show(MIN_INTERVAL),
                show(MAX_INTERVAL)
            ));
        }
        if interval.is_none() && times.is_empty() {
            return Err("give an interval (e.g. 3h) or times (e.g. 06:00,09:00)".into());
        }
        if times.len() > MAX_TIMES {
            return Err(format!(
                "{} feed times; at most {MAX_TIMES} a day",
                times.len()
            ));
        }
        if !(MIN_LEAD..=MAX_LEAD).contains(&lead) {
            return Err(format!(
                "lead {} is outside {} to {}",
                show(lead),
                show(MIN_LEAD),
                show(MAX_LEAD)
            ));
        }
        if let Some(i) = interval
            && lead >= i
        {
            return Err(format!(
                "lead {} is not shorter than the interval {}",
                show(lead),
                show(i)
            ));
        }
        let mut times = times;
        times.sort();
        times.dedup();
        Ok(FeedPlan {
            interval: interval.map(|d| d.as_secs()),
            times,
            lead: lead.as_secs(),
            routine,
            quiet,
            pumping_counts_as_feed: false,
        })
    }

    /// Reads a feed plan as D-Bus `SetFeedPlan` gives it: interval, times, lead, routine,
    /// quiet_hours, quiet.
    pub fn from_map(map: &HashMap<String, String>) -> Result<FeedPlan, String> {
        for k in map.keys() {
            if !FEED_PLAN_KEYS.contains(&k.as_str()) {
                return Err(format!(
                    "unknown feed plan key \"{k}\"; use {}",
                    FEED_PLAN_KEYS.join(", ")
                ));
            }
        }
        let interval = map
            .get("interval")
            .filter(|s| !s.is_empty())
            .map(|s| crate::duration::parse_duration(s))
            .transpose()?;
        let times = map
            .get("times")
            .map(|s| {
                s.split(',')
                    .filter(|t| !t.trim().is_empty())
                    .map(parse_hm)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let lead =
            crate::duration::parse_duration(map.get("lead").ok_or("give a lead, e.g. 10m")?)?;
        let action = match map.get("quiet").map(String::as_str) {
            None | Some("") => QuietAction::Skip,
            Some(q) => QuietAction::parse(q)?,
        };
        let quiet = map
            .get("quiet_hours")
            .filter(|s| !s.is_empty())
            .map(|s| parse_window(s).map(|(from, to)| QuietHours { from, to, action }))
            .transpose()?;
        let pumping = match map.get("pumping_counts_as_feed").map(String::as_str) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "pumping_counts_as_feed is \"true\" or \"false\", not \"{other}\""
                ));
            }
        };
        let mut plan = FeedPlan::new(
            interval,
            times,
            lead,
            map.get("routine").cloned().unwrap_or_default(),
            quiet,
        )?;
        plan.pumping_counts_as_feed = pumping;
        Ok(plan)
    }

    /// The plan as D-Bus shows it (the `FeedPlan` property), in `from_map`'s terms.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let show = |secs: u64| crate::duration::show(Duration::from_secs(secs));
        let mut m = BTreeMap::new();
        if let Some(i) = self.interval {
            m.insert("interval".into(), show(i));
        }
        if !self.times.is_empty() {
            let times: Vec<String> = self
                .times
                .iter()
                .map(|(h, mi)| format!("{h:02}:{mi:02}"))
                .collect();
            m.insert("times".into(), times.join(","));
        }
        m.insert("lead".into(), show(self.lead));
        m.insert("routine".into(), self.routine.clone());
        if let Some(q) = &self.quiet {
            m.insert(
                "quiet_hours".into(),
                format!(
                    "{:02}:{:02}-{:02}:{:02}",
                    q.from.0, q.from.1, q.to.0, q.to.1
                ),
            );
            let action = match q.action {
                QuietAction::Skip => "skip",
                _ => "quieter",
            };
            m.insert("quiet".into(), action.into());
        }
        if self.pumping_counts_as_feed {
            m.insert("pumping_counts_as_feed".into(), "true".into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn one_set_of_limits() {
        let e = FeedPlan::from_map(&map(&[("interval", "1s"), ("lead", "0s")])).unwrap_err();
        assert!(e.contains("interval 1s is outside 30m to 24h"), "{e}");
        let e = FeedPlan::from_map(&map(&[("interval", "3h"), ("lead", "0s")])).unwrap_err();
        assert!(e.contains("lead 0ms is outside 1m to 6h"), "{e}");
        let e = FeedPlan::from_map(&map(&[("interval", "1h"), ("lead", "2h")])).unwrap_err();
        assert!(e.contains("not shorter than the interval"), "{e}");
        let e = FeedPlan::from_map(&map(&[("lead", "10m")])).unwrap_err();
        assert!(e.contains("give an interval"), "{e}");
        let p = FeedPlan::from_map(&map(&[
            ("interval", "3h"),
            ("lead", "10m"),
            ("quiet_hours", "22:00-06:00"),
            ("quiet", "quieter"),
        ]))
        .unwrap();
        let back: HashMap<String, String> = p.to_map().into_iter().collect();
        assert_eq!(FeedPlan::from_map(&back).unwrap(), p, "round trip");
    }
}
