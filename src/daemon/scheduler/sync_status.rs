//! How the Baby Buddy sync stands, as `Summary` shows it and `where` says it: pure, from the
//! settings and the state at a time, so every sentence is tested.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::babybuddy::Settings;
use crate::schedule::State;

/// A server that has not answered for less than this is not mentioned (a laptop waking, a
/// restart), seconds.
const QUIET_FOR: i64 = 600;

/// The `sync_*` keys of `Summary` (but `sync_trouble`), and what `where` says when something
/// is wrong with the sync to the server in `settings`.
pub(super) fn status(
    settings: &Settings,
    state: &State,
    now: Timestamp,
    tz: &TimeZone,
) -> (BTreeMap<String, String>, Option<String>) {
    let b = &state.babybuddy;
    let now = now.as_second();
    let stuck = b.outbox.iter().filter(|o| o.stuck).count();
    let mut m = BTreeMap::from([
        ("sync_server".to_string(), settings.url.clone()),
        ("sync_child".to_string(), settings.child.to_string()),
        ("sync_last".to_string(), b.last_sync.to_string()),
        ("sync_outbox".to_string(), b.outbox.len().to_string()),
        ("sync_stuck".to_string(), stuck.to_string()),
    ]);
    if let Some(e) = &b.last_error {
        m.insert("sync_error".into(), e.clone());
    }
    if b.failing_since > 0 {
        m.insert("sync_failing_since".into(), b.failing_since.to_string());
    }
    let mut trouble = Vec::new();
    if let Some((id, end)) = b.ended_untold.first()
        && state.feeds.last().is_some_and(|f| f.id == *id)
        && let Ok(t) = Timestamp::from_second(*end)
    {
        trouble.push(format!(
            "The last feed was ended at {}, the {} limit.",
            crate::schedule::local_hm(t, tz),
            crate::duration::show(settings.max_feed)
        ));
    }
    if b.failing_since > 0 && now - b.failing_since >= QUIET_FOR {
        let feeds = match b.outbox.len() {
            0 => String::new(),
            1 => " 1 feed is waiting to be sent.".into(),
            n => format!(" {n} feeds are waiting to be sent."),
        };
        trouble.push(format!(
            "Baby Buddy has not answered for {}.{feeds}",
            spoken_span(now - b.failing_since)
        ));
    }
    if stuck > 0 {
        trouble.push(match stuck {
            1 => "Baby Buddy refused 1 feed; see letdown babybuddy status.".into(),
            n => format!("Baby Buddy refused {n} feeds; see letdown babybuddy status."),
        });
    }
    // (`sync_trouble` goes into the map with the day's summary, which says it.)
    let trouble = (!trouble.is_empty()).then(|| trouble.join(" "));
    (m, trouble)
}

/// "2 hours", "15 minutes", for speech.
fn spoken_span(secs: i64) -> String {
    let minutes = (secs / 60).max(1);
    let (n, unit) = if minutes >= 120 {
        (minutes / 60, "hours")
    } else if minutes >= 60 {
        (1, "hour")
    } else if minutes == 1 {
        (1, "minute")
    } else {
        (minutes, "minutes")
    };
    format!("{n} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::sync::{Outgoing, Record};

    fn settings() -> Settings {
        Settings {
            url: "http://127.0.0.1:8000".into(),
            token_file: "/dev/null".into(),
            child: crate::babybuddy::Child::Id(1),
            allow_insecure_http: false,
            sync_every: std::time::Duration::from_secs(300),
            max_feed: std::time::Duration::from_secs(3600),
        }
    }

    #[test]
    fn spans_are_spoken_in_whole_units() {
        assert_eq!(spoken_span(30), "1 minute");
        assert_eq!(spoken_span(15 * 60), "15 minutes");
        assert_eq!(spoken_span(90 * 60), "1 hour");
        assert_eq!(spoken_span(7 * 3600 + 59), "7 hours");
    }

    /// A server briefly away is not mentioned; one away for long is, with what waits.
    #[test]
    fn a_server_away_is_told_only_after_a_while_with_what_waits() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut state = State::default();
        state.babybuddy.outbox.push(Outgoing {
            feed: 1,
            record: Record::Feed,
            starts: vec![],
            attempts: 3,
            next_try: 0,
            error: None,
            stuck: false,
            told: false,
        });
        state.babybuddy.failing_since = now.as_second() - (QUIET_FOR - 1);
        let (map, trouble) = status(&settings(), &state, now, &TimeZone::UTC);
        assert_eq!(trouble, None, "a server briefly away was mentioned");
        assert_eq!(map["sync_outbox"], "1");
        assert!(map.contains_key("sync_failing_since"));
        state.babybuddy.failing_since = now.as_second() - 2 * 3600;
        let (_, trouble) = status(&settings(), &state, now, &TimeZone::UTC);
        assert_eq!(
            trouble.as_deref(),
            Some("Baby Buddy has not answered for 2 hours. 1 feed is waiting to be sent.")
        );
        state.babybuddy.outbox[0].stuck = true;
        let (map, trouble) = status(&settings(), &state, now, &TimeZone::UTC);
        assert_eq!(map["sync_stuck"], "1");
        assert!(
            trouble
                .unwrap()
                .ends_with("Baby Buddy refused 1 feed; see letdown babybuddy status.")
        );
    }
}
