//! The sound server (PulseAudio, or PipeWire's pipewire-pulse), spoken to over one connection
//! that letdownd keeps for its whole life.
//!
//! A connection costs nothing while idle: its one thread sleeps in a blocking read, and the
//! server sends nothing to a client with no stream. A session opens a playback stream on it
//! with no sink named, so it plays on the default sink of that moment (a headset plugged in
//! since the last session is used), and deletes it when the daemon goes idle. When the server
//! went away (restarted, crashed), the next open connects again.
//!
//! The stream's data is pulled from the [`Mix`](super::Mix) on the connection's thread, as the
//! server asks for it. A key's sound would otherwise wait behind what the server already holds
//! (a buffer of silence, 21 ms): [`Output::hurry`] asks the server to drop it, and the server
//! asks again at once, getting the new sound.

mod connection;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pulseaudio::protocol::{self, stream::BufferAttr, stream::StreamFlags};

use super::{Output, SharedMix};
use crate::clip::SAMPLE_RATE;
use connection::{Connection, FRAME_BYTES, Stream};

/// Frames the server keeps ahead of what is heard: 21.3 ms, one PipeWire quantum at 48 kHz.
/// Timed cues are heard this long after the engine plays them, all alike; a key's sound is
/// not ([`Output::hurry`]). `LETDOWN_DEVICE_BUFFER=FRAMES` overrides it (the tests give a
/// debug build on a busy machine more room).
const BUFFER_FRAMES: u32 = 1024;

fn buffer_frames() -> u32 {
    std::env::var("LETDOWN_DEVICE_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&f: &u32| (64..=48_000).contains(&f))
        .unwrap_or(BUFFER_FRAMES)
}
/// How long opening a stream may take before the server is taken for hung.
const OPEN_LIMIT: Duration = Duration::from_secs(5);

/// Plays to the sound server's default sink over a kept connection.
pub struct PulseOutput {
    /// The connection; `None` until connected, and after it was found gone.
    connection: Arc<std::sync::Mutex<Option<Connection>>>,
    /// The open stream.
    stream: Option<Stream>,
}

impl PulseOutput {
    /// Whether a sound server's socket is there to speak to.
    pub fn available() -> bool {
        pulseaudio::socket_path_from_env().is_some()
    }

    /// A closed output that connects to the server beside the caller at once, so the first key
    /// press does not wait for the connection.
    pub fn new() -> Self {
        let out = Self {
            connection: Default::default(),
            stream: None,
        };
        let connection = Arc::clone(&out.connection);
        let spawned = std::thread::Builder::new()
            .name("sound-connect".into())
            .spawn(move || {
                let mut c = connection.lock().unwrap_or_else(|p| p.into_inner());
                if c.is_none() {
                    match Connection::open(c"letdown") {
                        Ok(new) => *c = Some(new),
                        Err(e) => log::warn!("{e}; trying again at the next sound"),
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("cannot connect to the sound server ahead: {e}");
        }
        out
    }

    /// Opens a stream on the kept connection; connects (again) first when there is none or it
    /// is gone.
    fn open_stream(&mut self, mix: SharedMix) -> Result<Stream, String> {
        let mut guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_some_and(|c| c.is_closed()) {
            log::info!("the sound server went away; connecting again");
            *guard = None;
        }
        let c = match guard.as_ref() {
            Some(c) => c,
            None => guard.insert(Connection::open(c"letdown")?),
        };
        let stream = c.create_stream(stream_params(), mix, OPEN_LIMIT);
        if stream.is_err() && c.is_closed() {
            *guard = None;
        }
        stream
    }

    fn with_connection(&self, f: impl FnOnce(&Connection)) {
        if let Some(c) = self
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            f(c)
        }
    }
}

impl Default for PulseOutput {
    fn default() -> Self {
        Self::new()
    }
}

impl Output for PulseOutput {
    fn describe(&self) -> String {
        "the sound server's default sink".into()
    }

    fn open(&mut self, mix: SharedMix) -> Result<(), String> {
        self.close();
        self.stream = Some(self.open_stream(mix)?);
        Ok(())
    }

    fn close(&mut self) {
        if let Some(s) = self.stream.take() {
            self.with_connection(|c| c.delete(s.channel));
        }
    }

    fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    fn failed(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(|s| s.ended.load(Ordering::SeqCst))
    }

    fn hurry(&self) {
        if let Some(s) = &self.stream {
            self.with_connection(|c| c.flush(s.channel));
        }
    }
}

/// Mono 32-bit float at the clips' rate, on the default sink, started at once, with a buffer
/// of [`buffer_frames`].
fn stream_params() -> protocol::PlaybackStreamParams {
    let bytes = buffer_frames() * FRAME_BYTES as u32;
    let mut props = protocol::Props::new();
    props.set(protocol::Prop::MediaName, c"letdown coach");
    props.set(protocol::Prop::MediaRole, c"event");
    protocol::PlaybackStreamParams {
        sample_spec: protocol::SampleSpec {
            format: protocol::SampleFormat::Float32Le,
            channels: 1,
            sample_rate: SAMPLE_RATE,
        },
        channel_map: protocol::ChannelMap::mono(),
        buffer_attr: BufferAttr {
            max_length: bytes * 2,
            target_length: bytes,
            // Playing starts with the first quarter of a buffer, not a full one.
            pre_buffering: bytes / 4,
            minimum_request_length: bytes / 4,
            fragment_size: u32::MAX,
        },
        props,
        flags: StreamFlags {
            adjust_latency: true,
            ..Default::default()
        },
        ..Default::default()
    }
}
