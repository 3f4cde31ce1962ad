//! The coach's side of scheduling: the scheduler, with the results of its writes and of its
//! Baby Buddy worker, and what waits while a change is being written (one change is in flight
//! at a time, so schedule requests and sync results that come meanwhile are held, in order).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::daemon::babybuddy::Synced;
use crate::daemon::error::CoachError;
use crate::daemon::preparer::Preparer;
use crate::daemon::request::ScheduleRequest;
use crate::daemon::routines::Routines;
use crate::daemon::scheduler::Scheduler;
use crate::daemon::writer::{WriteResult, WriteResults};
use crate::schedule::{FeedPlan, Occurrence};

/// What a schedule request is checked against: the routines it may name, and what is
/// prepared (a feed plan's lead against its routine's length).
pub(super) struct Checks<'a> {
    /// The routines, as read.
    pub routines: &'a Routines,
    /// What is prepared.
    pub preparer: &'a Preparer,
    /// What "" starts.
    pub default_routine: &'a str,
}

impl Checks<'_> {
    fn exists(&self, name: &str) -> Result<(), CoachError> {
        self.routines
            .find(name)
            .map(|_| ())
            .map_err(|e| CoachError::UnknownRoutine(e.to_string()))
    }
}

/// Says so when a feed plan's lead is shorter than its routine (as last prepared).
fn lead_warning(plan: &FeedPlan, checks: &Checks) -> Option<String> {
    let name = if plan.routine.is_empty() {
        checks.default_routine
    } else {
        &plan.routine
    };
    let total = checks.preparer.last_prepared(name)?.plan.total();
    let lead = Duration::from_secs(plan.lead);
    (lead < total).then(|| {
        format!(
            "the lead ({}) is shorter than \"{name}\" ({}): the session will still be running when the feed is due",
            crate::duration::show(lead),
            crate::duration::show(total)
        )
    })
}

/// What came back from beside the coach.
pub(super) enum Happened {
    /// A change was written (or not; then it holds what the disk has, so it is boxed).
    Written(Box<WriteResult>),
    /// The Baby Buddy worker finished a job.
    Synced(Synced),
    /// The system's time zone changed.
    ZoneChanged,
}

/// What a written change means for the coach.
pub(super) struct Written {
    /// Scheduled sessions it recorded as fired: start them now.
    pub run: Vec<Occurrence>,
    /// It could not be written (the state is back to what the disk holds).
    pub failed: bool,
    /// A request held meanwhile changed the state again.
    pub changed: bool,
}

/// The scheduler and what waits for its writes.
pub(super) struct Agenda {
    /// Feeds, schedules and the feed plan.
    pub scheduler: Scheduler,
    written: WriteResults,
    synced: mpsc::UnboundedReceiver<Synced>,
    held: VecDeque<ScheduleRequest>,
    held_synced: VecDeque<Synced>,
    /// Where the login start's marker is kept (it follows whether sessions are ahead).
    data_dir: PathBuf,
}

impl Agenda {
    /// Around `scheduler`, whose writes come back on `written`; letdownd starts at login
    /// while sessions are ahead (its marker kept in `data_dir`).
    pub fn new(mut scheduler: Scheduler, written: WriteResults, data_dir: PathBuf) -> Self {
        crate::daemon::login_start::ensure(&data_dir, || scheduler.has_sessions_ahead());
        let synced = scheduler
            .sync_results()
            .expect("a new scheduler's results are not taken yet");
        Self {
            scheduler,
            written,
            synced,
            held: VecDeque::new(),
            held_synced: VecDeque::new(),
            data_dir,
        }
    }

    /// The next write or sync result, or a new time zone.
    pub async fn next(&mut self) -> Happened {
        tokio::select! {
            Some(w) = self.written.recv() => Happened::Written(Box::new(w)),
            Some(s) = self.synced.recv() => Happened::Synced(s),
            _ = self.scheduler.zone_changed() => Happened::ZoneChanged,
        }
    }

    /// Handles `request` now, or holds it until the change being written is on disk. True when
    /// it changed the state (what is ahead may have changed).
    pub fn request(&mut self, request: ScheduleRequest, checks: &Checks) -> bool {
        if self.scheduler.writing() {
            self.held.push_back(request);
            return false;
        }
        self.scheduler.handle(
            request,
            |name| checks.exists(name),
            |plan| lead_warning(plan, checks),
            checks.default_routine,
        )
    }

    /// A change is on disk (or could not be written): what it recorded to run, and then what
    /// was held for it is handled.
    pub fn on_written(&mut self, result: WriteResult, checks: &Checks) -> Written {
        let failed = result.is_err();
        let run = self.scheduler.written(result);
        if !failed {
            let s = &self.scheduler;
            crate::daemon::login_start::ensure(&self.data_dir, || s.has_sessions_ahead());
        }
        let mut changed = false;
        while !self.scheduler.writing()
            && let Some(r) = self.held.pop_front()
        {
            changed |= self.request(r, checks);
        }
        while !self.scheduler.writing()
            && let Some(s) = self.held_synced.pop_front()
        {
            self.scheduler.synced(s);
        }
        Written {
            run,
            failed,
            changed,
        }
    }

    /// The Baby Buddy worker finished a job: its result is written like any change, after
    /// the one in flight.
    pub fn on_synced(&mut self, done: Synced) {
        if self.scheduler.writing() {
            self.held_synced.push_back(done);
        } else {
            self.scheduler.synced(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use tokio::sync::oneshot;

    fn log_feed(start: i64) -> (ScheduleRequest, oneshot::Receiver<Result<u64, CoachError>>) {
        let (answer, rx) = oneshot::channel();
        let r = ScheduleRequest::LogFeed {
            start,
            end: None,
            side: "left".into(),
            note: String::new(),
            answer,
        };
        (r, rx)
    }

    async fn written(a: &mut Agenda) -> WriteResult {
        loop {
            let h = tokio::time::timeout(Duration::from_secs(10), a.next())
                .await
                .expect("never written");
            if let Happened::Written(w) = h {
                return *w;
            }
        }
    }

    /// A request that comes while a change is being written waits for it, then is handled:
    /// one change in flight at a time, nothing lost, in order.
    #[tokio::test]
    async fn a_request_during_a_write_is_held_and_handled_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::paths::Paths::under(dir.path());
        let cfg = Config::default();
        let (scheduler, results) = Scheduler::new(&cfg, &paths.data_dir);
        let mut a = Agenda::new(scheduler, results, paths.data_dir.clone());
        let (routines, preparer) = (Routines::new(paths.clone()), Preparer::new(cfg, paths));
        let checks = Checks {
            routines: &routines,
            preparer: &preparer,
            default_routine: "lactation-massage",
        };
        let now = jiff::Timestamp::now().as_second();
        let (first, mut first_rx) = log_feed(now - 600);
        let (second, mut second_rx) = log_feed(now - 60);
        assert!(a.request(first, &checks), "the first feed changed nothing");
        assert!(
            !a.request(second, &checks),
            "the second was handled during the write"
        );
        assert!(
            first_rx.try_recv().is_err(),
            "answered before it was on disk"
        );
        let result = written(&mut a).await;
        let w = a.on_written(result, &checks);
        assert!(!w.failed && w.changed && w.run.is_empty());
        let first_id = first_rx.try_recv().unwrap().unwrap();
        assert!(
            second_rx.try_recv().is_err(),
            "the held feed was answered before its write"
        );
        let result = written(&mut a).await;
        a.on_written(result, &checks);
        let second_id = second_rx.try_recv().unwrap().unwrap();
        assert!(second_id > first_id, "not in the order asked");
        assert_eq!(
            a.scheduler.summary().last_feed.map(|f| f.0.as_second()),
            Some(now - 60)
        );
    }
}
