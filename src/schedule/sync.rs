//! What letdown keeps about its Baby Buddy sync, in the state database beside the feed log: the
//! outbox of feeds still to be sent, the Baby Buddy id of each feed that was sent, and the
//! feedings logged elsewhere (the mirror) that move the feed plan and the side.
//!
//! Pure: the daemon's worker does the HTTP; this says what is to be sent and takes what came
//! back. An outbox entry names a feed, not a request: sending it makes the server's copy match
//! the feed as it is *then* (started, finished, corrected or deleted), so an entry that is sent
//! twice (its answer lost, the daemon killed) does the same thing twice, and before anything
//! is created the worker looks for it on the server by child and start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Feed, Side};

/// How long a first retry waits; each later one waits twice as long, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: i64 = 5;
/// The longest wait between two tries of one entry, seconds.
pub const MAX_BACKOFF: i64 = 300;
/// How far back the mirror reaches: feedings that ended in this window are read at each sync
/// (enough for the feed plan and the side, which look at the last feeds only).
pub const MIRROR_WINDOW: i64 = 2 * 86_400;
/// A feeding read from the server that starts this close (seconds) to one of letdown's own
/// feeds is that feed (its answer may have been lost), not another feed: letdown sends whole
/// seconds and Baby Buddy keeps them as sent.
pub const SAME_FEED: i64 = 1;

/// What a feed is on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Link {
    /// A running timer (the feed has not ended).
    Timer(u64),
    /// A feeding.
    Feeding(u64),
    /// A pumping entry.
    Pumping(u64),
}

impl Link {
    /// The id on the server.
    pub fn id(self) -> u64 {
        match self {
            Link::Timer(id) | Link::Feeding(id) | Link::Pumping(id) => id,
        }
    }
}

/// What an outbox entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Record {
    /// A feed (a timer, then a feeding).
    #[default]
    Feed,
    /// A pumping session.
    Pumping,
}

/// One feed whose server copy is to be brought up to date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The feed's (or pumping's) id in letdown's log.
    pub feed: u64,
    /// Whether it is a feed or a pumping.
    #[serde(default)]
    pub record: Record,
    /// Starts the feed had while it was not yet known on the server: where to look for a copy
    /// whose answer was lost.
    #[serde(default)]
    pub starts: Vec<i64>,
    /// Failed tries so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this (Unix seconds): the backoff after a failure.
    #[serde(default)]
    pub next_try: i64,
    /// Why the last try failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Refused for good (a 400 the server will always give): kept and shown, not retried
    /// until the feed changes again.
    #[serde(default)]
    pub stuck: bool,
    /// Whether the user was told it is stuck.
    #[serde(default)]
    pub told: bool,
}

/// A feeding as read from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFeeding {
    /// Baby Buddy's id.
    pub id: u64,
    /// Start, Unix seconds (UTC).
    pub start: i64,
    /// End, Unix seconds (UTC).
    pub end: i64,
    /// Baby Buddy's method: `left breast`, `bottle`...
    pub method: String,
    /// Baby Buddy's type: `breast milk`, `formula`...
    #[serde(default)]
    pub kind: String,
    /// When letdown first read it (Unix seconds): plan sessions before this were planned
    /// without it.
    #[serde(default)]
    pub seen: i64,
}

impl RemoteFeeding {
    /// The side it counts for: only breast feedings name one.
    pub fn side(&self) -> Side {
        side_of_method(&self.method)
    }
}

/// The side a Baby Buddy method names (`Unknown` for bottle, parent- or self-fed).
pub fn side_of_method(method: &str) -> Side {
    match method {
        "left breast" => Side::Left,
        "right breast" => Side::Right,
        "both breasts" => Side::Both,
        _ => Side::Unknown,
    }
}

/// Baby Buddy's method for a side; `None` where it has none (Baby Buddy needs a method, so
/// such a feed is not sent: nothing is invented).
pub fn method_of_side(side: Side) -> Option<&'static str> {
    match side {
        Side::Left => Some("left breast"),
        Side::Right => Some("right breast"),
        Side::Both => Some("both breasts"),
        Side::Unknown => None,
    }
}

/// The sync's durable part (in the state database, written with the feed change that made it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// Feeds to send, oldest change first.
    #[serde(default)]
    pub outbox: Vec<Outgoing>,
    /// What each sent feed is on the server, by feed id.
    #[serde(default)]
    pub links: BTreeMap<u64, Link>,
    /// The child's feedings logged elsewhere, from the last sync (those of letdown's own
    /// feeds left out).
    #[serde(default)]
    pub mirror: Vec<RemoteFeeding>,
    /// When the feedings were last read successfully (Unix seconds; 0: never).
    #[serde(default)]
    pub last_sync: i64,
    /// When the server last answered anything (Unix seconds; 0: never).
    #[serde(default)]
    pub last_answer: i64,
    /// Since when the server has not answered (Unix seconds; 0: it answers).
    #[serde(default)]
    pub failing_since: i64,
    /// The last error, in plain words.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The last feed, if it was ended automatically at `max_feed`: (feed id, its end).
    #[serde(default)]
    pub ended_untold: Vec<(u64, i64)>,
    /// Refusals not yet told (said once, at the next key press).
    #[serde(default)]
    pub untold: Vec<String>,
}

impl SyncState {
    /// Queues `feed` to be sent (after it was logged, changed or deleted); one entry per feed,
    /// so changes made before it was sent go as one. `start` is the feed's start before the
    /// change, remembered where no link says where the server's copy is.
    pub fn queue(&mut self, feed: u64, start: Option<i64>, now: i64) {
        self.queue_record(Record::Feed, feed, start, now)
    }

    /// [`SyncState::queue`] for a feed or a pumping.
    pub fn queue_record(&mut self, record: Record, feed: u64, start: Option<i64>, now: i64) {
        let linked = self.links.contains_key(&feed);
        match self.outbox.iter_mut().find(|o| o.feed == feed) {
            Some(o) => {
                if let Some(s) = start
                    && !linked
                    && !o.starts.contains(&s)
                {
                    o.starts.push(s);
                }
                // A change may cure a refusal: try again now.
                o.stuck = false;
                o.told = false;
                o.next_try = now;
            }
            None => self.outbox.push(Outgoing {
                feed,
                record,
                starts: start.filter(|_| !linked).into_iter().collect(),
                attempts: 0,
                next_try: now,
                error: None,
                stuck: false,
                told: false,
            }),
        }
    }

    /// The first entry to send at `now`, if any (stuck ones wait for a change).
    pub fn next_to_send(&self, now: i64) -> Option<&Outgoing> {
        self.outbox
            .iter()
            .filter(|o| !o.stuck)
            .find(|o| o.next_try <= now)
    }

    /// When the next entry is due to be tried (stuck ones are not), if any.
    pub fn next_try(&self) -> Option<i64> {
        self.outbox
            .iter()
            .filter(|o| !o.stuck)
            .map(|o| o.next_try)
            .min()
    }

    /// The server's copy of `feed` now matches it: `link` is where it is (`None`: it was
    /// deleted). The entry goes, unless it was queued again meanwhile (`sent` is the entry as
    /// it was sent).
    pub fn sent(&mut self, sent: &Outgoing, link: Option<Link>, now: i64) {
        match link {
            Some(l) => {
                self.links.insert(sent.feed, l);
            }
            None => {
                self.links.remove(&sent.feed);
            }
        }
        if let Some(i) = self.outbox.iter().position(|o| o.feed == sent.feed) {
            if self.outbox[i].next_try == sent.next_try && self.outbox[i].starts == sent.starts {
                self.outbox.remove(i);
            } else {
                // Changed while it was sent: the new state goes next, to the copy just made.
                self.outbox[i].starts.clear();
            }
        }
        self.answered(now);
    }

    /// Sending `sent` failed: retried after a backoff (`retry`), or kept as refused.
    pub fn failed(&mut self, sent: &Outgoing, error: &str, retry: bool, now: i64) {
        if let Some(o) = self.outbox.iter_mut().find(|o| o.feed == sent.feed) {
            o.error = Some(error.to_string());
            if o.next_try == sent.next_try {
                if retry {
                    o.attempts += 1;
                    o.next_try = now + backoff(o.attempts);
                } else {
                    o.stuck = true;
                }
            }
        }
        self.last_error = Some(error.to_string());
        if retry {
            if self.failing_since == 0 {
                self.failing_since = now;
            }
        } else {
            self.answered(now);
        }
    }

    /// The server answered (successfully or with a refusal that is its answer).
    pub fn answered(&mut self, now: i64) {
        self.last_answer = now;
        self.failing_since = 0;
    }

    /// The feedings read at `now` (those that ended in the mirror window): they replace the
    /// mirror, leaving out letdown's own.
    pub fn read(&mut self, feedings: Vec<RemoteFeeding>, now: i64) {
        let own: std::collections::HashSet<u64> = self
            .links
            .values()
            .filter(|l| matches!(l, Link::Feeding(_)))
            .map(|l| l.id())
            .collect();
        let seen: BTreeMap<u64, i64> = self.mirror.iter().map(|m| (m.id, m.seen)).collect();
        self.mirror = feedings
            .into_iter()
            .filter(|f| !own.contains(&f.id))
            .map(|mut f| {
                f.seen = seen.get(&f.id).copied().unwrap_or(now);
                f
            })
            .collect();
        self.mirror.sort_by_key(|f| (f.start, f.id));
        self.last_sync = now;
        self.last_error = None;
        self.answered(now);
    }

    /// Feeds stuck for good, not yet told.
    pub fn untold_stuck(&self) -> usize {
        self.outbox.iter().filter(|o| o.stuck && !o.told).count()
    }
}

/// How long to wait after `attempts` failed tries.
pub fn backoff(attempts: u32) -> i64 {
    let doubled = FIRST_BACKOFF.saturating_mul(1_i64 << attempts.saturating_sub(1).min(20));
    doubled.min(MAX_BACKOFF)
}

/// The feed log the plan and the side are worked out from: letdown's own feeds and the
/// feedings logged elsewhere, oldest first. A mirrored feeding that starts within
/// [`SAME_FEED`] of an own feed is that feed and left out.
pub fn merged(own: &[Feed], mirror: &[RemoteFeeding]) -> Vec<Feed> {
    let mut all = own.to_vec();
    for m in mirror {
        if own.iter().any(|f| (f.at - m.start).abs() <= SAME_FEED) {
            continue;
        }
        all.push(Feed {
            id: 0,
            at: m.start,
            end: Some(m.end),
            side: m.side(),
            note: String::new(),
            logged: m.seen,
        });
    }
    all.sort_by_key(|f| f.at);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(id: u64, at: i64, side: Side) -> Feed {
        Feed {
            id,
            at,
            end: None,
            side,
            note: String::new(),
            logged: at,
        }
    }

    fn remote(id: u64, start: i64, method: &str) -> RemoteFeeding {
        RemoteFeeding {
            id,
            start,
            end: start + 600,
            method: method.into(),
            kind: "breast milk".into(),
            seen: 0,
        }
    }

    #[test]
    fn a_pumping_link_is_not_a_feeding() {
        // Baby Buddy numbers pumpings and feedings apart: pumping 50 is not feeding 50.
        let mut s = SyncState::default();
        s.links.insert(1, Link::Pumping(50));
        s.read(vec![remote(50, 100, "left breast")], 6000);
        assert_eq!(s.mirror.len(), 1);
    }

    #[test]
    fn a_feed_changed_before_it_was_sent_goes_once() {
        let mut s = SyncState::default();
        s.queue(7, Some(100), 1000);
        s.queue(7, Some(160), 1001);
        assert_eq!(s.outbox.len(), 1);
        assert_eq!(s.outbox[0].starts, vec![100, 160]);
        assert_eq!(s.next_to_send(1001).map(|o| o.feed), Some(7));
    }

    #[test]
    fn an_entry_changed_while_in_flight_stays_for_the_change() {
        let mut s = SyncState::default();
        s.queue(7, Some(100), 1000);
        let in_flight = s.outbox[0].clone();
        s.queue(7, Some(100), 1005);
        s.sent(&in_flight, Some(Link::Timer(3)), 1006);
        assert_eq!(
            s.outbox.len(),
            1,
            "the change made meanwhile is still to send"
        );
        assert!(s.outbox[0].starts.is_empty(), "it is linked now");
        let again = s.outbox[0].clone();
        s.sent(&again, Some(Link::Feeding(9)), 1007);
        assert!(s.outbox.is_empty());
        assert_eq!(s.links.get(&7), Some(&Link::Feeding(9)));
    }

    #[test]
    fn failures_back_off_and_refusals_stay_until_the_feed_changes() {
        let mut s = SyncState::default();
        s.queue(1, Some(100), 1000);
        let o = s.outbox[0].clone();
        s.failed(&o, "no answer", true, 1000);
        assert_eq!(s.outbox[0].next_try, 1000 + FIRST_BACKOFF);
        assert_eq!(s.failing_since, 1000);
        assert!(s.next_to_send(1001).is_none());
        let o = s.outbox[0].clone();
        s.failed(&o, "no answer", true, 1010);
        assert_eq!(s.outbox[0].next_try, 1010 + 2 * FIRST_BACKOFF);
        for n in 0..30 {
            let o = s.outbox[0].clone();
            s.failed(&o, "no answer", true, 2000 + n);
        }
        assert_eq!(s.outbox[0].next_try, 2029 + MAX_BACKOFF);
        let o = s.outbox[0].clone();
        s.failed(&o, "overlaps another feeding", false, 3000);
        assert!(s.outbox[0].stuck);
        assert_eq!(s.failing_since, 0, "a refusal is an answer");
        assert_eq!(s.next_try(), None);
        assert_eq!(s.untold_stuck(), 1);
        s.queue(1, None, 4000);
        assert_eq!(s.next_to_send(4000).map(|o| o.feed), Some(1));
    }

    #[test]
    fn the_mirror_leaves_out_own_feeds_and_keeps_when_each_was_first_seen() {
        let mut s = SyncState::default();
        s.links.insert(1, Link::Feeding(50));
        s.read(
            vec![remote(50, 100, "left breast"), remote(51, 5000, "bottle")],
            6000,
        );
        assert_eq!(s.mirror.len(), 1);
        assert_eq!(s.mirror[0].seen, 6000);
        s.read(
            vec![remote(51, 5000, "bottle"), remote(52, 7000, "right breast")],
            8000,
        );
        assert_eq!(s.mirror[0].seen, 6000);
        assert_eq!(s.mirror[1].seen, 8000);
        s.read(vec![], 9000);
        assert!(s.mirror.is_empty(), "deleted on the phone, gone here");
    }

    #[test]
    fn bottle_feeds_count_for_the_plan_but_not_for_the_side() {
        let own = [feed(1, 1000, Side::Left)];
        let all = merged(&own, &[remote(9, 5000, "bottle")]);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].at, 5000);
        assert_eq!(super::super::next_side(&all), Some(Side::Right));
        let all = merged(&own, &[remote(9, 5000, "right breast")]);
        assert_eq!(super::super::next_side(&all), Some(Side::Left));
        // The feed's own copy (its answer lost) is not a second feed.
        assert_eq!(merged(&own, &[remote(9, 1000, "left breast")]).len(), 1);
        // Another feed a minute later is another feed.
        assert_eq!(merged(&own, &[remote(9, 1060, "left breast")]).len(), 2);
    }

    #[test]
    fn methods_and_sides_map_both_ways() {
        for side in [Side::Left, Side::Right, Side::Both] {
            assert_eq!(side_of_method(method_of_side(side).unwrap()), side);
        }
        assert_eq!(method_of_side(Side::Unknown), None);
        assert_eq!(side_of_method("parent fed"), Side::Unknown);
    }
}
