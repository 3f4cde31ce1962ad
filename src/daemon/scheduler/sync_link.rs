//! The connection to a configured Baby Buddy server: its worker, and which jobs it has. The
//! worker gets one entry to send at a time and one read at a time; a read is given when one
//! was asked for or `sync_every` has passed.

use tokio::sync::mpsc;

use crate::babybuddy::Settings;
use crate::daemon::babybuddy::{Job, Synced, Worker};
use crate::daemon::error::CoachError;
use crate::daemon::request::{Answer, reply};
use crate::schedule::State;
use crate::schedule::sync::MIRROR_WINDOW;

/// The connection to a configured server.
pub(super) struct SyncLink {
    pub settings: Settings,
    worker: Worker,
    /// The feed whose entry the worker has.
    pub sending: Option<u64>,
    /// Whether the worker is reading feedings.
    pub reading: bool,
    /// A read was asked for (a key press, `letdown babybuddy sync`, the start).
    pub read_asked: bool,
    /// When the last read was given to the worker (Unix seconds).
    last_read_try: i64,
    /// `letdown babybuddy sync` calls waiting for the read.
    pub waiters: Vec<Answer<()>>,
}

impl SyncLink {
    /// Connects to the server `settings` name: a worker numbered `generation`, sending its
    /// results on `results`; its first read is asked for at once.
    pub fn connect(
        settings: Settings,
        generation: u64,
        results: mpsc::UnboundedSender<Synced>,
    ) -> Self {
        log::info!(
            "syncing feeds with Baby Buddy at {} (child {})",
            settings.url,
            settings.child
        );
        Self {
            worker: Worker::spawn(settings.clone(), generation, results),
            settings,
            sending: None,
            reading: false,
            read_asked: true,
            last_read_try: 0,
            waiters: Vec::new(),
        }
    }

    /// The settings changed: `letdown babybuddy sync` calls still waiting are told.
    pub fn settings_changed(self) {
        for w in self.waiters {
            let why = "the Baby Buddy settings changed meanwhile";
            reply(w, Err(CoachError::NotRunning(why.into())));
        }
    }

    /// Gives the worker, at `now` (Unix seconds), the first entry due in `state` if it is not
    /// sending one, and a read if one is due and none is under way.
    pub fn give_next(&mut self, state: &State, now: i64) {
        if self.sending.is_none()
            && let Some(entry) = state.babybuddy.next_to_send(now)
        {
            self.sending = Some(entry.feed);
            let job = super::send_job::send_job(state, entry);
            self.worker.give(Job::Send(Box::new(job)));
        }
        if !self.reading && (self.read_asked || now >= self.next_read()) {
            self.reading = true;
            self.read_asked = false;
            self.last_read_try = now;
            self.worker.give(Job::Read {
                end_min: now - MIRROR_WINDOW,
            });
        }
    }

    /// When the next periodic read is due (Unix seconds).
    pub fn next_read(&self) -> i64 {
        self.last_read_try + self.settings.sync_every.as_secs() as i64
    }
}
