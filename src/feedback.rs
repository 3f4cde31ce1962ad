//! What letdown says back when a key is pressed: short sentences for people who cannot look at
//! a screen, built from a [`DaySummary`] (pure: no clock, no bus, so every sentence is tested).
//!
//! The daemon speaks them (`Announce`, and `WhereAmI` when idle); the CLI prints the same words.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::schedule::{Side, local_hm};

/// Where the day stands: what the scheduler knows, as the D-Bus `Summary` map carries it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaySummary {
    /// The next session that will start, and why ("feed plan: feed due at 07:10", "daily").
    pub next_session: Option<(Timestamp, String)>,
    /// When the feed plan expects the next feed.
    pub next_feed_due: Option<Timestamp>,
    /// The last feed logged, and its side.
    pub last_feed: Option<(Timestamp, Side)>,
    /// The side that comes next (docs/SCHEDULING.md).
    pub next_side: Option<Side>,
    /// What is wrong with the Baby Buddy sync, said by `where` (nothing when all is well).
    pub trouble: Option<String>,
    /// The last pumping: when it started, and how much (ml).
    pub last_pumped: Option<(Timestamp, f64)>,
    /// Millilitres pumped today (local day), when any.
    pub pumped_today_ml: Option<f64>,
}

impl DaySummary {
    /// As a D-Bus `a{ss}`: only the keys that have a value.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        if let Some((at, why)) = &self.next_session {
            m.insert("next_session".into(), at.as_second().to_string());
            m.insert("next_session_reason".into(), why.clone());
        }
        if let Some(at) = self.next_feed_due {
            m.insert("next_feed_due".into(), at.as_second().to_string());
        }
        if let Some((at, side)) = self.last_feed {
            m.insert("last_feed".into(), at.as_second().to_string());
            m.insert("last_side".into(), side.name().into());
        }
        if let Some(side) = self.next_side {
            m.insert("next_side".into(), side.name().into());
        }
        if let Some(t) = &self.trouble {
            m.insert("sync_trouble".into(), t.clone());
        }
        if let Some((at, ml)) = self.last_pumped {
            m.insert("last_pumped".into(), at.as_second().to_string());
            m.insert("last_pumped_ml".into(), ml.to_string());
        }
        if let Some(ml) = self.pumped_today_ml {
            m.insert("pumped_today_ml".into(), ml.to_string());
        }
        m
    }

    /// Reads [`DaySummary::to_map`]'s form; what is missing or unreadable is `None`.
    pub fn from_map(m: &HashMap<String, String>) -> Self {
        let time = |k: &str| {
            m.get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|s| Timestamp::from_second(s).ok())
        };
        let side = |k: &str| m.get(k).and_then(|v| Side::parse(v).ok());
        Self {
            next_session: time("next_session")
                .map(|t| (t, m.get("next_session_reason").cloned().unwrap_or_default())),
            next_feed_due: time("next_feed_due"),
            last_feed: time("last_feed").map(|t| (t, side("last_side").unwrap_or_default())),
            next_side: side("next_side").filter(|s| *s != Side::Unknown),
            trouble: m.get("sync_trouble").cloned(),
            last_pumped: time("last_pumped").map(|t| {
                let ml = m.get("last_pumped_ml").and_then(|v| v.parse().ok());
                (t, ml.unwrap_or(0.0))
            }),
            pumped_today_ml: m.get("pumped_today_ml").and_then(|v| v.parse().ok()),
        }
    }
}

/// "the left side", for speech.
fn side_words(side: Side) -> Option<&'static str> {
    match side {
        Side::Left => Some("the left side"),
        Side::Right => Some("the right side"),
        Side::Both => Some("both sides"),
        Side::Unknown => None,
    }
}

/// "The right side is next." or nothing.
pub fn next_side_sentence(side: Option<Side>) -> Option<String> {
    side.and_then(side_words)
        .map(|w| format!("{} is next.", capitalised(w)))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// When the next session is and when the next feed is due: "The massage starts at 06:58, for
/// the feed due around 07:10." (or that nothing is planned).
fn ahead(s: &DaySummary, tz: &TimeZone) -> String {
    match (&s.next_session, s.next_feed_due) {
        (Some((at, why)), Some(due)) if why.starts_with("feed plan") => format!(
            "The next feed is due around {}, and the massage starts at {}.",
            local_hm(due, tz),
            local_hm(*at, tz)
        ),
        (Some((at, why)), due) => {
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(", {why}")
            };
            let due = due
                .map(|d| format!(" The next feed is due around {}.", local_hm(d, tz)))
                .unwrap_or_default();
            format!(
                "The next massage starts at {}{why}.{due}",
                local_hm(*at, tz)
            )
        }
        (None, Some(due)) => format!(
            "The next feed is due around {}; no massage is scheduled.",
            local_hm(due, tz)
        ),
        (None, None) => "No massage is scheduled.".into(),
    }
}

/// After `letdown fed`: what was logged, and what comes next.
pub fn fed(at: Timestamp, side: Side, s: &DaySummary, tz: &TimeZone) -> String {
    let side = side_words(side)
        .map(|w| format!(", {w}"))
        .unwrap_or_default();
    format!(
        "Feed logged at {}{side}. {}",
        local_hm(at, tz),
        ahead(s, tz)
    )
}

/// After `letdown fed --end`: "Feed ended at 14:40, after 20 minutes."
pub fn feed_ended(start: Timestamp, end: Timestamp, tz: &TimeZone) -> String {
    let minutes = ((end.as_second() - start.as_second()) as f64 / 60.0).round() as i64;
    let after = match minutes {
        0 => "after less than a minute".to_string(),
        1 => "after 1 minute".to_string(),
        m => format!("after {m} minutes"),
    };
    format!("Feed ended at {}, {after}.", local_hm(end, tz))
}

/// A heads-up for a routine with a spoken name: "Pumping in ten minutes."
pub fn starts_in(name: &str, minutes: u32) -> String {
    format!(
        "{name} in {}.",
        crate::phrase::spoken_duration(minutes.max(1) * 60)
    )
}

/// After `letdown snooze`.
pub fn snoozed(s: &DaySummary, tz: &TimeZone) -> String {
    match &s.next_session {
        Some((at, _)) => format!("Snoozed. The massage now starts at {}.", local_hm(*at, tz)),
        None => "Snoozed.".into(),
    }
}

/// After `letdown skip`: what is next.
pub fn skipped(s: &DaySummary, tz: &TimeZone) -> String {
    format!("Skipped. {}", ahead(s, tz))
}

/// After `letdown schedule`.
pub fn scheduled(at: Timestamp, tz: &TimeZone) -> String {
    format!("Massage scheduled for {}.", local_hm(at, tz))
}

/// After `letdown cancel`.
pub fn cancelled(s: &DaySummary, tz: &TimeZone) -> String {
    format!("Cancelled. {}", ahead(s, tz))
}

/// `letdown where` with no session: what is next, the last feed, and which side.
pub fn where_idle(s: &DaySummary, tz: &TimeZone) -> String {
    let mut out = format!("No massage now. {}", ahead(s, tz));
    if let Some((at, side)) = s.last_feed {
        let side = side_words(side)
            .map(|w| format!(", on {w}"))
            .unwrap_or_default();
        out += &format!(" The last feed was at {}{side}.", local_hm(at, tz));
    }
    if let Some(n) = next_side_sentence(s.next_side) {
        out += " ";
        out += &n;
    }
    if let Some((at, ml)) = s.last_pumped {
        out += &format!(
            " The last pumping was at {}, {}.",
            local_hm(at, tz),
            millilitres(ml)
        );
        if let Some(today) = s.pumped_today_ml {
            out += &format!(" {} today.", amount(today));
        }
    }
    if let Some(t) = &s.trouble {
        out += " ";
        out += t;
    }
    out
}

/// "90 millilitres".
fn millilitres(ml: f64) -> String {
    format!("{} millilitres", amount(ml))
}

/// A whole number of millilitres as said ("90", "7.5" for less than 10).
fn amount(ml: f64) -> String {
    if ml < 10.0 && ml.fract() != 0.0 {
        format!("{:.1}", ml)
    } else {
        format!("{}", ml.round() as i64)
    }
}

/// After `letdown pumped`: "Logged 90 millilitres. 410 today."
pub fn pumped(ml: f64, s: &DaySummary) -> String {
    match s.pumped_today_ml {
        Some(today) if today > ml => {
            format!("Logged {}. {} today.", millilitres(ml), amount(today))
        }
        _ => format!("Logged {}.", millilitres(ml)),
    }
}

/// The sentences `text` begins with, up to the first end of a sentence at or past `least`
/// characters (all of it when there is none): a voice's trial sentence, or an answer cut to
/// what was done.
pub fn first_sentences(text: &str, least: usize) -> String {
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?') {
            let end = i + c.len_utf8();
            if end >= least {
                return text[..end].to_string();
            }
        }
    }
    text.to_string()
}

/// How answers begin: what was done, the same words every time, so they are synthesized ahead
/// (into the speech cache) and follow the key's tone at once even when the voice is slow to
/// start (a Piper worker loads its model in about 1.4 s). Each is the start of an answer built
/// here, and is said as a sentence of its own; the rest of the answer follows when it has been
/// synthesized.
pub const ANSWER_HEADS: &[&str] = &[
    "Feed logged",
    "Feed ended",
    "Logged",
    "Snoozed",
    "Skipped",
    "Cancelled",
    "Massage scheduled",
    "No massage now",
];

/// An answer's head as said on its own: "Feed logged."
pub fn spoken_head(head: &str) -> String {
    format!("{head}.")
}

/// Splits an answer into its head ([`ANSWER_HEADS`], said as a sentence: "Feed logged.") and
/// the rest ("at 04:10, the left side. ..."), which may be empty. `None` when it begins with
/// no head (a refusal, a notice).
pub fn split_answer(text: &str) -> Option<(String, &str)> {
    ANSWER_HEADS.iter().find_map(|head| {
        let rest = text.strip_prefix(head)?;
        if !(rest.is_empty() || rest.starts_with([' ', '.', ','])) {
            return None; // "Logged" is not the head of "Loggedx"
        }
        let rest = rest.trim_start_matches(['.', ',']).trim_start();
        Some((spoken_head(head), rest))
    })
}

/// The longest text letdownd says as an answer (`Announce` refuses longer ones).
pub const MAX_ANNOUNCE: usize = 300;

/// Missed-session notices as one announcement, cut to [`MAX_ANNOUNCE`].
pub fn spoken_notices(notices: &[String]) -> String {
    notices
        .iter()
        .map(|n| spoken_notice(n))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_ANNOUNCE)
        .collect()
}

/// A missed-session notice as it is said aloud: "The session at 14:05 ... was missed."
pub fn spoken_notice(notice: &str) -> String {
    let mut s = capitalised(notice.trim());
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64, m: i64) -> Timestamp {
        Timestamp::from_second(h * 3600 + m * 60).unwrap()
    }

    #[test]
    fn every_answer_to_a_key_begins_with_a_head_said_ahead() {
        let utc = TimeZone::UTC;
        let day = DaySummary {
            next_session: Some((t(6, 58), "feed plan: feed due at 07:10".into())),
            next_feed_due: Some(t(7, 10)),
            last_feed: Some((t(4, 10), Side::Left)),
            pumped_today_ml: Some(200.0),
            ..Default::default()
        };
        let answers = [
            fed(t(4, 10), Side::Left, &day, &utc),
            feed_ended(t(4, 10), t(4, 30), &utc),
            pumped(90.0, &day),
            pumped(90.0, &DaySummary::default()),
            snoozed(&day, &utc),
            snoozed(&DaySummary::default(), &utc),
            skipped(&day, &utc),
            cancelled(&day, &utc),
            scheduled(t(6, 58), &utc),
            where_idle(&day, &utc),
        ];
        for a in &answers {
            let (head, rest) = split_answer(a).unwrap_or_else(|| panic!("no head: {a}"));
            assert!(head.ends_with('.'), "{head}");
            let said = format!("{} {rest}", head.trim_end_matches('.'));
            // Nothing is lost or said twice: the head and the rest are the answer.
            assert_eq!(
                said.replace([',', '.'], "").trim(),
                a.replace([',', '.'], "").trim(),
                "{a}"
            );
        }
        assert_eq!(
            split_answer("Feed logged at 04:10, the left side."),
            Some(("Feed logged.".to_string(), "at 04:10, the left side."))
        );
        assert_eq!(split_answer("Snoozed."), Some(("Snoozed.".to_string(), "")));
        assert_eq!(split_answer("Loggedness is not a head."), None);
        assert_eq!(split_answer("Up to 30 minutes at a time."), None);
    }

    #[test]
    fn sentences_say_what_was_done_and_what_comes_next() {
        let utc = TimeZone::UTC;
        let day = DaySummary {
            next_session: Some((t(6, 58), "feed plan: feed due at 07:10".into())),
            next_feed_due: Some(t(7, 10)),
            last_feed: Some((t(4, 10), Side::Left)),
            next_side: Some(Side::Right),
            trouble: None,
            last_pumped: None,
            pumped_today_ml: None,
        };
        assert_eq!(
            fed(t(4, 10), Side::Left, &day, &utc),
            "Feed logged at 04:10, the left side. The next feed is due around 07:10, and the massage starts at 06:58."
        );
        assert_eq!(
            where_idle(&day, &utc),
            "No massage now. The next feed is due around 07:10, and the massage starts at 06:58. The last feed was at 04:10, on the left side. The right side is next."
        );
        assert_eq!(
            snoozed(&day, &utc),
            "Snoozed. The massage now starts at 06:58."
        );
        let daily = DaySummary {
            next_session: Some((t(9, 30), "daily".into())),
            ..Default::default()
        };
        assert_eq!(
            skipped(&daily, &utc),
            "Skipped. The next massage starts at 09:30, daily."
        );
        assert_eq!(
            where_idle(&DaySummary::default(), &utc),
            "No massage now. No massage is scheduled."
        );
        assert_eq!(
            spoken_notice(
                "the session at 14:05 (daily) was missed: the computer was asleep or off"
            ),
            "The session at 14:05 (daily) was missed: the computer was asleep or off."
        );
    }

    #[test]
    fn a_routine_with_a_spoken_name_is_named_in_its_heads_up() {
        assert_eq!(starts_in("Pumping", 10), "Pumping in ten minutes.");
        assert_eq!(
            starts_in("Hand expression", 1),
            "Hand expression in one minute."
        );
    }

    #[test]
    fn pumping_is_answered_with_the_day_s_total() {
        let utc = TimeZone::UTC;
        let day = DaySummary {
            last_pumped: Some((t(14, 20), 90.0)),
            pumped_today_ml: Some(410.0),
            ..Default::default()
        };
        assert_eq!(pumped(90.0, &day), "Logged 90 millilitres. 410 today.");
        let first = DaySummary {
            pumped_today_ml: Some(90.0),
            ..day.clone()
        };
        assert_eq!(pumped(90.0, &first), "Logged 90 millilitres.");
        assert_eq!(
            where_idle(&day, &utc),
            "No massage now. No massage is scheduled. The last pumping was at 14:20, 90 millilitres. 410 today."
        );
    }

    #[test]
    fn a_feed_ended_says_how_long_and_where_says_what_is_wrong_with_the_sync() {
        let utc = TimeZone::UTC;
        assert_eq!(
            feed_ended(t(4, 10), t(4, 32), &utc),
            "Feed ended at 04:32, after 22 minutes."
        );
        let day = DaySummary {
            trouble: Some(
                "Baby Buddy has not answered for 2 hours. 3 feeds are waiting to be sent.".into(),
            ),
            ..Default::default()
        };
        assert_eq!(
            where_idle(&day, &utc),
            "No massage now. No massage is scheduled. Baby Buddy has not answered for 2 hours. 3 feeds are waiting to be sent."
        );
    }

    #[test]
    fn the_summary_map_round_trips() {
        let day = DaySummary {
            next_session: Some((t(6, 58), "daily".into())),
            next_feed_due: None,
            last_feed: Some((t(4, 10), Side::Both)),
            next_side: Some(Side::Left),
            trouble: Some("Baby Buddy has not answered for 2 hours.".into()),
            last_pumped: Some((t(3, 0), 90.0)),
            pumped_today_ml: Some(410.0),
        };
        assert_eq!(DaySummary::from_map(&day.to_map()), day);
        assert_eq!(DaySummary::from_map(&HashMap::new()), DaySummary::default());
    }

    #[test]
    fn a_trial_says_the_first_sentences_of_at_least_40_characters() {
        let say = "Welcome. Find a comfortable seat and let your shoulders drop. Breathe in.";
        assert_eq!(
            first_sentences(say, 40),
            "Welcome. Find a comfortable seat and let your shoulders drop."
        );
        assert_eq!(first_sentences("No stop at all", 40), "No stop at all");
        assert_eq!(first_sentences("Short. Too.", 40), "Short. Too.");
    }
}
