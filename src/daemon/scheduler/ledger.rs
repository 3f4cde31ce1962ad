//! The scheduler's state and its way to disk: a change is applied in memory and staged, sent to
//! the store's thread ([`Writer`]) as one write, and what waits for it (the request's answer,
//! the scheduled sessions it recorded) happens only once it is written. One change is in flight
//! at a time; a failed write puts back what the disk holds.
//!
//! It knows nothing of feeds, plans or Baby Buddy: it is the transaction, not its content.

use jiff::Timestamp;

use crate::daemon::error::CoachError;
use crate::daemon::request::{Answer, reply};
use crate::daemon::writer::{WriteResult, WriteResults, Writer};
use crate::schedule::store::Store;
use crate::schedule::{Occurrence, State};

/// How long to wait before recording what is due again, after writing it failed.
pub(super) const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Answers a request with the result of writing its change.
type WrittenReply = Box<dyn FnOnce(Result<(), CoachError>) + Send + Sync>;

/// What waits for a change to be on disk.
#[derive(Default)]
struct Staged {
    /// Answers the request that made the change (with its value, or the write's error).
    reply: Option<WrittenReply>,
    /// Scheduled sessions recorded as fired by the change, to start once it is written.
    run: Vec<Occurrence>,
}

/// The state (what the disk holds, plus the change in flight) and the writes that keep the
/// disk level with it.
pub(super) struct Ledger {
    writer: Writer,
    state: State,
    /// A change made while handling the current request or check, not yet sent to disk.
    staged: Option<Staged>,
    /// The change being written.
    in_flight: Option<Staged>,
    /// After a failed write, no check for what is due before this.
    retry_at: Option<Timestamp>,
}

impl Ledger {
    /// A ledger over an open `store` holding `state`; write results come out of the receiver.
    pub(super) fn new(store: Store, state: State) -> (Self, WriteResults) {
        let (writer, results) = Writer::spawn(store);
        let ledger = Self {
            writer,
            state,
            staged: None,
            in_flight: None,
            retry_at: None,
        };
        (ledger, results)
    }

    /// The state as it is in memory (the change being made included).
    pub(super) fn state(&self) -> &State {
        &self.state
    }

    /// Applies a change in memory and stages it: [`Ledger::flush`] sends it to disk. Entries
    /// older than two days before `now` are pruned with it.
    pub(super) fn change<T>(&mut self, now: Timestamp, f: impl FnOnce(&mut State) -> T) -> T {
        self.staged.get_or_insert_with(Staged::default);
        let out = f(&mut self.state);
        self.state.prune(now);
        out
    }

    /// Whether a change is staged and not yet sent.
    pub(super) fn staged(&self) -> bool {
        self.staged.is_some()
    }

    /// Starts `o` once the staged change (which recorded it) is written.
    pub(super) fn run_when_written(&mut self, o: Occurrence) {
        self.staged.get_or_insert_with(Staged::default).run.push(o);
    }

    /// Answers `answer` now, or, if a change is staged, once it is written.
    pub(super) fn answer<T: Send + Sync + 'static>(
        &mut self,
        answer: Answer<T>,
        result: Result<T, CoachError>,
    ) {
        match (result, self.staged.as_mut()) {
            (Ok(value), Some(staged)) => {
                staged.reply = Some(Box::new(move |written| {
                    reply(answer, written.map(|()| value))
                }))
            }
            (result, _) => reply(answer, result),
        }
    }

    /// Sends the staged change to disk. True if there was one (the state changed).
    pub(super) fn flush(&mut self) -> bool {
        let Some(staged) = self.staged.take() else {
            return false;
        };
        self.writer.write(self.state.clone());
        self.in_flight = Some(staged);
        true
    }

    /// Whether a change is being written.
    pub(super) fn writing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether checks for what is due wait at `now` (a write in flight, or a retry after a
    /// failed one not yet due).
    pub(super) fn holding(&self, now: Timestamp) -> bool {
        self.writing() || self.retry_at.is_some_and(|r| now < r)
    }

    /// When checks for what is due may go on after a failed write.
    pub(super) fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// A write finished: answers the request that made it and returns the scheduled sessions
    /// it recorded, to start now. If it failed, the state goes back to what the disk holds and
    /// nothing is started.
    pub(super) fn written(&mut self, result: WriteResult, now: Timestamp) -> Vec<Occurrence> {
        let Some(staged) = self.in_flight.take() else {
            log::error!("a write finished that was never started");
            return Vec::new();
        };
        let result = match result {
            Ok(()) => {
                self.retry_at = None;
                Ok(())
            }
            Err((e, on_disk)) => {
                log::error!("cannot save a change: {e}");
                self.state = on_disk;
                self.retry_at = Some(now + RETRY_AFTER);
                for o in &staged.run {
                    log::error!(
                        "cannot record scheduled session {}, so it does not run now",
                        o.id()
                    );
                }
                Err(CoachError::StorageFailed(format!(
                    "{e}; nothing was changed"
                )))
            }
        };
        let ok = result.is_ok();
        if let Some(answer) = staged.reply {
            answer(result);
        }
        if ok { staged.run } else { Vec::new() }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::schedule::store::Store;

    /// A ledger over a fresh store in a temporary folder (kept while the folder lives), for
    /// the tests of the scheduler's parts.
    pub(in crate::daemon::scheduler) fn ledger() -> (tempfile::TempDir, Ledger, WriteResults) {
        let dir = tempfile::tempdir().unwrap();
        let (store, loaded) = Store::open(dir.path());
        let (ledger, results) = Ledger::new(store, loaded.state);
        (dir, ledger, results)
    }

    #[tokio::test]
    async fn an_answer_waits_for_its_change_to_be_written() {
        let (_dir, mut l, mut results) = ledger();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        l.change(now, |s| s.missed_untold.push("x".into()));
        l.answer(tx, Ok(7u32));
        assert!(
            rx.try_recv().is_err(),
            "answered before the change was sent"
        );
        assert!(l.flush() && l.writing() && !l.staged());
        assert!(
            rx.try_recv().is_err(),
            "answered before the change was written"
        );
        let done = results.recv().await.unwrap();
        assert!(l.written(done, now).is_empty());
        assert_eq!(rx.await.unwrap().unwrap(), 7);
        assert!(!l.writing() && !l.holding(now));
    }

    #[tokio::test]
    async fn an_answer_with_nothing_staged_is_given_at_once() {
        let (_dir, mut l, _results) = ledger();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        l.answer(tx, Ok(1u32));
        assert_eq!(rx.try_recv().unwrap().unwrap(), 1);
        assert!(!l.flush(), "nothing was staged, yet something was written");
    }

    #[tokio::test]
    async fn a_failed_write_puts_back_the_disk_and_starts_nothing() {
        let (_dir, mut l, _results) = ledger();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let on_disk = l.state().clone();
        l.change(now, |s| s.missed_untold.push("lost".into()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        l.answer(tx, Ok(()));
        l.flush();
        let run = l.written(Err(("disk full".into(), on_disk.clone())), now);
        assert!(run.is_empty());
        assert_eq!(l.state(), &on_disk, "the change stayed in memory");
        assert!(matches!(
            rx.await.unwrap(),
            Err(CoachError::StorageFailed(_))
        ));
        assert!(l.holding(now) && !l.holding(now + RETRY_AFTER));
    }
}
