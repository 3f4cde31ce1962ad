//! What work done beside the coach sends back: a channel whose sender the owner keeps, so it
//! never closes, and waiting on it while nothing is under way simply waits (a `select!` arm that
//! never fires), never ends.

use tokio::sync::mpsc;

/// The coach's end of a channel of results of type `T`, and the sender given to the work.
pub struct Returns<T> {
    tx: mpsc::UnboundedSender<T>,
    rx: mpsc::UnboundedReceiver<T>,
}

impl<T> Returns<T> {
    /// Nothing under way.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { tx, rx }
    }

    /// A sender for one piece of work to send its result on.
    pub fn sender(&self) -> mpsc::UnboundedSender<T> {
        self.tx.clone()
    }

    /// The next result sent.
    pub async fn next(&mut self) -> T {
        match self.rx.recv().await {
            Some(r) => r,
            // The sender is our own: the channel never closes.
            None => std::future::pending().await,
        }
    }
}

impl<T> Default for Returns<T> {
    fn default() -> Self {
        Self::new()
    }
}
