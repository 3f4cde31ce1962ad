//! What the Baby Buddy worker's results change in the state: a record sent (its link kept) or
//! refused (retried, or told once), feedings read (the mirror the day is planned from) or not
//! (the trouble `where` tells). Each change is staged in the ledger, written like any other.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::ledger::Ledger;
use crate::babybuddy::api::ApiError;
use crate::daemon::error::CoachError;
use crate::schedule::sync::{Link, Outgoing, RemoteFeeding};

/// The worker sent `entry`: its link is kept, or, refused, it is retried later or (refused for
/// good) told once, naming the feed by its time.
pub(super) fn sent(
    ledger: &mut Ledger,
    entry: &Outgoing,
    result: Result<Option<Link>, ApiError>,
    now: Timestamp,
    tz: &TimeZone,
) {
    let secs = now.as_second();
    let e = match result {
        Ok(l) => {
            log::info!("feed {} is up to date in Baby Buddy ({l:?})", entry.feed);
            ledger.change(now, |s| s.babybuddy.sent(entry, l, secs));
            return;
        }
        Err(e) => e,
    };
    let retry = e.retryable();
    let again = if retry { "; will try again" } else { "" };
    log::warn!("cannot send feed {} to Baby Buddy: {e}{again}", entry.feed);
    let feed = ledger.state().feeds.iter().find(|f| f.id == entry.feed);
    let which = feed.map_or("a deleted feed".to_string(), |f| {
        let t = Timestamp::from_second(f.at).unwrap_or(Timestamp::UNIX_EPOCH);
        format!("the feed at {}", crate::schedule::local_hm(t, tz))
    });
    ledger.change(now, |s| {
        s.babybuddy.failed(entry, &e.to_string(), retry, secs);
        if !retry {
            let told = format!("Baby Buddy refused {which}: {e}");
            s.babybuddy.untold.push(told);
        }
    });
}

/// The worker read feedings: the mirror follows them; or the read failed, and the error is
/// kept (and, when it may pass, since when it fails). Returns what `letdown babybuddy sync`
/// is answered.
pub(super) fn read(
    ledger: &mut Ledger,
    result: Result<Vec<RemoteFeeding>, ApiError>,
    now: Timestamp,
) -> Result<(), CoachError> {
    let secs = now.as_second();
    match result {
        Ok(feedings) => {
            let before = ledger.state().babybuddy.mirror.clone();
            ledger.change(now, |s| s.babybuddy.read(feedings, secs));
            let mirror = &ledger.state().babybuddy.mirror;
            if *mirror != before {
                let n = mirror.len();
                log::info!("feedings logged in Baby Buddy changed: {n} in the last two days");
            }
            Ok(())
        }
        Err(e) => {
            log::warn!("cannot read feedings from Baby Buddy: {e}");
            let (text, retry) = (e.to_string(), e.retryable());
            ledger.change(now, |s| {
                s.babybuddy.last_error = Some(text.clone());
                if retry && s.babybuddy.failing_since == 0 {
                    s.babybuddy.failing_since = secs;
                }
            });
            Err(CoachError::SyncFailed(format!("Baby Buddy: {text}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Side;
    use crate::schedule::sync::Record;

    /// A refusal for good is told once, naming the feed by its local time; one that may pass
    /// is retried and not told; a failed read keeps since when it fails.
    #[tokio::test]
    async fn a_refusal_is_told_by_the_feeds_time_and_a_passing_failure_is_not() {
        let (_dir, mut ledger, _results) = super::super::ledger::tests::ledger();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let at = now - jiff::SignedDuration::from_mins(30);
        let id = ledger.change(now, |s| s.log_feed(now, at, None, Side::Left, ""));
        ledger.change(now, |s| {
            s.babybuddy
                .queue_record(Record::Feed, id, Some(at.as_second()), now.as_second())
        });
        let entry = ledger.state().babybuddy.outbox[0].clone();

        sent(&mut ledger, &entry, Err(ApiError::Timeout), now, &tz);
        let b = &ledger.state().babybuddy;
        assert!(b.untold.is_empty(), "a failure that may pass was told");
        assert!(!b.outbox[0].stuck && b.outbox[0].attempts == 1);

        let entry = ledger.state().babybuddy.outbox[0].clone();
        let refused = Err(ApiError::Refused("bad".into()));
        sent(&mut ledger, &entry, refused, now, &tz);
        let local = crate::schedule::local_hm(at, &tz);
        let b = &ledger.state().babybuddy;
        assert!(b.outbox[0].stuck, "a refusal for good was retried");
        assert_eq!(b.untold.len(), 1);
        assert!(b.untold[0].starts_with(&format!("Baby Buddy refused the feed at {local}:")));

        let later = now + jiff::SignedDuration::from_mins(5);
        let err = read(&mut ledger, Err(ApiError::Server(502)), later).unwrap_err();
        assert!(matches!(err, CoachError::SyncFailed(_)), "{err:?}");
        let since = ledger.state().babybuddy.failing_since;
        assert_eq!(since, later.as_second());
        read(
            &mut ledger,
            Err(ApiError::Server(502)),
            later + jiff::SignedDuration::from_mins(5),
        )
        .unwrap_err();
        assert_eq!(
            ledger.state().babybuddy.failing_since,
            since,
            "since when it fails moved"
        );
    }
}
