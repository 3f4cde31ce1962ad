//! Offline render: a whole session mixed into one WAV, each sound at its exact sample.
//!
//! The renderer drives the same [`Session`] engine as the daemon, with a virtual clock that
//! jumps from deadline to deadline. What lands in the file is therefore what a live session
//! plays, which makes the file both a user feature (take the session to a phone) and the test
//! oracle for timing.

use std::time::Duration;

use crate::clip::{Clip, to_samples};
use crate::engine::{Event, EventKind, Session};
use crate::plan::Sound;
use crate::prepare::Ready;

/// Loudness settings for a mix.
#[derive(Debug, Clone, Copy)]
pub struct Levels {
    /// Master volume, 0.0 to 1.0.
    pub volume: f32,
    /// Tones relative to speech, 0.0 to 1.0.
    pub earcons: f32,
}

/// A rendered session.
pub struct Rendered {
    /// Mono samples at 48 kHz.
    pub samples: Vec<f32>,
    /// Every engine event, in order, with its time.
    pub events: Vec<Event>,
}

/// Mixes a session of `ready` from start to finish.
pub fn render(ready: &Ready, levels: Levels) -> Result<Rendered, String> {
    let sounds = ready.sounds.load_all()?;
    // A step that lasts until `next` is rendered at the length the plan shows it at.
    let mut session = Session::new(ready.plan.clone()).closing_open_steps();
    let total = to_samples(ready.plan.total()) as usize;
    let mut samples = vec![0.0f32; total];
    let mut events = Vec::new();
    session.start(Duration::ZERO).expect("a new session starts");
    loop {
        while let Some(ev) = session.poll_event() {
            if let EventKind::Play(sound) = ev.kind
                && let Some(clip) = sounds.get(sound)
            {
                let gain = match sound {
                    Sound::Tone(_) => levels.volume * levels.earcons,
                    _ => levels.volume,
                };
                mix_into(&mut samples, to_samples(ev.at) as usize, clip, gain);
            }
            events.push(ev);
        }
        match session.poll_timeout() {
            Some(t) => session.handle_timeout(t),
            None => break,
        }
    }
    Ok(Rendered { samples, events })
}

/// Adds `clip` into `buf` starting at sample `at`, growing `buf` if needed.
pub fn mix_into(buf: &mut Vec<f32>, at: usize, clip: &Clip, gain: f32) {
    let end = at + clip.samples().len();
    if buf.len() < end {
        buf.resize(end, 0.0);
    }
    for (o, s) in buf[at..end].iter_mut().zip(clip.samples()) {
        *o += s * gain;
    }
}
