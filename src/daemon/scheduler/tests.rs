//! The scheduler on a wall clock the test sets: heads-ups and sessions at their times, a
//! suspend-like jump that turns a session into a missed one, and a DST day. The clock comes
//! in from outside (`with_clock`), so none of this waits for real time.

use std::sync::{Arc, Mutex};

use jiff::civil::DateTime;
use tokio::sync::oneshot;

use super::*;
use crate::schedule::Side;

/// A wall clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<Mutex<Timestamp>>);

impl TestClock {
    fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
}

/// `local` (e.g. "2026-06-01T10:00") in `tz`, as an instant.
fn at(local: &str, tz: &TimeZone) -> Timestamp {
    local
        .parse::<DateTime>()
        .unwrap()
        .to_zoned_datetime(tz.clone())
        .unwrap()
        .timestamp()
}

struct Fixture {
    s: Scheduler,
    written: WriteResults,
    clock: TestClock,
    tz: TimeZone,
    _dir: tempfile::TempDir,
}

fn fixture(config: &str, zone: &str, start: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::parse(std::path::Path::new("config.toml"), config).unwrap();
    let tz = TimeZone::get(zone).unwrap();
    let clock = TestClock(Arc::new(Mutex::new(at(start, &tz))));
    let read = clock.clone();
    let (store, loaded) = Store::open(dir.path());
    let (s, written) = Scheduler::with_clock(
        &cfg,
        store,
        loaded.state,
        Arc::new(move || *read.0.lock().unwrap()),
        tz.clone(),
    );
    Fixture {
        s,
        written,
        clock,
        tz,
        _dir: dir,
    }
}

impl Fixture {
    /// Waits for the change in flight to be on disk; returns the sessions it starts.
    async fn settle(&mut self) -> Vec<Occurrence> {
        let result = tokio::time::timeout(Duration::from_secs(10), self.written.recv())
            .await
            .expect("never written")
            .expect("the store's thread is gone");
        self.s.written(result)
    }

    /// Schedules `when` and returns its id once written.
    async fn schedule(&mut self, when: &str) -> u64 {
        let (tx, mut rx) = oneshot::channel();
        let changed = self.s.handle(
            ScheduleRequest::Add {
                when: when.into(),
                routine: "r".into(),
                answer: tx,
            },
            |_| Ok(()),
            |_| None,
            "r",
        );
        assert!(changed);
        self.settle().await;
        rx.try_recv().unwrap().unwrap()
    }

    fn local(&self, t: Timestamp) -> String {
        t.to_zoned_datetime(self.tz.clone())
            .strftime("%H:%M")
            .to_string()
    }
}

/// The heads-up comes when the clock reaches the session minus its lead, once; the session
/// when the clock reaches it, and only once its record is on disk.
#[tokio::test]
async fn a_heads_up_then_the_session_each_when_the_clock_says() {
    let mut f = fixture(
        "[schedule]\nheads_up = \"2m\"\n",
        "Europe/Berlin",
        "2026-06-01T10:00",
    );
    f.schedule("in 10m").await;
    let wake = f.s.next_wake().expect("a wake-up is planned");
    assert_eq!(f.local(wake), "10:08", "woken for the heads-up");
    f.clock.set(at("2026-06-01T10:07:59", &f.tz));
    assert_eq!(f.s.due(false), None, "no heads-up a second early");
    f.clock.set(wake);
    assert_eq!(f.s.due(false), Some(2), "the heads-up, two minutes ahead");
    assert_eq!(f.s.due(false), None, "a heads-up is given once");
    assert_eq!(f.local(f.s.next_wake().unwrap()), "10:10");
    f.clock.set(at("2026-06-01T10:10", &f.tz));
    f.s.due(false);
    assert!(
        f.s.writing(),
        "the firing is recorded before the session starts"
    );
    let run = f.settle().await;
    assert_eq!(
        run.len(),
        1,
        "the session starts once its record is on disk"
    );
    assert_eq!(f.local(run[0].at), "10:10");
    f.s.due(false);
    assert!(
        !f.s.writing() && f.s.next_wake().is_none(),
        "and never again"
    );
}

/// The machine sleeps through a session (the wall clock jumps three hours): it is recorded as
/// missed and told once, not started late.
#[tokio::test]
async fn a_session_slept_through_is_missed_and_told_not_started() {
    let mut f = fixture("", "Europe/Berlin", "2026-06-01T10:00");
    f.schedule("in 10m").await;
    f.clock.set(at("2026-06-01T13:00", &f.tz));
    f.s.due(false);
    let run = f.settle().await;
    assert!(run.is_empty(), "a session 2 h 50 min late was started");
    let told = f.s.take_untold();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("10:10") && told[0].contains("missed"),
        "{told:?}"
    );
    f.settle().await;
    assert!(f.s.take_untold().is_empty(), "told twice");
}

/// Within the grace period after a short jump, the session still starts.
#[tokio::test]
async fn a_session_a_few_minutes_late_still_starts() {
    let mut f = fixture(
        "[schedule]\ngrace = \"10m\"\n",
        "Europe/Berlin",
        "2026-06-01T10:00",
    );
    f.schedule("in 10m").await;
    f.clock.set(at("2026-06-01T10:15", &f.tz));
    f.s.due(false);
    assert_eq!(f.settle().await.len(), 1);
}

/// On the day clocks go forward, a daily 02:30 (a time that does not exist that night) runs
/// just after the gap, at 03:30; the next day at 02:30 again.
#[tokio::test]
async fn a_daily_time_in_the_skipped_hour_runs_after_the_gap() {
    let mut f = fixture("", "Europe/Berlin", "2026-03-28T12:00");
    f.schedule("daily 02:30").await;
    let next = f.s.next_occurrence().unwrap();
    assert_eq!(next.at, at("2026-03-29T03:30", &f.tz));
    f.clock.set(next.at);
    f.s.due(false);
    assert_eq!(f.settle().await.len(), 1);
    let after = f.s.next_occurrence().unwrap();
    assert_eq!(after.at, at("2026-03-30T02:30", &f.tz));
    assert_eq!(
        after.at.as_second() - next.at.as_second(),
        23 * 3600,
        "23 hours later"
    );
}

// The Baby Buddy sync, scheduler side: what each feed change queues (in the same write), what
// the worker's results change, and the running feed. The worker's results are made here; the
// worker itself talks to a port where nothing listens.

const BABY_BUDDY: &str = "[babybuddy]\nurl = \"http://127.0.0.1:9\"\ntoken_file = \"/nonexistent/token\"\nchild = 1\nmax_feed = \"1h\"\n[feed_plan]\ninterval = \"3h\"\nlead = \"10m\"\n";

impl Fixture {
    /// Answers a schedule request and waits for its change to be on disk.
    async fn ask<T: std::fmt::Debug>(
        &mut self,
        make: impl FnOnce(Answer<T>) -> ScheduleRequest,
    ) -> Result<T, CoachError> {
        let (tx, mut rx) = oneshot::channel();
        if self.s.handle(make(tx), |_| Ok(()), |_| None, "r") {
            self.settle().await;
        }
        rx.try_recv().expect("answered")
    }

    async fn fed(&mut self, side: &str, end: Option<i64>) -> Result<u64, CoachError> {
        let start = self.s.now().as_second();
        self.ask(|answer| ScheduleRequest::LogFeed {
            start,
            end,
            side: side.into(),
            note: String::new(),
            answer,
        })
        .await
    }

    /// What the store holds now (read again from the file).
    fn on_disk(&self) -> State {
        Store::open(self._dir.path()).1.state
    }

    /// The worker's result for the entry of `feed`, as it is now.
    fn sent(&self, feed: u64, link: Option<Link>) -> Synced {
        let entry = self
            .s
            .state()
            .babybuddy
            .outbox
            .iter()
            .find(|o| o.feed == feed)
            .expect("an entry")
            .clone();
        Synced::Sent {
            generation: self.s.sync.generation(),
            entry,
            result: Ok(link),
        }
    }
}

use crate::daemon::babybuddy::Synced;
use crate::daemon::request::Answer;
use crate::schedule::sync::{Link, RemoteFeeding};

#[tokio::test]
async fn a_feed_and_its_outbox_entry_are_written_together_and_the_next_feed_ends_it() {
    let mut f = fixture(BABY_BUDDY, "Europe/Berlin", "2026-06-01T10:00");
    let first = f.fed("left", None).await.unwrap();
    let disk = f.on_disk();
    assert_eq!(disk.feeds[0].end, None, "it runs");
    assert_eq!(disk.babybuddy.outbox.len(), 1, "queued in the same write");
    assert_eq!(disk.babybuddy.outbox[0].feed, first);
    f.clock.set(at("2026-06-01T10:20", &f.tz));
    let second = f.fed("right", None).await.unwrap();
    let disk = f.on_disk();
    assert_eq!(
        disk.feeds[0].end,
        Some(at("2026-06-01T10:20", &f.tz).as_second()),
        "the next feed ended it"
    );
    let queued: Vec<u64> = disk.babybuddy.outbox.iter().map(|o| o.feed).collect();
    assert_eq!(queued, vec![first, second], "one entry per feed");
    // Ended by key.
    f.clock.set(at("2026-06-01T10:35", &f.tz));
    let (id, _, end) = f.ask(ScheduleRequest::EndFeed).await.unwrap();
    assert_eq!(
        (id, end),
        (second, at("2026-06-01T10:35", &f.tz).as_second())
    );
    let none = f.ask(ScheduleRequest::EndFeed).await.unwrap_err();
    assert!(matches!(none, CoachError::NotFound(_)), "{none:?}");
    // No side: Baby Buddy needs one, and nothing is invented.
    let e = f.fed("", None).await.unwrap_err();
    assert!(matches!(e, CoachError::InvalidArgument(_)), "{e:?}");
}

#[tokio::test]
async fn results_link_feeds_and_a_refusal_is_kept_and_told_once() {
    let mut f = fixture(BABY_BUDDY, "Europe/Berlin", "2026-06-01T10:00");
    let id = f
        .fed("left", Some(at("2026-06-01T10:00", &f.tz).as_second() + 60))
        .await;
    let id = id.unwrap_or_else(|e| panic!("{e:?}"));
    // (a feed that ends in the future is refused; this one ends a minute on: 5 min leeway)
    let done = f.sent(id, Some(Link::Feeding(42)));
    f.s.synced(done);
    f.settle().await;
    let disk = f.on_disk();
    assert!(disk.babybuddy.outbox.is_empty());
    assert_eq!(disk.babybuddy.links.get(&id), Some(&Link::Feeding(42)));
    // A correction goes out again; the server refuses it for good.
    let start = at("2026-06-01T09:50", &f.tz).as_second();
    f.ask(|a| ScheduleRequest::CorrectFeed {
        id,
        start,
        side: String::new(),
        answer: a,
    })
    .await
    .unwrap();
    let Synced::Sent {
        generation, entry, ..
    } = f.sent(id, None)
    else {
        unreachable!()
    };
    f.s.synced(Synced::Sent {
        generation,
        entry,
        result: Err(crate::babybuddy::api::ApiError::Refused(
            "it overlaps".into(),
        )),
    });
    f.settle().await;
    let disk = f.on_disk();
    assert!(disk.babybuddy.outbox[0].stuck, "kept, not retried");
    assert_eq!(
        f.s.summary_map().get("sync_stuck").map(String::as_str),
        Some("1")
    );
    let told = f.ask(ScheduleRequest::TakeNotices).await.unwrap();
    assert!(
        told.iter().any(|t| t.contains("refused the feed at 09:50")),
        "{told:?}"
    );
    assert!(
        f.ask(ScheduleRequest::TakeNotices)
            .await
            .unwrap()
            .is_empty(),
        "told twice"
    );
    // A worker since replaced: its results are dropped.
    let Synced::Sent { entry, .. } = f.sent(id, None) else {
        unreachable!()
    };
    f.s.synced(Synced::Sent {
        generation: f.s.sync.generation() + 1,
        entry,
        result: Ok(Some(Link::Feeding(7))),
    });
    assert!(!f.s.writing(), "an old worker's result changed the state");
}

#[tokio::test]
async fn feedings_logged_on_the_phone_move_the_side_and_the_plan() {
    let mut f = fixture(BABY_BUDDY, "Europe/Berlin", "2026-06-01T10:00");
    f.fed("left", None).await.unwrap();
    assert_eq!(f.s.summary().next_side, Some(Side::Right));
    let due = f.s.summary().next_feed_due.unwrap();
    assert_eq!(f.local(due), "13:00");
    f.clock.set(at("2026-06-01T11:00", &f.tz));
    let tz = f.tz.clone();
    let phone = |id: u64, start: &str, method: &str| RemoteFeeding {
        id,
        start: at(start, &tz).as_second(),
        end: at(start, &tz).as_second() + 900,
        method: method.into(),
        kind: "breast milk".into(),
        seen: 0,
    };
    let read = vec![phone(5, "2026-06-01T10:30", "right breast")];
    f.s.synced(Synced::Read {
        generation: f.s.sync.generation(),
        result: Ok(read),
    });
    f.settle().await;
    assert_eq!(
        f.s.summary().next_side,
        Some(Side::Left),
        "the phone's right feed"
    );
    assert_eq!(f.local(f.s.summary().next_feed_due.unwrap()), "13:30");
    // A bottle after it: a feed for the plan, not for the side.
    let read = vec![
        phone(5, "2026-06-01T10:30", "right breast"),
        phone(6, "2026-06-01T10:50", "bottle"),
    ];
    f.s.synced(Synced::Read {
        generation: f.s.sync.generation(),
        result: Ok(read),
    });
    f.settle().await;
    assert_eq!(f.s.summary().next_side, Some(Side::Left));
    assert_eq!(f.local(f.s.summary().next_feed_due.unwrap()), "13:50");
    // Deleted on the phone: back to letdown's own.
    f.s.synced(Synced::Read {
        generation: f.s.sync.generation(),
        result: Ok(vec![]),
    });
    f.settle().await;
    assert_eq!(f.s.summary().next_side, Some(Side::Right));
    assert_eq!(f.local(f.s.summary().next_feed_due.unwrap()), "13:00");
}

#[tokio::test]
async fn a_feed_never_ended_ends_at_max_feed_and_where_says_so() {
    let mut f = fixture(BABY_BUDDY, "Europe/Berlin", "2026-06-01T10:00");
    let id = f.fed("left", None).await.unwrap();
    let wake = f.s.next_wake().unwrap();
    assert!(
        wake <= at("2026-06-01T11:00", &f.tz),
        "woken by max_feed at the latest"
    );
    f.clock.set(at("2026-06-01T11:30", &f.tz));
    f.s.due(false);
    f.settle().await;
    let disk = f.on_disk();
    assert_eq!(
        disk.feeds[0].end,
        Some(at("2026-06-01T11:00", &f.tz).as_second())
    );
    assert!(disk.babybuddy.outbox.iter().any(|o| o.feed == id));
    let trouble = f.s.summary().trouble.unwrap_or_default();
    assert!(
        trouble.contains("ended at 11:00, the 1h limit"),
        "{trouble}"
    );
}

#[tokio::test]
async fn feeds_logged_before_connecting_are_not_sent_when_they_change() {
    let mut f = fixture("", "Europe/Berlin", "2026-06-01T10:00");
    let id = f
        .fed("left", Some(at("2026-06-01T10:00", &f.tz).as_second() + 1))
        .await
        .unwrap();
    let cfg = Config::parse(std::path::Path::new("config.toml"), BABY_BUDDY).unwrap();
    f.s.configure(&cfg);
    f.ask(|a| ScheduleRequest::DeleteFeed(id, a)).await.unwrap();
    assert!(f.on_disk().babybuddy.outbox.is_empty());
}

#[tokio::test]
async fn a_sent_feed_deleted_here_is_deleted_there() {
    let mut f = fixture(BABY_BUDDY, "Europe/Berlin", "2026-06-01T10:00");
    let end = at("2026-06-01T10:00", &f.tz).as_second() + 60;
    let id = f.fed("left", Some(end)).await.unwrap();
    let done = f.sent(id, Some(Link::Feeding(42)));
    f.s.synced(done);
    f.settle().await;
    assert!(f.on_disk().babybuddy.outbox.is_empty());
    f.ask(|a| ScheduleRequest::DeleteFeed(id, a)).await.unwrap();
    let disk = f.on_disk();
    assert!(disk.feeds.is_empty());
    assert_eq!(
        disk.babybuddy.outbox.len(),
        1,
        "the deletion waits to be sent"
    );
    assert_eq!(
        disk.babybuddy.links.get(&id),
        Some(&Link::Feeding(42)),
        "and it still knows what to delete there"
    );
}
