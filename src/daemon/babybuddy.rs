//! The Baby Buddy worker: one thread beside the coach that does every HTTP request, so a
//! server that is down, slow or hung never holds up a key press. It is given one job at a time
//! (a feed to bring up to date on the server, or the feedings to read) and sends back what
//! happened; the scheduler alone changes the state and writes it.

use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use crate::babybuddy::api::{ApiError, Client};
use crate::babybuddy::{Child, Settings};
use crate::schedule::sync::{Link, Outgoing, Record, RemoteFeeding};
use crate::schedule::{Feed, Pumping};
use push::{push, push_pumping};

mod push;

/// An outbox entry to send, with what it is about as it is now.
#[derive(Debug)]
pub struct Send {
    /// The outbox entry, as it is on disk.
    pub entry: Outgoing,
    /// The feed as it is now (`None`: deleted, or the entry is a pumping's).
    pub feed: Option<Feed>,
    /// The pumping as it is now (`None`: deleted, or the entry is a feed's).
    pub pumping: Option<Pumping>,
    /// What it is on the server, if known.
    pub link: Option<Link>,
    /// What letdown's other feeds (or pumpings) are on the server: never taken for this one.
    pub taken: Vec<u64>,
}

/// Work for the worker.
#[derive(Debug)]
pub enum Job {
    /// Make the server's copy of a feed or pumping match it.
    Send(Box<Send>),
    /// Read the child's feedings that ended at or after `end_min` (Unix seconds).
    Read {
        /// The window's start.
        end_min: i64,
    },
}

/// What a job came to.
#[derive(Debug)]
pub enum Synced {
    /// A feed was sent: where it is on the server now (`None`: deleted there), or why not.
    Sent {
        /// The worker that did it (results of a worker since replaced are dropped).
        generation: u64,
        /// The entry as it was sent.
        entry: Outgoing,
        /// The result.
        result: Result<Option<Link>, ApiError>,
    },
    /// Feedings were read.
    Read {
        /// The worker that did it.
        generation: u64,
        /// The feedings, or why not.
        result: Result<Vec<RemoteFeeding>, ApiError>,
    },
}

/// The worker's handle: jobs go in, results come out on the coach's channel.
pub struct Worker {
    jobs: std_mpsc::Sender<Job>,
    /// Which worker this is (a new one at each reconfiguration).
    pub generation: u64,
}

impl Worker {
    /// Starts a worker for `settings`, sending results to `results`. The token is read on the
    /// worker's thread (a slow disk never holds up the coach); a token that cannot be read
    /// fails each job with the reason.
    pub fn spawn(
        settings: Settings,
        generation: u64,
        results: mpsc::UnboundedSender<Synced>,
    ) -> Worker {
        let (jobs, rx) = std_mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("babybuddy".into())
            .spawn(move || run(settings, generation, rx, results));
        if let Err(e) = spawned {
            log::error!("cannot start the Baby Buddy worker: {e}");
        }
        Worker { jobs, generation }
    }

    /// Hands over a job (false if the worker is gone).
    pub fn give(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}

fn run(
    settings: Settings,
    generation: u64,
    jobs: std_mpsc::Receiver<Job>,
    results: mpsc::UnboundedSender<Synced>,
) {
    let mut client: Option<Client> = None;
    let mut child: Option<u64> = None;
    while let Ok(job) = jobs.recv() {
        let ready = connect(&settings, &mut client, &mut child);
        let out = match job {
            Job::Send(send) => {
                let Send {
                    entry,
                    feed,
                    pumping,
                    link,
                    taken,
                } = *send;
                Synced::Sent {
                    generation,
                    result: ready.and_then(|(c, child)| match entry.record {
                        Record::Feed => push(c, child, &entry, feed.as_ref(), link, &taken),
                        Record::Pumping => {
                            push_pumping(c, child, &entry, pumping.as_ref(), link, &taken)
                        }
                    }),
                    entry,
                }
            }
            Job::Read { end_min } => Synced::Read {
                generation,
                result: ready.and_then(|(c, child)| c.feedings(child, end_min)),
            },
        };
        // A refused token is read again for the next job (the user may have replaced it).
        if matches!(
            &out,
            Synced::Sent {
                result: Err(ApiError::Denied(_)),
                ..
            } | Synced::Read {
                result: Err(ApiError::Denied(_)),
                ..
            }
        ) {
            client = None;
        }
        if results.send(out).is_err() {
            break;
        }
    }
}

/// The client and the child's id, made and looked up once.
fn connect<'c>(
    settings: &Settings,
    client: &'c mut Option<Client>,
    child: &mut Option<u64>,
) -> Result<(&'c Client, u64), ApiError> {
    if client.is_none() {
        let token = crate::babybuddy::read_token(&settings.token_file).map_err(ApiError::Setup)?;
        *client = Some(Client::new(&settings.url, token));
    }
    let c = client.as_ref().expect("made above");
    let id = match (*child, &settings.child) {
        (Some(id), _) => id,
        (None, Child::Id(id)) => *id,
        (None, slug) => c.child_id(slug)?,
    };
    *child = Some(id);
    Ok((c, id))
}
