//! Opening the output beside the coach: opening talks to the sound server and can take long
//! when it is busy or gone, so it runs on a blocking thread and the output comes back over a
//! channel.

use crate::daemon::returns::Returns;
use crate::output::{Output, SharedMix};

/// An output lent to a blocking thread to be opened, coming back with how that went.
pub type Opened = (Box<dyn Output>, Result<(), String>);

/// Outputs being opened beside the coach, and the channel they come back on.
pub struct Opener {
    back: Returns<Opened>,
}

impl Opener {
    /// Nothing being opened.
    pub fn new() -> Self {
        Self {
            back: Returns::new(),
        }
    }

    /// Opens `out` to play `mix` on a blocking thread; it comes back from [`Opener::opened`].
    pub fn open(&self, (mut out, mix): (Box<dyn Output>, SharedMix)) {
        let back = self.back.sender();
        tokio::task::spawn_blocking(move || {
            let result = out.open(mix);
            let _ = back.send((out, result));
        });
    }

    /// An output back from [`Opener::open`].
    pub async fn opened(&mut self) -> Opened {
        self.back.next().await
    }
}
