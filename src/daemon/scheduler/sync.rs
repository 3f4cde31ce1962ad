//! The scheduler's link to a Baby Buddy server: which worker is current, which job it gets
//! next, what its results change in the state, and what the user is told. The worker
//! ([`crate::daemon::babybuddy`]) is handed an outbox entry only once it is on disk, one at a
//! time, so an entry is never sent before it would survive a crash.
//!
//! It owns the link's own state; the feed log and outbox it reads and changes are the
//! [`Ledger`]'s, passed in, and so is "now".

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;

use super::ledger::Ledger;
use super::sync_link::SyncLink;
use super::sync_results;
use crate::babybuddy::Settings;
use crate::daemon::babybuddy::Synced;
use crate::daemon::error::CoachError;
use crate::daemon::request::{Answer, reply};
use crate::schedule::State;
use crate::schedule::sync::Record;

/// The Baby Buddy sync, when a server is configured; idle (no thread) when none is.
pub(super) struct BabyBuddySync {
    link: Option<SyncLink>,
    /// Which worker is the current one.
    generation: u64,
    /// Where workers send their results, and the coach's end of it (until it takes it).
    tx: mpsc::UnboundedSender<Synced>,
    rx: Option<mpsc::UnboundedReceiver<Synced>>,
}

impl BabyBuddySync {
    /// No server yet: [`BabyBuddySync::configure`] connects one.
    pub(super) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            link: None,
            generation: 0,
            tx,
            rx: Some(rx),
        }
    }

    /// Follows the config's `[babybuddy]`: a new worker when it changed (the old one's
    /// results are dropped), none when it went.
    pub(super) fn configure(&mut self, settings: Option<&Settings>) {
        if self.link.as_ref().map(|l| &l.settings) == settings {
            return;
        }
        if let Some(old) = self.link.take() {
            old.settings_changed();
        }
        let Some(settings) = settings else {
            return;
        };
        self.generation += 1;
        let link = SyncLink::connect(settings.clone(), self.generation, self.tx.clone());
        self.link = Some(link);
    }

    /// The current worker's number (its results carry it).
    #[cfg(test)]
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The results of the Baby Buddy worker, for the coach's loop (taken once).
    pub(super) fn results(&mut self) -> Option<mpsc::UnboundedReceiver<Synced>> {
        self.rx.take()
    }

    /// Whether a Baby Buddy server is configured.
    pub(super) fn connected(&self) -> bool {
        self.link.is_some()
    }

    /// The longest a feed runs before it is ended, when a server is configured.
    pub(super) fn max_feed(&self) -> Option<std::time::Duration> {
        self.link.as_ref().map(|l| l.settings.max_feed)
    }

    /// Queues a feed or pumping to be sent, in the change being made. Records logged before
    /// the server was connected are not sent when they change.
    pub(super) fn queue(
        &self,
        ledger: &mut Ledger,
        now: Timestamp,
        record: Record,
        id: u64,
        old_start: Option<i64>,
        new: bool,
    ) {
        if self.link.is_none() {
            return;
        }
        let b = &ledger.state().babybuddy;
        let known = new || b.links.contains_key(&id) || b.outbox.iter().any(|o| o.feed == id);
        if known {
            let secs = now.as_second();
            ledger.change(now, |s| {
                s.babybuddy.queue_record(record, id, old_start, secs)
            });
        }
    }

    /// Gives the worker its next job when the state is on disk: the first entry due, and a
    /// read when one was asked for or `sync_every` has passed.
    pub(super) fn pump(&mut self, ledger: &Ledger, now: Timestamp) {
        if ledger.writing() || ledger.staged() {
            return;
        }
        if let Some(link) = self.link.as_mut() {
            link.give_next(ledger.state(), now.as_second());
        }
    }

    /// When the sync next needs the coach: an entry's retry, the next periodic read, or a
    /// running feed's `max_feed` limit.
    pub(super) fn wake(&self, state: &State, now: Timestamp) -> Option<Timestamp> {
        let link = self.link.as_ref()?;
        let read = link.next_read();
        let retry = if link.sending.is_none() {
            state.babybuddy.next_try()
        } else {
            None
        };
        let limit = super::running_feed::limit(state, self.max_feed());
        // Never in the past: what is due now may wait for a write in flight, and the coach
        // must not spin meanwhile.
        let soonest = now.as_second() + 1;
        [Some(read), retry, limit]
            .into_iter()
            .flatten()
            .min()
            .map(|s| s.max(soonest))
            .and_then(|s| Timestamp::from_second(s).ok())
    }

    /// Asks for a read if the last one is older than [`crate::babybuddy::FRESH_FOR`] and none
    /// is under way; true if one was asked for (then [`BabyBuddySync::pump`] gives it).
    pub(super) fn ask_read_if_stale(&mut self, state: &State, now: Timestamp) -> bool {
        let stale = state.babybuddy.last_sync
            < now.as_second() - crate::babybuddy::FRESH_FOR.as_secs() as i64;
        match self.link.as_mut() {
            Some(link) if stale && !link.reading => {
                link.read_asked = true;
                true
            }
            _ => false,
        }
    }

    /// `letdown babybuddy sync`: sends what waits now (backoffs cut short) and reads; answered
    /// when the read is done.
    pub(super) fn sync_now(&mut self, ledger: &mut Ledger, now: Timestamp, answer: Answer<()>) {
        let Some(link) = self.link.as_mut() else {
            return reply(answer, Err(not_connected()));
        };
        link.read_asked = true;
        link.waiters.push(answer);
        let secs = now.as_second();
        let backing_off = |o: &crate::schedule::sync::Outgoing| !o.stuck && o.next_try > secs;
        if ledger.state().babybuddy.outbox.iter().any(backing_off) {
            ledger.change(now, |s| {
                for o in s.babybuddy.outbox.iter_mut().filter(|o| !o.stuck) {
                    o.next_try = secs;
                }
            });
        }
    }

    /// What the worker did, applied to the state (staged in `ledger`, not flushed). Results
    /// of a worker since replaced are dropped.
    pub(super) fn synced(
        &mut self,
        done: Synced,
        ledger: &mut Ledger,
        now: Timestamp,
        tz: &TimeZone,
    ) {
        let generation = match &done {
            Synced::Sent { generation, .. } | Synced::Read { generation, .. } => *generation,
        };
        let Some(link) = self.link.as_mut().filter(|_| generation == self.generation) else {
            return;
        };
        match done {
            Synced::Sent { entry, result, .. } => {
                link.sending = None;
                sync_results::sent(ledger, &entry, result, now, tz);
            }
            Synced::Read { result, .. } => {
                link.reading = false;
                let answer = sync_results::read(ledger, result, now);
                for w in std::mem::take(&mut link.waiters) {
                    ledger.answer(w, answer.clone());
                }
            }
        }
    }

    /// The `sync_*` keys of `Summary` (but `sync_trouble`), and what `where` says when
    /// something is wrong ([`sync_status::status`]); nothing without a server.
    pub(super) fn summary(
        &self,
        state: &State,
        now: Timestamp,
        tz: &TimeZone,
    ) -> (BTreeMap<String, String>, Option<String>) {
        match self.link.as_ref() {
            Some(link) => super::sync_status::status(&link.settings, state, now, tz),
            None => (BTreeMap::new(), None),
        }
    }
}

fn not_connected() -> CoachError {
    CoachError::NotFound(
        "no Baby Buddy server is connected; `letdown babybuddy connect URL --token-file PATH` connects one"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_server_nothing_is_queued_said_or_woken_for() {
        let sync = BabyBuddySync::new();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut state = State::default();
        state.babybuddy.failing_since = now.as_second() - 7200;
        let (map, trouble) = sync.summary(&state, now, &TimeZone::UTC);
        assert!(map.is_empty() && trouble.is_none());
        assert!(sync.wake(&state, now).is_none());
        assert!(!sync.connected() && sync.max_feed().is_none());
    }
}
