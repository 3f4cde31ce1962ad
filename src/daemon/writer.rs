//! The state store on a thread of its own: a change's flush to disk (milliseconds, or seconds
//! on a slow or busy disk) never runs on the coach's thread, so cues keep their time while it
//! is written.
//!
//! Changes are written in the order given; each result comes back on a channel the coach
//! selects on. The scheduler has at most one change in flight, so the coach's view and the
//! disk never disagree for longer than one write.

use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::schedule::State;
use crate::schedule::store::Store;

/// The result of one write: Ok, or the error and the state the disk still holds.
pub type WriteResult = Result<(), (String, State)>;

/// Where write results arrive, in the order the writes were given (the coach selects on it).
pub type WriteResults = mpsc::UnboundedReceiver<WriteResult>;

/// The writer thread and the way to it.
pub struct Writer {
    to_disk: Option<std_mpsc::Sender<State>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that owns `store`; write results come out of the receiver.
    pub fn spawn(mut store: Store) -> (Self, WriteResults) {
        let (tx, rx) = std_mpsc::channel::<State>();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("letdown-store".into())
            .spawn(move || {
                for next in rx {
                    let result = store.save(next).map_err(|e| (e, store.on_disk().clone()));
                    if done_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .expect("cannot start the store's thread");
        let writer = Self {
            to_disk: Some(tx),
            thread: Some(thread),
        };
        (writer, done_rx)
    }

    /// Queues `next` to be written; its result comes out of [`WriteResults`].
    pub fn write(&self, next: State) {
        if let Some(tx) = &self.to_disk
            && tx.send(next).is_err()
        {
            log::error!("the store's thread is gone; the change is not saved");
        }
    }

    /// Lets the write in flight finish, then stops the thread (at shutdown).
    pub fn finish(&mut self) {
        self.to_disk = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.finish();
    }
}
