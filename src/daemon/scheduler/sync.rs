//! The scheduler's side of the Baby Buddy sync: what is queued with each feed change (in the
//! same write), which job the worker gets next, what its results change, and what the user is
//! told. The worker ([`crate::daemon::babybuddy`]) is handed an outbox entry only once it is on
//! disk, one at a time, so an entry is never sent before it would survive a crash.

use super::*;
use crate::babybuddy::Settings;
use crate::daemon::babybuddy::{Job, Synced, Worker};
use crate::schedule::sync::MIRROR_WINDOW;

/// The connection to a configured server.
pub(super) struct SyncLink {
    pub(super) settings: Settings,
    worker: Worker,
    /// The feed whose entry the worker has.
    sending: Option<u64>,
    /// Whether the worker is reading feedings.
    reading: bool,
    /// A read was asked for (a key press, `letdown babybuddy sync`, the start).
    read_asked: bool,
    /// When the last read was given to the worker (Unix seconds).
    last_read_try: i64,
    /// `letdown babybuddy sync` calls waiting for the read.
    waiters: Vec<Answer<()>>,
}

impl Scheduler {
    /// Follows the config's `[babybuddy]`: a new worker when it changed (the old one's
    /// results are dropped), none when it went.
    pub(super) fn configure_sync(&mut self, settings: Option<&Settings>) {
        if self.sync.as_ref().map(|l| &l.settings) == settings {
            return;
        }
        if let Some(old) = self.sync.take() {
            for w in old.waiters {
                reply(
                    w,
                    Err(CoachError::NotRunning(
                        "the Baby Buddy settings changed meanwhile".into(),
                    )),
                );
            }
        }
        let Some(settings) = settings else {
            return;
        };
        self.sync_generation += 1;
        log::info!(
            "syncing feeds with Baby Buddy at {} (child {})",
            settings.url,
            settings.child
        );
        self.sync = Some(SyncLink {
            worker: Worker::spawn(settings.clone(), self.sync_generation, self.sync_tx.clone()),
            settings: settings.clone(),
            sending: None,
            reading: false,
            read_asked: true,
            last_read_try: 0,
            waiters: Vec::new(),
        });
    }

    /// The results of the Baby Buddy worker, for the coach's loop (taken once).
    pub fn sync_results(&mut self) -> Option<mpsc::UnboundedReceiver<Synced>> {
        self.sync_rx.take()
    }

    /// Whether a Baby Buddy server is configured.
    pub fn syncing(&self) -> bool {
        self.sync.is_some()
    }

    /// Queues a feed to be sent (in the change being made). Feeds logged before the server
    /// was connected are not sent when they change.
    pub(super) fn queue_feed(&mut self, id: u64, old_start: Option<i64>, new: bool) {
        self.queue_record(crate::schedule::sync::Record::Feed, id, old_start, new)
    }

    /// [`Scheduler::queue_feed`] for a feed or a pumping.
    pub(super) fn queue_record(
        &mut self,
        record: crate::schedule::sync::Record,
        id: u64,
        old_start: Option<i64>,
        new: bool,
    ) {
        if self.sync.is_none() {
            return;
        }
        let known = new
            || self.state.babybuddy.links.contains_key(&id)
            || self.state.babybuddy.outbox.iter().any(|o| o.feed == id);
        if known {
            let now = self.now().as_second();
            self.change(|s| s.babybuddy.queue_record(record, id, old_start, now));
        }
    }

    /// Gives the worker its next job when the state is on disk: the first entry due, and a
    /// read when one was asked for or `sync_every` has passed.
    pub(super) fn pump_sync(&mut self) {
        if self.writing() || self.staged.is_some() {
            return;
        }
        let now = self.now().as_second();
        let Some(link) = self.sync.as_mut() else {
            return;
        };
        if link.sending.is_none()
            && let Some(entry) = self.state.babybuddy.next_to_send(now)
        {
            use crate::schedule::sync::{Link, Record};
            let pumping = entry.record == Record::Pumping;
            let job = Job::Send(Box::new(crate::daemon::babybuddy::Send {
                entry: entry.clone(),
                feed: (!pumping)
                    .then(|| {
                        self.state
                            .feeds
                            .iter()
                            .find(|f| f.id == entry.feed)
                            .cloned()
                    })
                    .flatten(),
                pumping: pumping
                    .then(|| {
                        self.state
                            .pumpings
                            .iter()
                            .find(|p| p.id == entry.feed)
                            .cloned()
                    })
                    .flatten(),
                link: self.state.babybuddy.links.get(&entry.feed).copied(),
                // Ids of the same kind only: Baby Buddy numbers pumpings apart from feedings.
                taken: self
                    .state
                    .babybuddy
                    .links
                    .iter()
                    .filter(|(feed, l)| {
                        **feed != entry.feed && matches!(l, Link::Pumping(_)) == pumping
                    })
                    .map(|(_, l)| l.id())
                    .collect(),
            }));
            link.sending = Some(entry.feed);
            link.worker.give(job);
        }
        let every = link.settings.sync_every.as_secs() as i64;
        if !link.reading && (link.read_asked || now - link.last_read_try >= every) {
            link.reading = true;
            link.read_asked = false;
            link.last_read_try = now;
            link.worker.give(Job::Read {
                end_min: now - MIRROR_WINDOW,
            });
        }
    }

    /// When the sync next needs the coach: an entry's retry, or the next periodic read.
    pub(super) fn sync_wake(&self) -> Option<Timestamp> {
        let link = self.sync.as_ref()?;
        let read = link.last_read_try + link.settings.sync_every.as_secs() as i64;
        let retry = if link.sending.is_none() {
            self.state.babybuddy.next_try()
        } else {
            None
        };
        let limit = self.running_feed_limit();
        // Never in the past: what is due now may wait for a write in flight, and the coach
        // must not spin meanwhile.
        let soonest = self.now().as_second() + 1;
        [Some(read), retry, limit]
            .into_iter()
            .flatten()
            .min()
            .map(|s| s.max(soonest))
            .and_then(|s| Timestamp::from_second(s).ok())
    }

    /// Reads feedings again if the last read is older than [`crate::babybuddy::FRESH_FOR`]
    /// (a key press that depends on them); the answer does not wait for it.
    pub fn refresh_if_stale(&mut self) {
        let now = self.now().as_second();
        let stale =
            self.state.babybuddy.last_sync < now - crate::babybuddy::FRESH_FOR.as_secs() as i64;
        if let Some(link) = self.sync.as_mut()
            && stale
            && !link.reading
        {
            link.read_asked = true;
            self.pump_sync();
        }
    }

    /// `letdown babybuddy sync`: sends what waits now (backoffs cut short) and reads; answered
    /// when the read is done.
    pub(super) fn sync_now(&mut self, answer: Answer<()>) {
        let Some(link) = self.sync.as_mut() else {
            return reply(answer, Err(not_connected()));
        };
        link.read_asked = true;
        link.waiters.push(answer);
        let now = self.now().as_second();
        if self
            .state
            .babybuddy
            .outbox
            .iter()
            .any(|o| !o.stuck && o.next_try > now)
        {
            self.change(|s| {
                for o in s.babybuddy.outbox.iter_mut().filter(|o| !o.stuck) {
                    o.next_try = now;
                }
            });
        }
    }

    /// What the worker did. Results of a worker since replaced are dropped.
    pub fn synced(&mut self, done: Synced) {
        let now = self.now().as_second();
        let generation = match &done {
            Synced::Sent { generation, .. } | Synced::Read { generation, .. } => *generation,
        };
        let Some(link) = self
            .sync
            .as_mut()
            .filter(|_| generation == self.sync_generation)
        else {
            return;
        };
        match done {
            Synced::Sent { entry, result, .. } => {
                link.sending = None;
                match result {
                    Ok(l) => {
                        log::info!("feed {} is up to date in Baby Buddy ({l:?})", entry.feed);
                        self.change(|s| s.babybuddy.sent(&entry, l, now));
                    }
                    Err(e) => {
                        let retry = e.retryable();
                        log::warn!(
                            "cannot send feed {} to Baby Buddy: {e}{}",
                            entry.feed,
                            if retry { "; will try again" } else { "" }
                        );
                        let at = self
                            .state
                            .feeds
                            .iter()
                            .find(|f| f.id == entry.feed)
                            .map(|f| {
                                crate::schedule::local_hm(
                                    Timestamp::from_second(f.at).unwrap_or(Timestamp::UNIX_EPOCH),
                                    &self.tz,
                                )
                            });
                        self.change(|s| {
                            s.babybuddy.failed(&entry, &e.to_string(), retry, now);
                            if !retry {
                                let which = at
                                    .map(|t| format!("the feed at {t}"))
                                    .unwrap_or("a deleted feed".into());
                                s.babybuddy
                                    .untold
                                    .push(format!("Baby Buddy refused {which}: {e}"));
                            }
                        });
                    }
                }
            }
            Synced::Read { result, .. } => {
                link.reading = false;
                let waiters = std::mem::take(&mut link.waiters);
                let answer = match result {
                    Ok(feedings) => {
                        let before = self.state.babybuddy.mirror.clone();
                        self.change(|s| s.babybuddy.read(feedings, now));
                        if self.state.babybuddy.mirror != before {
                            log::info!(
                                "feedings logged in Baby Buddy changed: {} in the last two days",
                                self.state.babybuddy.mirror.len()
                            );
                        }
                        Ok(())
                    }
                    Err(e) => {
                        log::warn!("cannot read feedings from Baby Buddy: {e}");
                        let text = e.to_string();
                        let retry = e.retryable();
                        self.change(|s| {
                            s.babybuddy.last_error = Some(text.clone());
                            if retry && s.babybuddy.failing_since == 0 {
                                s.babybuddy.failing_since = now;
                            }
                        });
                        Err(CoachError::SyncFailed(format!("Baby Buddy: {text}")))
                    }
                };
                for w in waiters {
                    self.answer(w, answer.clone());
                }
            }
        }
        self.flush();
    }

    /// The running feed's end at the `max_feed` limit, if a feed runs.
    fn running_feed_limit(&self) -> Option<i64> {
        let link = self.sync.as_ref()?;
        let last = self.state.feeds.last()?;
        (last.end.is_none()).then(|| last.at + link.settings.max_feed.as_secs() as i64)
    }

    /// Ends, at the limit, a feed that ran past `max_feed` (said in `where`).
    pub(super) fn end_overdue_feed(&mut self) {
        let now = self.now().as_second();
        let Some(limit) = self.running_feed_limit().filter(|l| *l <= now) else {
            return;
        };
        let Some(id) = self.state.feeds.last().map(|f| f.id) else {
            return;
        };
        log::info!("feed {id} ran past max_feed; ended at the limit");
        self.change(|s| {
            if let Some(f) = s.feeds.iter_mut().find(|f| f.id == id) {
                f.end = Some(limit);
            }
            s.babybuddy.ended_untold = vec![(id, limit)];
        });
        self.queue_feed(id, None, false);
    }

    /// The feed running now (its id and start), if any.
    pub(super) fn running_feed(&self) -> Option<(u64, i64)> {
        let now = self.now().as_second();
        let last = self.state.feeds.last()?;
        let max = self
            .sync
            .as_ref()
            .map_or(crate::babybuddy::DEFAULT_MAX_FEED, |l| l.settings.max_feed);
        (last.end.is_none() && now - last.at < max.as_secs() as i64).then_some((last.id, last.at))
    }

    /// The `sync_*` keys of `Summary` (but `sync_trouble`), and what `where` says when
    /// something is wrong.
    pub(super) fn sync_summary(&self) -> (BTreeMap<String, String>, Option<String>) {
        let mut m = BTreeMap::new();
        let Some(link) = self.sync.as_ref() else {
            return (m, None);
        };
        let b = &self.state.babybuddy;
        let now = self.now().as_second();
        m.insert("sync_server".into(), link.settings.url.clone());
        m.insert("sync_child".into(), link.settings.child.to_string());
        m.insert("sync_last".into(), b.last_sync.to_string());
        m.insert("sync_outbox".into(), b.outbox.len().to_string());
        let stuck = b.outbox.iter().filter(|o| o.stuck).count();
        m.insert("sync_stuck".into(), stuck.to_string());
        if let Some(e) = &b.last_error {
            m.insert("sync_error".into(), e.clone());
        }
        if b.failing_since > 0 {
            m.insert("sync_failing_since".into(), b.failing_since.to_string());
        }
        let mut trouble = Vec::new();
        if let Some((id, end)) = b.ended_untold.first()
            && self.state.feeds.last().is_some_and(|f| f.id == *id)
            && let Ok(t) = Timestamp::from_second(*end)
        {
            trouble.push(format!(
                "The last feed was ended at {}, the {} limit.",
                crate::schedule::local_hm(t, &self.tz),
                crate::duration::show(link.settings.max_feed)
            ));
        }
        // Quiet about a server that is briefly away (a laptop waking, a restart).
        if b.failing_since > 0 && now - b.failing_since >= 600 {
            let waiting = b.outbox.len();
            let feeds = match waiting {
                0 => String::new(),
                1 => " 1 feed is waiting to be sent.".into(),
                n => format!(" {n} feeds are waiting to be sent."),
            };
            trouble.push(format!(
                "Baby Buddy has not answered for {}.{feeds}",
                spoken_span(now - b.failing_since)
            ));
        }
        if stuck > 0 {
            trouble.push(match stuck {
                1 => "Baby Buddy refused 1 feed; see letdown babybuddy status.".into(),
                n => format!("Baby Buddy refused {n} feeds; see letdown babybuddy status."),
            });
        }
        // (`sync_trouble` goes into the map with the day's summary, which says it.)
        let trouble = (!trouble.is_empty()).then(|| trouble.join(" "));
        (m, trouble)
    }
}

/// "2 hours", "15 minutes", for speech.
fn spoken_span(secs: i64) -> String {
    let minutes = (secs / 60).max(1);
    let (n, unit) = if minutes >= 120 {
        (minutes / 60, "hours")
    } else if minutes >= 60 {
        (1, "hour")
    } else if minutes == 1 {
        (1, "minute")
    } else {
        (minutes, "minutes")
    };
    format!("{n} {unit}")
}

pub(super) fn not_connected() -> CoachError {
    CoachError::NotFound(
        "no Baby Buddy server is connected; `letdown babybuddy connect URL --token-file PATH` connects one"
            .into(),
    )
}
