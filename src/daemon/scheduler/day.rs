//! Where the day stands (the next session, the next feed due, the last feed and the side
//! next, what was pumped today), for `where`, `Summary` and the answers to key presses: pure,
//! from the planner at a time.

use jiff::Timestamp;

use crate::feedback::DaySummary;
use crate::schedule::{Planner, Source, State};

/// The day as the `planner` sees it at `now`, with what is wrong with the sync (`trouble`).
pub(super) fn summary(planner: &Planner, now: Timestamp, trouble: Option<String>) -> DaySummary {
    let (state, tz) = (planner.state, planner.tz);
    let upcoming = planner.upcoming(now);
    let next_feed_due = upcoming.iter().find_map(|o| match o.source {
        Source::FeedPlan(due) => Some(due),
        _ => None,
    });
    let next_session = planner.pending(now).into_iter().next();
    let feeds = state.all_feeds();
    DaySummary {
        next_session: next_session.map(|o| (o.at, o.reason(tz))),
        next_feed_due,
        last_feed: feeds
            .last()
            .and_then(|f| Some((Timestamp::from_second(f.at).ok()?, f.side))),
        next_side: crate::schedule::next_side(&feeds),
        trouble,
        last_pumped: state
            .pumpings
            .last()
            .and_then(|p| Some((Timestamp::from_second(p.start).ok()?, p.amount_ml))),
        pumped_today_ml: pumped_today(state, now, tz),
    }
}

/// Millilitres pumped today (the local day of `now` in `tz`), when any.
fn pumped_today(state: &State, now: Timestamp, tz: &jiff::tz::TimeZone) -> Option<f64> {
    let local_day = |t: Timestamp| t.to_zoned_datetime(tz.clone()).date();
    let day = local_day(now);
    let today: Vec<f64> = state
        .pumpings
        .iter()
        .filter(|p| Timestamp::from_second(p.start).is_ok_and(|t| local_day(t) == day))
        .map(|p| p.amount_ml)
        .collect();
    (!today.is_empty()).then(|| today.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Side;
    use jiff::tz::TimeZone;

    /// "Today" is the local day: a pumping before local midnight is yesterday's, even when it
    /// is the same UTC day.
    #[test]
    fn what_was_pumped_today_counts_the_local_day() {
        let tz = TimeZone::get("America/New_York").unwrap();
        let local = |s: &str| {
            s.parse::<jiff::civil::DateTime>()
                .unwrap()
                .to_zoned_datetime(tz.clone())
                .unwrap()
                .timestamp()
        };
        let now = local("2026-12-04T08:00");
        let mut state = State::default();
        for (at, ml) in [("2026-12-03T23:30", 70.0), ("2026-12-04T00:30", 50.0)] {
            let start = local(at).as_second();
            state.log_pumping(now, start, start + 600, ml, Side::Both, "");
        }
        state.log_pumping(
            now,
            local("2026-12-04T06:00").as_second(),
            0,
            30.0,
            Side::Left,
            "",
        );
        let planner = Planner {
            state: &state,
            plan: None,
            tz: &tz,
        };
        let day = summary(&planner, now, None);
        assert_eq!(
            day.pumped_today_ml,
            Some(80.0),
            "counted by another day than the local one"
        );
        assert_eq!(day.last_pumped.map(|p| p.1), Some(30.0));
        assert_eq!(day.next_session, None);
    }
}
