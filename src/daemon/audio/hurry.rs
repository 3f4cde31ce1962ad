//! Whether a request's sound is hurried out: a sound put where there was silence, or one that
//! cut what played, is heard at the sound server's pace, not a buffer later; a sound laid over
//! one still playing (an answer during a prompt) is not, as that would clip the prompt.

use crate::output::Mix;

/// What the mix played before a request.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    silence: bool,
    cuts: u64,
}

impl Heard {
    /// What `mix` plays now.
    pub fn of(mix: &Mix) -> Self {
        Self {
            silence: mix.pulls_silence(),
            cuts: mix.cuts(),
        }
    }

    /// Whether what `mix` plays after the request, compared with this, is to be hurried.
    pub fn hurries(self, mix: &Mix) -> bool {
        !mix.pulls_silence() && (self.silence || mix.cuts() != self.cuts)
    }
}
