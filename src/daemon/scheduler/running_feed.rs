//! The feed running now, and its end at Baby Buddy's `max_feed`: a feed logged with `fed` runs
//! until it is ended, the next one starts, or it reaches the limit (a forgotten `fed --end`
//! must not leave a feed running for days, nor be sent to Baby Buddy as one).
//!
//! `max` is the connected server's `max_feed`, `None` without a server.

use std::time::Duration;

use jiff::Timestamp;

use super::ledger::Ledger;
use crate::schedule::State;

/// The feed running at `now` (its id and start), if any; without a server, one older than
/// [`crate::babybuddy::DEFAULT_MAX_FEED`] is not running.
pub fn running(state: &State, max: Option<Duration>, now: Timestamp) -> Option<(u64, i64)> {
    let last = state.feeds.last()?;
    let max = max.unwrap_or(crate::babybuddy::DEFAULT_MAX_FEED);
    (last.end.is_none() && now.as_second() - last.at < max.as_secs() as i64)
        .then_some((last.id, last.at))
}

/// When the running feed reaches `max` (Unix seconds), if a feed runs and a server is
/// connected.
pub fn limit(state: &State, max: Option<Duration>) -> Option<i64> {
    let (max, last) = (max?, state.feeds.last()?);
    (last.end.is_none()).then(|| last.at + max.as_secs() as i64)
}

/// Ends, at the limit, a feed that ran past `max` (said in `where`); returns its id, to be
/// queued.
pub fn end_overdue(ledger: &mut Ledger, max: Option<Duration>, now: Timestamp) -> Option<u64> {
    let limit = limit(ledger.state(), max).filter(|l| *l <= now.as_second())?;
    let id = ledger.state().feeds.last()?.id;
    log::info!("feed {id} ran past max_feed; ended at the limit");
    ledger.change(now, |s| {
        if let Some(f) = s.feeds.iter_mut().find(|f| f.id == id) {
            f.end = Some(limit);
        }
        s.babybuddy.ended_untold = vec![(id, limit)];
    });
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[tokio::test]
    async fn a_feed_past_max_feed_is_ended_at_the_limit_and_told() {
        let (_dir, mut ledger, _results) = super::super::ledger::tests::ledger();
        let t0 = 1_800_000_000;
        let id = ledger.change(at(t0), |s| {
            s.log_feed(at(t0), at(t0), None, Default::default(), "")
        });
        assert_eq!(
            running(ledger.state(), Some(HOUR), at(t0 + 60)),
            Some((id, t0))
        );
        assert_eq!(limit(ledger.state(), Some(HOUR)), Some(t0 + 3600));
        assert_eq!(limit(ledger.state(), None), None, "no server: no limit");
        assert_eq!(end_overdue(&mut ledger, Some(HOUR), at(t0 + 3599)), None);
        assert_eq!(
            end_overdue(&mut ledger, Some(HOUR), at(t0 + 7200)),
            Some(id)
        );
        let state = ledger.state();
        assert_eq!(
            state.feeds.last().unwrap().end,
            Some(t0 + 3600),
            "at the limit"
        );
        assert_eq!(state.babybuddy.ended_untold, vec![(id, t0 + 3600)]);
        assert_eq!(running(state, Some(HOUR), at(t0 + 7200)), None);
        assert_eq!(limit(state, Some(HOUR)), None, "it ran, it is over");
    }
}
