use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

/// A Berlin wall-clock time as an instant.
fn at(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    tz.to_ambiguous_zoned_datetime(date(y, mo, d).at(h, mi, 0, 0))
        .compatible()
        .unwrap()
        .timestamp()
}

fn interval_plan(hours: u64, lead_min: u64) -> FeedPlan {
    FeedPlan {
        interval: Some(hours * 3600),
        times: vec![],
        lead: lead_min * 60,
        routine: "quick-before-feed".into(),
        quiet: None,
        pumping_counts_as_feed: false,
    }
}

const GRACE: Duration = Duration::from_secs(600);

/// When the tests' feeds are logged and schedules made: long before any of their times.
const NOW: Timestamp = Timestamp::UNIX_EPOCH;

#[test]
fn an_interval_plan_predicts_from_the_last_feed_and_moves_when_one_is_logged() {
    let tz = berlin();
    let mut st = State::default();
    st.log_feed(NOW, at(&tz, 2026, 11, 25, 14, 0), None, Side::Left, "");
    let plan = interval_plan(3, 10);
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let now = at(&tz, 2026, 11, 25, 14, 5);
    let next = &p.upcoming(now)[0];
    assert_eq!(
        next.at,
        at(&tz, 2026, 11, 25, 16, 50),
        "feed due 17:00, session 10 min before"
    );
    assert_eq!(next.routine, "quick-before-feed");
    assert_eq!(next.reason(&tz), "feed plan: feed due at 17:00");
    assert_eq!(p.next_wake(now, None), Some(next.at));
    // a feed logged at 15:30 moves the prediction to 18:30
    st.log_feed(NOW, at(&tz, 2026, 11, 25, 15, 30), None, Side::Right, "");
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let next = &p.upcoming(at(&tz, 2026, 11, 25, 15, 31))[0];
    assert_eq!(next.at, at(&tz, 2026, 11, 25, 18, 20));
    // and nothing is due at the old time
    assert!(p.due(at(&tz, 2026, 11, 25, 16, 51), GRACE).is_empty());
}

#[test]
fn no_feed_logged_means_no_interval_prediction() {
    let tz = berlin();
    let st = State::default();
    let plan = interval_plan(3, 10);
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    assert!(p.upcoming(at(&tz, 2026, 11, 25, 12, 0)).is_empty());
}

#[test]
fn a_fixed_time_plan_runs_lead_before_each_time() {
    let tz = berlin();
    let st = State::default();
    let plan = FeedPlan {
        interval: None,
        times: vec![(6, 0), (10, 30)],
        lead: 15 * 60,
        routine: String::new(),
        quiet: None,
        pumping_counts_as_feed: false,
    };
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let up = p.upcoming(at(&tz, 2026, 11, 25, 7, 0));
    let times: Vec<Timestamp> = up.iter().take(3).map(|o| o.at).collect();
    assert_eq!(
        times,
        [
            at(&tz, 2026, 11, 25, 10, 15),
            at(&tz, 2026, 11, 26, 5, 45),
            at(&tz, 2026, 11, 26, 10, 15)
        ]
    );
}

#[test]
fn quiet_hours_skip_or_quieten_plan_sessions() {
    let tz = berlin();
    let st = State::default();
    let mut plan = FeedPlan {
        interval: None,
        times: vec![(2, 0), (10, 0)],
        lead: 600,
        routine: String::new(),
        quiet: Some(QuietHours {
            from: (22, 0),
            to: (6, 0),
            action: QuietAction::Skip,
        }),
        pumping_counts_as_feed: false,
    };
    let now = at(&tz, 2026, 11, 25, 12, 0);
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let up = p.upcoming(now);
    assert_eq!(
        up[0].at,
        at(&tz, 2026, 11, 26, 9, 50),
        "the 01:50 session is skipped"
    );
    plan.quiet.as_mut().unwrap().action = QuietAction::Quieter;
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let up = p.upcoming(now);
    assert_eq!(up[0].at, at(&tz, 2026, 11, 26, 1, 50));
    assert!(up[0].quiet);
    assert!(!up[1].quiet);
}

#[test]
fn daily_sessions_survive_dst_forward_and_back_once_each() {
    let tz = berlin();
    let mut st = State::default();
    st.add_schedule(
        NOW,
        Rule::Daily {
            hour: 2,
            minute: 30,
        },
        "",
    );
    st.add_schedule(
        NOW,
        Rule::Daily {
            hour: 6,
            minute: 30,
        },
        "",
    );
    let p = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    };
    // Spring forward: 2026-03-29 02:00 -> 03:00. 02:30 does not exist: it runs at 03:30 CEST
    // (01:30 UTC), once; 06:30 runs at 06:30 local.
    let from = at(&tz, 2026, 3, 28, 12, 0);
    let day: Vec<Occurrence> = p
        .upcoming(from)
        .into_iter()
        .filter(|o| o.at < at(&tz, 2026, 3, 29, 12, 0))
        .collect();
    assert_eq!(day.len(), 2, "{day:?}");
    assert_eq!(
        day[0].at,
        "2026-03-29T01:30:00Z".parse::<Timestamp>().unwrap(),
        "02:30 does not exist that night: 03:30 CEST"
    );
    assert_eq!(
        day[0].at.to_zoned_datetime(tz.clone()).time().to_string(),
        "03:30:00"
    );
    assert_eq!(
        day[1].at.to_zoned_datetime(tz.clone()).time().to_string(),
        "06:30:00"
    );
    // Fall back: 2026-10-25 03:00 -> 02:00. 02:30 exists twice: it runs once, at the first.
    let from = at(&tz, 2026, 10, 24, 12, 0);
    let day: Vec<Occurrence> = p
        .upcoming(from)
        .into_iter()
        .filter(|o| o.at < at(&tz, 2026, 10, 25, 12, 0))
        .collect();
    assert_eq!(day.len(), 2, "{day:?}");
    assert_eq!(
        day[0].at,
        "2026-10-25T00:30:00Z".parse::<Timestamp>().unwrap(),
        "the first 02:30 (CEST)"
    );
    // 24 hours apart would be wrong across the change: 06:30 stays 06:30 local.
    assert_eq!(
        day[1].at,
        "2026-10-25T05:30:00Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn asleep_across_a_due_time_runs_within_grace_and_misses_beyond_never_twice() {
    let tz = berlin();
    let mut st = State::default();
    st.add_schedule(
        NOW,
        Rule::Once {
            at: at(&tz, 2026, 11, 25, 16, 40).as_second(),
        },
        "",
    );
    st.add_schedule(
        NOW,
        Rule::Once {
            at: at(&tz, 2026, 11, 25, 9, 0).as_second(),
        },
        "",
    );
    // woke at 16:45: the 16:40 one is 5 min late (runs), the 09:00 one 7 h late (missed)
    let now = at(&tz, 2026, 11, 25, 16, 45);
    let p = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    };
    let due = p.due(now, GRACE);
    assert_eq!(due.len(), 2);
    let (run, missed): (Vec<_>, Vec<_>) = due.into_iter().partition(|d| matches!(d, Due::Run(_)));
    let Due::Run(r) = &run[0] else { unreachable!() };
    let Due::Missed(m) = &missed[0] else {
        unreachable!()
    };
    assert_eq!(r.at, at(&tz, 2026, 11, 25, 16, 40));
    assert_eq!(m.at, at(&tz, 2026, 11, 25, 9, 0));
    st.mark(r, Outcome::Fired);
    st.mark(m, Outcome::Missed);
    let p = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    };
    assert!(p.due(now, GRACE).is_empty(), "never twice");
    assert!(p.due(at(&tz, 2026, 11, 26, 16, 45), GRACE).is_empty());
}

#[test]
fn snooze_skip_and_cancel() {
    let tz = berlin();
    let mut st = State::default();
    let now = at(&tz, 2026, 11, 25, 16, 0);
    // made at 16:00: today's 06:30 is before it was made, so it is neither due nor missed
    let daily = st.add_schedule(
        now,
        Rule::Daily {
            hour: 6,
            minute: 30,
        },
        "",
    );
    let once = st.add_schedule(
        now,
        Rule::Once {
            at: at(&tz, 2026, 11, 25, 16, 40).as_second(),
        },
        "quick-before-feed",
    );
    assert!(
        Planner {
            state: &st,
            plan: None,
            tz: &tz
        }
        .due(now, GRACE)
        .is_empty()
    );
    let next = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    }
    .upcoming(now)[0]
        .clone();
    assert_eq!(next.id(), once.to_string());
    st.snooze(&next, now, Duration::from_secs(300));
    let p = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    };
    assert_eq!(p.upcoming(now)[0].at, at(&tz, 2026, 11, 25, 16, 45));
    assert!(
        p.due(at(&tz, 2026, 11, 25, 16, 41), GRACE).is_empty(),
        "snoozed: not due at its old time"
    );
    assert_eq!(p.due(at(&tz, 2026, 11, 25, 16, 45), GRACE).len(), 1);
    // skip the next one: the one-off is gone, the daily comes next
    let next = p.upcoming(now)[0].clone();
    st.mark(&next, Outcome::Skipped);
    let p = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    };
    let up = p.upcoming(now);
    assert_eq!(up[0].id(), daily.to_string());
    assert_eq!(up[0].at, at(&tz, 2026, 11, 26, 6, 30));
    // skipping today's daily does not skip tomorrow's
    st.mark(&up[0], Outcome::Skipped);
    let p = Planner {
        state: &st,
        plan: None,
        tz: &tz,
    };
    assert_eq!(p.upcoming(now)[0].at, at(&tz, 2026, 11, 27, 6, 30));
    assert!(st.cancel(daily));
    assert!(!st.cancel(daily));
    assert!(
        Planner {
            state: &st,
            plan: None,
            tz: &tz
        }
        .upcoming(now)
        .is_empty()
    );
}

#[test]
fn a_feed_logged_while_a_plan_session_is_snoozed_replaces_it() {
    let tz = berlin();
    let mut st = State::default();
    st.log_feed(NOW, at(&tz, 2026, 11, 25, 14, 0), None, Side::Both, "");
    let plan = interval_plan(3, 10);
    let now = at(&tz, 2026, 11, 25, 16, 45);
    let next = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    }
    .upcoming(now)[0]
        .clone();
    st.snooze(&next, now, Duration::from_secs(600));
    // the baby woke early: a feed is logged at 16:46; the old prediction is gone, the new one is
    // 19:46 - 10 min
    st.log_feed(
        NOW,
        at(&tz, 2026, 11, 25, 16, 46),
        None,
        Side::Left,
        "early",
    );
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let up = p.upcoming(at(&tz, 2026, 11, 25, 16, 47));
    assert_eq!(up[0].at, at(&tz, 2026, 11, 25, 19, 36));
    assert!(p.due(at(&tz, 2026, 11, 25, 17, 0), GRACE).is_empty());
}

#[test]
fn feeds_can_be_corrected_and_deleted() {
    let tz = berlin();
    let mut st = State::default();
    let a = st.log_feed(NOW, at(&tz, 2026, 11, 25, 14, 0), None, Side::Left, "");
    let b = st.log_feed(NOW, at(&tz, 2026, 11, 25, 17, 0), None, Side::Right, "typo");
    assert!(st.correct_feed(b, at(&tz, 2026, 11, 25, 13, 0), Some(Side::Both)));
    assert_eq!(st.feeds[0].id, b, "kept in time order");
    assert!(st.delete_feed(a));
    assert!(!st.delete_feed(a));
    assert_eq!(st.feeds.len(), 1);
}

#[test]
fn schedules_are_read_as_people_say_them() {
    let tz = berlin();
    let now = at(&tz, 2026, 11, 25, 16, 0);
    assert_eq!(
        parse_when("at 16:40", now, &tz),
        Ok(Rule::Once {
            at: at(&tz, 2026, 11, 25, 16, 40).as_second()
        })
    );
    assert_eq!(
        parse_when("at 06:30", now, &tz),
        Ok(Rule::Once {
            at: at(&tz, 2026, 11, 26, 6, 30).as_second()
        }),
        "tomorrow"
    );
    assert_eq!(
        parse_when("in 25m", now, &tz),
        Ok(Rule::Once {
            at: now.as_second() + 1500
        })
    );
    assert_eq!(
        parse_when("daily 06:30", now, &tz),
        Ok(Rule::Daily {
            hour: 6,
            minute: 30
        })
    );
    assert!(
        parse_when("at 25:00", now, &tz)
            .unwrap_err()
            .contains("HH:MM")
    );
    assert!(
        parse_when("soon", now, &tz)
            .unwrap_err()
            .contains("at 16:40")
    );
    assert!(parse_when("in 0s", now, &tz).is_err());
    assert_eq!(last_local(now, &tz, (14, 5)), at(&tz, 2026, 11, 25, 14, 5));
    assert_eq!(
        last_local(now, &tz, (23, 0)),
        at(&tz, 2026, 11, 24, 23, 0),
        "a feed time later than now was yesterday"
    );
    assert_eq!(parse_window("22:00-06:00"), Ok(((22, 0), (6, 0))));
}

/// The worst state the limits allow: the shortest interval and lead, the most schedules, all
/// daily, and feeds logged for years: the planner's occurrences stay within the bound its
/// comment works out (816), and it answers quickly.
#[test]
fn a_worst_case_state_keeps_the_planner_bounded() {
    let tz = berlin();
    let now = at(&tz, 2026, 11, 25, 12, 0);
    let mut st = State::default();
    for i in 0..18_250 {
        st.log_feed(
            NOW,
            Timestamp::from_second(now.as_second() - 60 - i * 8640).unwrap(),
            None,
            Side::Left,
            "",
        );
    }
    for i in 0..MAX_SCHEDULES {
        st.add_schedule(
            NOW,
            Rule::Daily {
                hour: (i % 24) as i8,
                minute: (i % 60) as i8,
            },
            "",
        );
    }
    let mut map = std::collections::HashMap::new();
    map.insert("interval".to_string(), "30m".to_string());
    map.insert("lead".to_string(), "1m".to_string());
    let plan = FeedPlan::from_map(&map).unwrap();
    let p = Planner {
        state: &st,
        plan: Some(&plan),
        tz: &tz,
    };
    let started = std::time::Instant::now();
    let pending = p.pending(now);
    let due = p.due(now, GRACE);
    let took = started.elapsed();
    assert!(pending.len() <= 816, "{} occurrences", pending.len());
    assert!(due.len() <= 816);
    assert!(
        pending.len() > 100,
        "the worst case was not exercised: {}",
        pending.len()
    );
    eprintln!("worst case: {} pending, planned in {took:?}", pending.len());
}

#[test]
fn the_next_side_follows_the_feed_log() {
    let feed = |side: Side| Feed {
        id: 1,
        at: 0,
        end: None,
        side,
        note: String::new(),
        logged: 0,
    };
    use Side::*;
    let next = |sides: &[Side]| next_side(&sides.iter().map(|&s| feed(s)).collect::<Vec<_>>());
    assert_eq!(next(&[]), None);
    assert_eq!(next(&[Unknown]), None);
    assert_eq!(next(&[Left]), Some(Right));
    assert_eq!(next(&[Left, Right]), Some(Left));
    assert_eq!(next(&[Right, Unknown, Unknown]), Some(Left));
    assert_eq!(next(&[Right, Both]), Some(Left));
    assert_eq!(next(&[Left, Both, Unknown, Both]), Some(Right));
    assert_eq!(next(&[Both]), Some(Left));
}
