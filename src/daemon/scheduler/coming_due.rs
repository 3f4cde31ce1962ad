//! What has come due at a time, recorded: a missed session is kept to be told; a session to run
//! is recorded before it runs, so it never runs twice, even after a crash; one due while
//! another runs waits. And the heads-up before a session, given once.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::ledger::Ledger;
use crate::schedule::{Due, Occurrence, Outcome};

/// Records in `ledger` what the planner found `due` at `now`; a session to run while `busy`
/// (one is running or starting) is left to wait, and one to run is started by the coach once
/// its record is written.
pub fn record(ledger: &mut Ledger, due: Vec<Due>, busy: bool, tz: &TimeZone, now: Timestamp) {
    for d in due {
        match d {
            Due::Missed(o) => {
                let text = missed(&o, tz);
                log::warn!("{text}");
                ledger.change(now, |s| {
                    s.mark(&o, Outcome::Missed);
                    s.missed_untold.push(text);
                });
            }
            Due::Run(o) if busy => {
                log::info!("{} is due but a session is running; it waits", o.key)
            }
            Due::Run(o) => {
                ledger.change(now, |s| s.mark(&o, Outcome::Fired));
                ledger.run_when_written(o);
            }
        }
    }
}

/// How a missed session is told.
fn missed(o: &Occurrence, tz: &TimeZone) -> String {
    format!(
        "the session at {} ({}) was missed: the computer was asleep or off",
        crate::schedule::local_hm(o.at, tz),
        o.reason(tz)
    )
}

/// The heads-ups already given, by occurrence key.
#[derive(Debug, Default)]
pub struct HeadsUpsGiven(HashSet<String>);

impl HeadsUpsGiven {
    /// The heads-up due at `now`, `lead` before the first of `upcoming` not yet announced:
    /// the minutes until it (at least 1). Each session gets one.
    pub fn next(
        &mut self,
        upcoming: Vec<Occurrence>,
        lead: Duration,
        now: Timestamp,
    ) -> Option<u32> {
        let o = upcoming.into_iter().find(|o| {
            o.at.as_second() - now.as_second() <= lead.as_secs() as i64 && !self.0.contains(&o.key)
        })?;
        self.0.insert(o.key);
        let minutes = ((o.at.as_second() - now.as_second()) as f64 / 60.0).round();
        Some(minutes.max(1.0) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Source;

    fn at(key: &str, seconds: i64) -> Occurrence {
        Occurrence {
            key: key.into(),
            at: Timestamp::from_second(seconds).unwrap(),
            routine: String::new(),
            source: Source::Once(1),
            quiet: false,
        }
    }

    #[test]
    fn a_heads_up_is_given_once_inside_its_lead() {
        let (mut given, lead) = (HeadsUpsGiven::default(), Duration::from_secs(300));
        let now = Timestamp::from_second(1_000_000).unwrap();
        let far = vec![at("a", 1_000_000 + 301)];
        assert_eq!(given.next(far.clone(), lead, now), None, "outside the lead");
        let near = vec![at("a", 1_000_000 + 270)];
        assert_eq!(
            given.next(near.clone(), lead, now),
            Some(5),
            "4.5 min rounds to 5"
        );
        assert_eq!(given.next(near, lead, now), None, "given once");
        let soon = vec![at("a", 1_000_000 + 270), at("b", 1_000_000 + 20)];
        assert_eq!(given.next(soon, lead, now), Some(1), "at least a minute");
    }

    #[tokio::test]
    async fn missed_sessions_are_kept_to_be_told_and_one_to_run_waits_while_busy() {
        let (_dir, mut ledger, _results) = super::super::ledger::tests::ledger();
        let tz = TimeZone::UTC;
        let now = Timestamp::from_second(1_000_000).unwrap();
        let due = || vec![Due::Missed(at("m", 990_000)), Due::Run(at("r", 999_990))];
        record(&mut ledger, due(), true, &tz, now);
        let told = &ledger.state().missed_untold;
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("was missed"), "{told:?}");
        let handled = &ledger.state().handled;
        assert_eq!(handled.get("m").map(|h| h.1), Some(Outcome::Missed));
        assert!(!handled.contains_key("r"), "busy: the run waits");
        record(&mut ledger, due(), false, &tz, now);
        let handled = &ledger.state().handled;
        assert_eq!(
            handled.get("r").map(|h| h.1),
            Some(Outcome::Fired),
            "recorded first"
        );
    }
}
