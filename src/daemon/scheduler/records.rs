//! What a parent logs: feeds and pumpings, checked (a clear error for each thing wrong),
//! applied to the state through the ledger, and queued for Baby Buddy in the same change.
//!
//! [`Records`] is lent the ledger, the Baby Buddy link and the time for one request; the
//! listings read the state alone.

use jiff::Timestamp;

use super::ledger::Ledger;
use super::running_feed;
use super::sync::BabyBuddySync;
use crate::daemon::error::CoachError;
use crate::daemon::request::{FeedRow, PumpingRow};
use crate::schedule::sync::Record;
use crate::schedule::{MAX_NOTE_CHARS, PUMPED_ML, Side, State};

/// The longest feed or pumping that can be logged, seconds (Baby Buddy refuses longer feeds
/// too).
const MAX_LENGTH: i64 = 86_400;

/// How far ahead of the clock a time may be (a phone's clock a little ahead), seconds.
const CLOCK_SLACK: i64 = 300;

/// The parts a feed or pumping request touches, lent for one call.
pub(super) struct Records<'a> {
    /// The state, and its one change in flight.
    pub ledger: &'a mut Ledger,
    /// What is sent to Baby Buddy (and the longest feed it allows).
    pub sync: &'a BabyBuddySync,
    /// Now, by the scheduler's clock.
    pub now: Timestamp,
}

impl Records<'_> {
    /// Queues a record to be sent, in the change being made.
    fn queue(&mut self, record: Record, id: u64, old_start: Option<i64>, new: bool) {
        self.sync
            .queue(self.ledger, self.now, record, id, old_start, new)
    }

    /// Logs a feed from `start` (ended at `end` if given); a feed still running ends where
    /// this one starts. Returns its id.
    pub fn log_feed(
        &mut self,
        start: i64,
        end: Option<i64>,
        side: &str,
        note: &str,
    ) -> Result<u64, CoachError> {
        let side = Side::parse(side).map_err(CoachError::InvalidArgument)?;
        if side == Side::Unknown && self.sync.connected() {
            return bad(
                "Baby Buddy needs a side for each feeding: log it with --side left, right or both",
            );
        }
        check_note("a feed's note", note)?;
        let (now, at) = (self.now, timestamp(start)?);
        if start > now.as_second() + CLOCK_SLACK {
            return bad("a feed cannot start in the future");
        }
        let end = match end {
            None => None,
            Some(e) if e <= start => return bad("a feed must end after it starts"),
            Some(e) if e - start > MAX_LENGTH => {
                return bad("a feed lasts at most a day (Baby Buddy's limit too)");
            }
            Some(e) if e > now.as_second() + CLOCK_SLACK => {
                return bad(
                    "a feed cannot end in the future; log it when it ends, or start it now and end it with `letdown fed --end`",
                );
            }
            Some(e) => Some(timestamp(e)?),
        };
        // A feed that runs ends when the next one starts (one feed runs at a time).
        let max = self.sync.max_feed();
        if let Some((running, running_at)) = running_feed::running(self.ledger.state(), max, now)
            && running_at <= start
        {
            let limit = max.map(|d| d.as_secs() as i64);
            let ends = limit.map_or(start, |l| start.min(running_at + l));
            self.ledger.change(now, |s| set_end(s, running, ends));
            self.queue(Record::Feed, running, None, false);
        }
        let id = self.ledger.change(now, |s| {
            s.babybuddy.ended_untold.clear();
            s.log_feed(now, at, end, side, note)
        });
        self.queue(Record::Feed, id, Some(start), true);
        Ok(id)
    }

    /// Ends the running feed now; returns its id, start and end.
    pub fn end_feed(&mut self) -> Result<(u64, i64, i64), CoachError> {
        let max = self.sync.max_feed();
        let (id, at) =
            running_feed::running(self.ledger.state(), max, self.now).ok_or_else(|| {
                CoachError::NotFound(
                    "no feed is running; `letdown fed --side left` starts one".into(),
                )
            })?;
        let end = self.now.as_second().max(at + 1);
        self.ledger.change(self.now, |s| set_end(s, id, end));
        self.queue(Record::Feed, id, None, false);
        Ok((id, at, end))
    }

    /// Moves a feed's start (and changes its side, unless `side` is "").
    pub fn correct_feed(&mut self, id: u64, start: i64, side: &str) -> Result<(), CoachError> {
        let side = match side {
            "" => None,
            s => Some(Side::parse(s).map_err(CoachError::InvalidArgument)?),
        };
        let at = timestamp(start)?;
        let old = feed_start(self.ledger.state(), id)?;
        self.ledger
            .change(self.now, |s| s.correct_feed(id, at, side));
        self.queue(Record::Feed, id, Some(old), false);
        Ok(())
    }

    /// Deletes a feed (and, once sent, its feeding in Baby Buddy).
    pub fn delete_feed(&mut self, id: u64) -> Result<(), CoachError> {
        let old = feed_start(self.ledger.state(), id)?;
        // Queued first: the change prunes the links of feeds that are gone, unless queued.
        self.queue(Record::Feed, id, Some(old), false);
        self.ledger.change(self.now, |s| s.delete_feed(id));
        Ok(())
    }

    /// Logs a pumping from `start` to `end` of `amount_ml`; returns its id.
    pub fn log_pumping(
        &mut self,
        start: i64,
        end: i64,
        amount_ml: f64,
        side: &str,
        note: &str,
    ) -> Result<u64, CoachError> {
        let side = Side::parse(side).map_err(CoachError::InvalidArgument)?;
        if !amount_ml.is_finite() || !PUMPED_ML.contains(&amount_ml) {
            return Err(CoachError::InvalidArgument(format!(
                "a pumping is {} to {} ml; {amount_ml} is not",
                PUMPED_ML.start(),
                PUMPED_ML.end()
            )));
        }
        check_note("a note", note)?;
        timestamp(start)?;
        let now = self.now;
        if end < start {
            return bad("a pumping must end after it starts");
        }
        if end - start > MAX_LENGTH {
            return bad("a pumping lasts at most a day");
        }
        if end > now.as_second() + CLOCK_SLACK {
            return bad("a pumping cannot end in the future");
        }
        let id = self.ledger.change(now, |s| {
            s.log_pumping(now, start, end, amount_ml, side, note)
        });
        self.queue(Record::Pumping, id, Some(start), true);
        Ok(id)
    }

    /// Deletes a mistaken pumping.
    pub fn delete_pumping(&mut self, id: u64) -> Result<(), CoachError> {
        let state = self.ledger.state();
        let Some(old) = state.pumpings.iter().find(|p| p.id == id).map(|p| p.start) else {
            return Err(CoachError::NotFound(format!(
                "no pumping with id {id}; see `letdown pumpings`"
            )));
        };
        // Queued first: the change prunes the links of pumpings that are gone, unless queued.
        self.queue(Record::Pumping, id, Some(old), false);
        self.ledger
            .change(self.now, |s| s.pumpings.retain(|p| p.id != id));
        Ok(())
    }
}

/// The most recent `limit` feeds (0 = all), oldest first.
pub(super) fn list_feeds(state: &State, limit: u32) -> Vec<FeedRow> {
    last(&state.feeds, limit)
        .iter()
        .map(|f| (f.id, f.at, f.side.name().to_string(), f.note.clone()))
        .collect()
}

/// The most recent `limit` pumpings (0 = all), oldest first.
pub(super) fn list_pumpings(state: &State, limit: u32) -> Vec<PumpingRow> {
    last(&state.pumpings, limit)
        .iter()
        .map(|p| {
            let side = p.side.name().to_string();
            (p.id, p.start, p.end, p.amount_ml, side, p.note.clone())
        })
        .collect()
}

/// The last `limit` of `all` (0 = all of them).
fn last<T>(all: &[T], limit: u32) -> &[T] {
    let keep = if limit == 0 {
        all.len()
    } else {
        limit as usize
    };
    &all[all.len().saturating_sub(keep)..]
}

/// Unix seconds as a time, or an error naming them.
fn timestamp(at: i64) -> Result<Timestamp, CoachError> {
    Timestamp::from_second(at)
        .map_err(|_| CoachError::InvalidArgument(format!("{at} is not a time")))
}

fn bad<T>(why: &str) -> Result<T, CoachError> {
    Err(CoachError::InvalidArgument(why.into()))
}

/// A note is bounded: the log is kept in memory and sent to Baby Buddy.
fn check_note(what: &str, note: &str) -> Result<(), CoachError> {
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(CoachError::InvalidArgument(format!(
            "{what} is at most {MAX_NOTE_CHARS} characters; this one has {chars}"
        )));
    }
    Ok(())
}

/// Feed `id`'s start, or an error naming it.
fn feed_start(state: &State, id: u64) -> Result<i64, CoachError> {
    let feed = state.feeds.iter().find(|f| f.id == id);
    feed.map(|f| f.at)
        .ok_or_else(|| CoachError::NotFound(format!("no feed with id {id}; see `letdown feeds`")))
}

/// Ends feed `id` at `end` (Unix seconds).
fn set_end(state: &mut State, id: u64, end: i64) {
    if let Some(f) = state.feeds.iter_mut().find(|f| f.id == id) {
        f.end = Some(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ledger on a fresh disk and no Baby Buddy server, at a fixed now.
    fn parts() -> (tempfile::TempDir, Ledger, BabyBuddySync, Timestamp) {
        let (dir, ledger, _results) = super::super::ledger::tests::ledger();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        (dir, ledger, BabyBuddySync::new(), now)
    }

    /// One feed runs at a time: a new feed ends the running one (started within `max_feed`)
    /// where it starts.
    #[tokio::test]
    async fn a_new_feed_ends_the_running_one_where_it_starts() {
        let (_dir, mut ledger, sync, now) = parts();
        let t = now.as_second();
        let mut r = Records {
            ledger: &mut ledger,
            sync: &sync,
            now,
        };
        let first = r.log_feed(t - 1800, None, "left", "").unwrap();
        let second = r.log_feed(t - 600, None, "right", "").unwrap();
        let feeds = &ledger.state().feeds;
        assert_eq!(
            feeds.iter().find(|f| f.id == first).unwrap().end,
            Some(t - 600)
        );
        assert_eq!(feeds.iter().find(|f| f.id == second).unwrap().end, None);
        let listed = list_feeds(ledger.state(), 1);
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].0, listed[0].2.as_str()), (second, "right"));
        assert_eq!(list_feeds(ledger.state(), 0).len(), 2);
    }

    /// Each thing wrong is refused with what is wrong, and changes nothing.
    #[tokio::test]
    async fn a_bad_record_is_refused_and_changes_nothing() {
        let (_dir, mut ledger, sync, now) = parts();
        let t = now.as_second();
        let before = ledger.state().clone();
        let mut r = Records {
            ledger: &mut ledger,
            sync: &sync,
            now,
        };
        let long_note = "x".repeat(MAX_NOTE_CHARS + 1);
        let refused = [
            ("future", r.log_feed(t + 3600, None, "left", "").err()),
            (
                "after it starts",
                r.log_feed(t - 60, Some(t - 120), "left", "").err(),
            ),
            (
                "at most a day",
                r.log_feed(t - 200_000, Some(t), "left", "").err(),
            ),
            ("side", r.log_feed(t - 60, None, "middle", "").err()),
            (
                "characters",
                r.log_feed(t - 60, None, "left", &long_note).err(),
            ),
            ("ml", r.log_pumping(t - 600, t, 0.0, "", "").err()),
            (
                "after it starts",
                r.log_pumping(t, t - 600, 80.0, "", "").err(),
            ),
            ("no feed is running", r.end_feed().err()),
            ("no feed with id 9", r.correct_feed(9, t - 60, "").err()),
            ("no pumping with id 9", r.delete_pumping(9).err()),
        ];
        for (why, err) in refused {
            let err = err.unwrap_or_else(|| panic!("accepted; expected \"{why}\""));
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        assert!(!ledger.staged(), "a refused record staged a change");
        assert_eq!(format!("{:?}", ledger.state()), format!("{before:?}"));
    }
}
