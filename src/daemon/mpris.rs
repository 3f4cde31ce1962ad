//! MPRIS, so media keys, headset buttons, desktop media widgets and `playerctl` control a
//! session. One step is one track: the step's title is the track title, the routine's title
//! the album.
//!
//! The name `org.mpris.MediaPlayer2.letdown` is owned only while a session runs, so an idle
//! letdown never takes the media keys from the user's music player.

use std::collections::HashMap;

use tokio::sync::{mpsc, watch};
use zbus::interface;
use zbus::zvariant::{ObjectPath, OwnedValue, Value};

use super::request::{Answer, Request, SessionCommand, ask};
use super::snapshot::{Phase, Snapshot};

/// The MPRIS bus name, owned while a session runs.
pub const MPRIS_NAME: &str = "org.mpris.MediaPlayer2.letdown";
/// The MPRIS object path.
pub const MPRIS_PATH: &str = "/org/mpris/MediaPlayer2";

/// `org.mpris.MediaPlayer2`: who the player is.
pub struct MprisRoot;

#[interface(name = "org.mpris.MediaPlayer2")]
impl MprisRoot {
    /// letdown has no window to raise.
    async fn raise(&self) {}

    /// letdownd is a service; it is not quit from a media widget.
    async fn quit(&self) {}

    #[zbus(property)]
    async fn can_quit(&self) -> bool {
        false
    }

    #[zbus(property)]
    async fn can_raise(&self) -> bool {
        false
    }

    #[zbus(property)]
    async fn has_track_list(&self) -> bool {
        false
    }

    #[zbus(property)]
    async fn identity(&self) -> String {
        "letdown".into()
    }

    #[zbus(property)]
    async fn desktop_entry(&self) -> String {
        "letdown".into()
    }

    #[zbus(property)]
    async fn supported_uri_schemes(&self) -> Vec<String> {
        Vec::new()
    }

    #[zbus(property)]
    async fn supported_mime_types(&self) -> Vec<String> {
        Vec::new()
    }
}

/// `org.mpris.MediaPlayer2.Player`: the transport controls.
pub struct MprisPlayer {
    tx: mpsc::Sender<Request>,
    snapshot: watch::Receiver<Snapshot>,
}

impl MprisPlayer {
    /// A player forwarding to `tx` and reading `snapshot`.
    pub fn new(tx: mpsc::Sender<Request>, snapshot: watch::Receiver<Snapshot>) -> Self {
        Self { tx, snapshot }
    }

    async fn send(&self, make: impl FnOnce(Answer<()>) -> Request) -> zbus::fdo::Result<()> {
        ask(&self.tx, make)
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    async fn session(&self, command: SessionCommand) -> zbus::fdo::Result<()> {
        self.send(|a| Request::Session(command, a)).await
    }

    async fn start_default(&self) -> zbus::fdo::Result<()> {
        self.send(|a| Request::Start(String::new(), a)).await
    }

    fn state(&self) -> Phase {
        self.snapshot.borrow().state
    }
}

fn value<'a>(v: impl Into<Value<'a>>) -> OwnedValue {
    v.into().try_into().expect("plain values convert")
}

/// The MPRIS metadata of a snapshot.
pub fn metadata(s: &Snapshot) -> HashMap<String, OwnedValue> {
    let mut m = HashMap::new();
    let track = if s.step_count == 0 {
        "/org/mpris/MediaPlayer2/TrackList/NoTrack".to_string()
    } else {
        format!("/org/letdown/step/{}", s.step_index)
    };
    m.insert(
        "mpris:trackid".into(),
        value(ObjectPath::try_from(track).expect("valid path")),
    );
    if s.step_count > 0 {
        m.insert("xesam:title".into(), value(s.step_title.clone()));
        m.insert("xesam:album".into(), value(s.routine_title.clone()));
        m.insert("xesam:artist".into(), value(vec!["letdown".to_string()]));
        m.insert("xesam:trackNumber".into(), value(s.step_index as i32 + 1));
        m.insert(
            "mpris:length".into(),
            value(s.step_length.as_micros() as i64),
        );
    }
    m
}

/// The MPRIS playback status of a snapshot.
pub fn playback_status(s: &Snapshot) -> &'static str {
    match s.state {
        Phase::Running => "Playing",
        Phase::Paused => "Paused",
        Phase::Idle | Phase::Preparing => "Stopped",
    }
}

#[interface(name = "org.mpris.MediaPlayer2.Player")]
impl MprisPlayer {
    /// Next step.
    async fn next(&self) -> zbus::fdo::Result<()> {
        self.session(SessionCommand::Next).await
    }

    /// Previous step.
    async fn previous(&self) -> zbus::fdo::Result<()> {
        self.session(SessionCommand::Previous).await
    }

    /// Pause.
    async fn pause(&self) -> zbus::fdo::Result<()> {
        if self.state() == Phase::Running {
            self.session(SessionCommand::Pause).await
        } else {
            Ok(())
        }
    }

    /// Pause or resume; when idle, start the default routine.
    async fn play_pause(&self) -> zbus::fdo::Result<()> {
        match self.state() {
            Phase::Idle => self.start_default().await,
            _ => self.session(SessionCommand::TogglePause).await,
        }
    }

    /// Stop the session.
    async fn stop(&self) -> zbus::fdo::Result<()> {
        if self.state() == Phase::Idle {
            Ok(())
        } else {
            self.session(SessionCommand::Stop).await
        }
    }

    /// Resume, or start the default routine when idle.
    async fn play(&self) -> zbus::fdo::Result<()> {
        match self.state() {
            Phase::Idle => self.start_default().await,
            Phase::Paused => self.session(SessionCommand::Resume).await,
            Phase::Preparing | Phase::Running => Ok(()),
        }
    }

    /// Seeking is not supported (CanSeek is false).
    async fn seek(&self, _offset: i64) {}

    /// Seeking is not supported (CanSeek is false).
    async fn set_position(&self, _track: ObjectPath<'_>, _position: i64) {}

    /// Opening URIs is not supported.
    async fn open_uri(&self, _uri: &str) -> zbus::fdo::Result<()> {
        Err(zbus::fdo::Error::NotSupported(
            "letdown plays routines, not URIs".into(),
        ))
    }

    #[zbus(property)]
    async fn playback_status(&self) -> String {
        playback_status(&self.snapshot.borrow()).to_string()
    }

    #[zbus(property)]
    async fn metadata(&self) -> HashMap<String, OwnedValue> {
        metadata(&self.snapshot.borrow())
    }

    #[zbus(property)]
    async fn rate(&self) -> f64 {
        1.0
    }

    #[zbus(property)]
    async fn minimum_rate(&self) -> f64 {
        1.0
    }

    #[zbus(property)]
    async fn maximum_rate(&self) -> f64 {
        1.0
    }

    #[zbus(property)]
    async fn volume(&self) -> f64 {
        self.snapshot.borrow().volume
    }

    #[zbus(property)]
    async fn set_volume(&mut self, volume: f64) -> zbus::fdo::Result<()> {
        self.send(|a| Request::SetVolume(volume.clamp(0.0, 1.0), a))
            .await
    }

    #[zbus(property(emits_changed_signal = "false"))]
    async fn position(&self) -> i64 {
        let s = self.snapshot.borrow();
        s.step_length.saturating_sub(s.remaining_now()).as_micros() as i64
    }

    #[zbus(property)]
    async fn can_go_next(&self) -> bool {
        self.state() != Phase::Idle
    }

    #[zbus(property)]
    async fn can_go_previous(&self) -> bool {
        self.state() != Phase::Idle
    }

    #[zbus(property)]
    async fn can_play(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn can_pause(&self) -> bool {
        self.state() != Phase::Idle
    }

    #[zbus(property)]
    async fn can_seek(&self) -> bool {
        false
    }

    #[zbus(property(emits_changed_signal = "const"))]
    async fn can_control(&self) -> bool {
        true
    }
}
