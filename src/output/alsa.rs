//! The default sound device through rodio and cpal, for when no sound server answers on the
//! PulseAudio protocol ([`PulseOutput`](super::PulseOutput) is used when one does): cpal's
//! PulseAudio host first, its ALSA host otherwise.
//!
//! The PulseAudio host comes first because cpal's ALSA host busy-polls one core at 100% on
//! PipeWire's ALSA plugin (pipewire-alsa), while `aplay` on the same device does not.

use std::num::NonZero;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rodio::Source;

use super::{Output, SharedMix};
use crate::clip::SAMPLE_RATE;

/// Samples pulled from the mix at a time: 5.3 ms, small against the sound server's quantum.
const BLOCK: usize = 256;

/// Plays to the default output device through cpal.
pub struct AlsaOutput {
    sink: Option<rodio::MixerDeviceSink>,
    failed: Arc<AtomicBool>,
}

impl AlsaOutput {
    /// A closed device output.
    pub fn new() -> Self {
        Self {
            sink: None,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Default for AlsaOutput {
    fn default() -> Self {
        Self::new()
    }
}

impl Output for AlsaOutput {
    fn describe(&self) -> String {
        "the default sound device (through cpal)".into()
    }

    fn open(&mut self, mix: SharedMix) -> Result<(), String> {
        self.failed.store(false, Ordering::SeqCst);
        let failed = Arc::clone(&self.failed);
        let mut sink = rodio::DeviceSinkBuilder::from_default_device()
            .map_err(|e| format!("no sound device: {e}"))?
            .with_sample_rate(NonZero::new(SAMPLE_RATE).expect("non-zero rate"))
            .with_buffer_size(cpal_buffer())
            .with_error_callback(move |e| {
                log::warn!("sound device error: {e}");
                failed.store(true, Ordering::SeqCst);
            })
            .open_stream()
            .map_err(|e| format!("cannot open the sound device: {e}"))?;
        sink.log_on_drop(false);
        sink.mixer().add(MixSource {
            mix,
            buf: vec![0.0; BLOCK],
            at: BLOCK,
        });
        self.sink = Some(sink);
        Ok(())
    }

    fn close(&mut self) {
        self.sink = None;
    }

    fn is_open(&self) -> bool {
        self.sink.is_some()
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// The mix as an endless rodio source, pulled in blocks so the lock is taken rarely.
struct MixSource {
    mix: SharedMix,
    buf: Vec<f32>,
    at: usize,
}

impl Iterator for MixSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.at == self.buf.len() {
            super::lock_mix(&self.mix).fill(&mut self.buf);
            self.at = 0;
        }
        let s = self.buf[self.at];
        self.at += 1;
        Some(s)
    }
}

impl Source for MixSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(1).expect("one channel")
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(SAMPLE_RATE).expect("non-zero rate")
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// The device buffer: 512 frames (10.7 ms), so a key press is heard at the sound server's own
/// pace (about 27 ms through PipeWire, where rodio's default buffer gives 100 ms and the
/// server's default 2 s). `LETDOWN_DEVICE_BUFFER=FRAMES` overrides it.
fn cpal_buffer() -> rodio::cpal::BufferSize {
    let frames = std::env::var("LETDOWN_DEVICE_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    rodio::cpal::BufferSize::Fixed(frames)
}
