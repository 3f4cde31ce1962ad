//! The scheduler on a wall clock the test sets: heads-ups and sessions at their times, a
//! suspend-like jump that turns a session into a missed one, and a DST day. The clock comes
//! in from outside (`with_clock`), so none of this waits for real time.

use std::sync::{Arc, Mutex};

use jiff::civil::DateTime;
use tokio::sync::oneshot;

use super::*;

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
