//! Times as people say them: "16:40", "22:00-06:00", "at 16:40", "in 25m", "daily 06:30".

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Rule;
use super::planner::local_instant;

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
