//! One connection to the sound server over its native protocol (the `pulseaudio` crate encodes
//! and decodes the messages): a handshake, then one reader thread that sleeps in a blocking
//! read until the server says something.
//!
//! The server speaks only when asked, or when a stream needs data: an idle connection wakes
//! nobody. When a stream asks for data, the reader thread pulls it from the mix and sends it
//! at once, so a sound put in the mix is on its way as soon as the server wants it.
//!
//! Everything written goes through a writer thread: a caller (the coach asking for a flush, the
//! reader sending data) only queues a message, so no caller ever waits on a server that has
//! stopped reading. Both threads sleep while there is nothing to do.

use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use pulseaudio::protocol::{self, Command, PlaybackStreamParams};

use crate::output::SharedMix;

/// The largest message accepted from the server (its replies are small; this bounds a
/// corrupted length).
const MAX_MESSAGE: usize = 4 << 20;
/// Bytes per frame: one channel of 32-bit floats.
pub const FRAME_BYTES: usize = 4;

/// A live connection; cheap to share. Dropping the last handle leaves the reader thread to end
/// when the socket closes.
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    /// Whole messages for the writer thread.
    writer: Mutex<mpsc::Sender<Vec<u8>>>,
    version: u16,
    next_seq: AtomicU32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The reader thread has seen the socket close.
    closed: bool,
    /// Requests waiting for the server's reply, by sequence number.
    waiting: HashMap<u32, Waiter>,
    /// The stream being fed from a mix.
    feeding: Option<Feed>,
}

/// A playback stream fed from a mix.
struct Feed {
    channel: u32,
    mix: SharedMix,
    ended: Arc<AtomicBool>,
}

/// Who waits for a reply.
enum Waiter {
    /// A stream whose creation was given up on (the server was slow): deleted when it comes.
    Abandoned,
    /// A new stream: fed from `mix` from its first request; `answer` gets its channel.
    Create {
        mix: SharedMix,
        ended: Arc<AtomicBool>,
        answer: mpsc::SyncSender<Result<u32, String>>,
    },
}

/// A playback stream on a connection.
pub struct Stream {
    /// The stream's channel on its connection.
    pub channel: u32,
    /// Set when the stream ended without being deleted (killed, or the server went away).
    pub ended: Arc<AtomicBool>,
}

impl Connection {
    /// Connects to the server the environment names (`PULSE_SERVER`, else the socket in
    /// `XDG_RUNTIME_DIR/pulse`), with the user's cookie, as `name`.
    pub fn open(name: &std::ffi::CStr) -> Result<Self, String> {
        let path = pulseaudio::socket_path_from_env()
            .ok_or_else(|| "no sound server socket was found".to_string())?;
        let socket = UnixStream::connect(&path).map_err(|e| {
            format!(
                "cannot connect to the sound server at {}: {e}",
                path.display()
            )
        })?;
        let cookie = pulseaudio::cookie_path_from_env()
            .and_then(|p| std::fs::read(p).ok())
            .unwrap_or_default();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let version = handshake(&socket, name, cookie)
            .map_err(|e| format!("the sound server refused the connection: {e}"))?;
        socket.set_read_timeout(None).map_err(|e| e.to_string())?;
        let reader = socket.try_clone().map_err(|e| e.to_string())?;
        let (writer, to_write) = mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name("sound-writer".into())
            .spawn(move || write_loop(socket, to_write))
            .map_err(|e| format!("cannot start the sound server's writer: {e}"))?;
        let shared = Arc::new(Shared {
            writer: Mutex::new(writer),
            version,
            next_seq: AtomicU32::new(2),
            state: Mutex::default(),
        });
        let for_reader = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sound-server".into())
            .spawn(move || read_loop(reader, &for_reader))
            .map_err(|e| format!("cannot start the sound server's reader: {e}"))?;
        log::info!(
            "connected to the sound server at {} (protocol {version})",
            path.display()
        );
        Ok(Self { shared })
    }

    /// Whether the server is still there (as far as the reader has seen).
    pub fn is_closed(&self) -> bool {
        self.shared.state().closed
    }

    /// Creates a playback stream fed from `mix`; waits up to `limit` for the server.
    pub fn create_stream(
        &self,
        params: PlaybackStreamParams,
        mix: SharedMix,
        limit: Duration,
    ) -> Result<Stream, String> {
        let seq = self.shared.next_seq();
        let ended = Arc::new(AtomicBool::new(false));
        let (answer, reply) = mpsc::sync_channel(1);
        {
            let mut st = self.shared.state();
            if st.closed {
                return Err(GONE.into());
            }
            st.waiting.insert(
                seq,
                Waiter::Create {
                    mix,
                    ended: Arc::clone(&ended),
                    answer,
                },
            );
        }
        self.shared
            .send(seq, &Command::CreatePlaybackStream(params))?;
        let channel = match reply.recv_timeout(limit) {
            Ok(r) => r?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Answered after all, the stream would play nothing for ever: deleted then.
                self.shared.state().waiting.insert(seq, Waiter::Abandoned);
                return Err(format!(
                    "the sound server did not answer in {} s",
                    limit.as_secs()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(GONE.into()),
        };
        Ok(Stream { channel, ended })
    }

    /// Asks the server to drop what it holds of the stream `channel` (and so to ask for new
    /// data at once). Sent, not waited for.
    pub fn flush(&self, channel: u32) {
        let seq = self.shared.next_seq();
        if let Err(e) = self
            .shared
            .send(seq, &Command::FlushPlaybackStream(channel))
        {
            log::debug!("flush: {e}");
        }
    }

    /// Stops feeding the stream `channel` and deletes it. Sent, not waited for.
    pub fn delete(&self, channel: u32) {
        {
            let mut st = self.shared.state();
            if st.feeding.as_ref().is_some_and(|f| f.channel == channel) {
                st.feeding = None;
            }
        }
        let seq = self.shared.next_seq();
        if let Err(e) = self
            .shared
            .send(seq, &Command::DeletePlaybackStream(channel))
        {
            log::debug!("delete: {e}");
        }
    }
}

const GONE: &str = "the sound server went away";

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_seq(&self) -> u32 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes one command, whole.
    fn send(&self, seq: u32, cmd: &Command) -> Result<(), String> {
        let mut buf = Vec::with_capacity(64);
        protocol::write_command_message(&mut buf, seq, cmd, self.version)
            .map_err(|e| e.to_string())?;
        self.write(&buf)
    }

    /// Queues one whole message for the writer thread; never waits on the server.
    fn write(&self, message: &[u8]) -> Result<(), String> {
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.send(message.to_vec()).map_err(|_| GONE.to_string())
    }

    /// Sends `bytes` of the stream `channel`'s data, pulled from its mix now.
    fn feed(&self, channel: u32, bytes: usize, scratch: &mut Scratch) {
        let Some(mix) = self
            .state()
            .feeding
            .as_ref()
            .filter(|f| f.channel == channel)
            .map(|f| Arc::clone(&f.mix))
        else {
            return;
        };
        if bytes == 0 {
            return;
        }
        let frames = bytes / FRAME_BYTES;
        scratch.samples.resize(frames, 0.0);
        crate::output::lock_mix(&mix).fill(&mut scratch.samples);
        let len = frames * FRAME_BYTES;
        scratch.message.clear();
        scratch.message.resize(protocol::DESCRIPTOR_SIZE, 0);
        let desc = protocol::Descriptor {
            length: len as u32,
            channel,
            offset: 0,
            flags: protocol::DescriptorFlags::empty(),
        };
        protocol::encode_descriptor(
            (&mut scratch.message[..protocol::DESCRIPTOR_SIZE])
                .try_into()
                .expect("a descriptor's length"),
            &desc,
        );
        for s in &scratch.samples {
            scratch.message.extend_from_slice(&s.to_le_bytes());
        }
        if let Err(e) = self.write(&scratch.message) {
            log::debug!("feeding the stream: {e}");
        }
    }
}

/// Buffers the reader thread reuses.
#[derive(Default)]
struct Scratch {
    samples: Vec<f32>,
    message: Vec<u8>,
}

/// Writes queued messages, whole and in order, until the socket fails or every sender is gone;
/// then shuts the socket, so the reader ends too.
fn write_loop(mut socket: UnixStream, messages: mpsc::Receiver<Vec<u8>>) {
    for m in messages {
        if let Err(e) = socket.write_all(&m) {
            log::debug!("writing to the sound server: {e}");
            break;
        }
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// Authenticates and names the client; returns the protocol version agreed.
fn handshake(socket: &UnixStream, name: &std::ffi::CStr, cookie: Vec<u8>) -> Result<u16, String> {
    let mut w = socket;
    let mut r = BufReader::new(socket);
    let err = |e: protocol::ProtocolError| e.to_string();
    let auth = protocol::AuthParams {
        version: protocol::MAX_VERSION,
        supports_shm: false,
        supports_memfd: false,
        cookie,
    };
    protocol::write_command_message(&mut w, 0, &Command::Auth(auth), protocol::MAX_VERSION)
        .map_err(err)?;
    let (_, reply): (u32, protocol::AuthReply) =
        protocol::read_reply_message(&mut r, protocol::MAX_VERSION).map_err(err)?;
    let version = protocol::MAX_VERSION.min(reply.version);
    let mut props = protocol::Props::new();
    props.set(protocol::Prop::ApplicationName, name);
    props.set(protocol::Prop::ApplicationId, c"org.letdown.Coach");
    let pid = std::ffi::CString::new(std::process::id().to_string()).expect("digits");
    props.set(protocol::Prop::ApplicationProcessId, pid);
    protocol::write_command_message(&mut w, 1, &Command::SetClientName(props), version)
        .map_err(err)?;
    let _: (u32, protocol::SetClientNameReply) =
        protocol::read_reply_message(&mut r, version).map_err(err)?;
    if !r.buffer().is_empty() {
        return Err("the sound server said more than it was asked".into());
    }
    Ok(version)
}

/// Reads what the server says until the socket closes; then every waiter hears it went away
/// and the stream fed is marked ended.
fn read_loop(mut socket: UnixStream, shared: &Shared) {
    let mut header = [0u8; protocol::DESCRIPTOR_SIZE];
    let mut payload = Vec::new();
    let mut scratch = Scratch::default();
    let why = loop {
        if let Err(e) = socket.read_exact(&mut header) {
            break e.to_string();
        }
        let desc = match protocol::read_descriptor(&mut &header[..]) {
            Ok(d) => d,
            Err(e) => break e.to_string(),
        };
        let len = desc.length as usize;
        if len > MAX_MESSAGE {
            break format!("a message of {len} bytes");
        }
        payload.resize(len, 0);
        if let Err(e) = socket.read_exact(&mut payload) {
            break e.to_string();
        }
        if desc.channel != u32::MAX {
            continue; // recorded data: letdown records nothing
        }
        let mut cur = Cursor::new(&payload[..]);
        match Command::read_tag_prefixed(&mut cur, shared.version) {
            Ok((seq, Command::Reply)) => on_reply(shared, seq, Ok(&mut cur), &mut scratch),
            Ok((seq, Command::Error(e))) => {
                on_reply(shared, seq, Err(format!("{e:?}")), &mut scratch)
            }
            Ok((_, Command::Request(r))) => shared.feed(r.channel, r.length as usize, &mut scratch),
            Ok((_, Command::PlaybackStreamKilled(channel))) => {
                let mut st = shared.state();
                if let Some(f) = st.feeding.take_if(|f| f.channel == channel) {
                    f.ended.store(true, Ordering::SeqCst);
                }
            }
            Ok((_, other)) => log::trace!("sound server: {other:?}"),
            Err(e) => log::debug!("sound server: a message not understood: {e}"),
        }
    };
    log::info!("the sound server connection closed: {why}");
    let mut st = shared.state();
    st.closed = true;
    st.waiting.clear();
    if let Some(f) = st.feeding.take() {
        f.ended.store(true, Ordering::SeqCst);
    }
}

/// A reply (or error) to request `seq`; replies nobody waits for (flush, delete) are dropped.
fn on_reply(
    shared: &Shared,
    seq: u32,
    reply: Result<&mut Cursor<&[u8]>, String>,
    scratch: &mut Scratch,
) {
    let Some(waiter) = shared.state().waiting.remove(&seq) else {
        return;
    };
    match waiter {
        Waiter::Abandoned => {
            if let Ok(info) = created(shared, reply) {
                let seq = shared.next_seq();
                let _ = shared.send(seq, &Command::DeletePlaybackStream(info.channel));
            }
        }
        Waiter::Create { mix, ended, answer } => {
            let result = created(shared, reply).map(|info| {
                shared.state().feeding = Some(Feed {
                    channel: info.channel,
                    mix,
                    ended,
                });
                // What the server asks for first is sent before anything else is read.
                shared.feed(info.channel, info.requested_bytes as usize, scratch);
                info.channel
            });
            let _ = answer.send(result);
        }
    }
}

/// The server's answer to a stream's creation.
fn created(
    shared: &Shared,
    reply: Result<&mut Cursor<&[u8]>, String>,
) -> Result<protocol::CreatePlaybackStreamReply, String> {
    reply.and_then(|cur| {
        protocol::TagStructReader::new(cur, shared.version)
            .read::<protocol::CreatePlaybackStreamReply>()
            .map_err(|e| e.to_string())
    })
}
