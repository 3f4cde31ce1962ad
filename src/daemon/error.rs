//! The errors the daemon answers with: named D-Bus errors a script can match on, each with a
//! message a person can act on.

/// A refused or failed request. Over D-Bus each variant is the error
/// `org.letdown.Coach1.Error.<Variant>`.
#[derive(Debug, Clone, PartialEq, zbus::DBusError)]
#[zbus(prefix = "org.letdown.Coach1.Error")]
pub enum CoachError {
    /// A D-Bus transport error (never sent by letdownd itself).
    #[zbus(error)]
    ZBus(zbus::Error),
    /// No routine by that name.
    UnknownRoutine(String),
    /// The routine exists but its file has problems.
    InvalidRoutine(String),
    /// The command needs a running session.
    NotRunning(String),
    /// Start while a session runs.
    AlreadyRunning(String),
    /// Pause while paused, resume while running.
    WrongState(String),
    /// An argument out of range.
    InvalidArgument(String),
    /// The config file has problems; nothing was changed.
    InvalidConfig(String),
    /// No sound output could be opened.
    AudioUnavailable(String),
    /// Speech could not be prepared by any engine.
    SpeechFailed(String),
    /// No feed or schedule with that id.
    NotFound(String),
    /// The state could not be written (disk full, read-only...); nothing was changed.
    StorageFailed(String),
    /// The Baby Buddy server could not be read or written (what is waiting stays queued).
    SyncFailed(String),
}

impl From<crate::engine::CommandError> for CoachError {
    fn from(e: crate::engine::CommandError) -> Self {
        use crate::engine::CommandError as E;
        let msg = e.to_string();
        match e {
            E::NotRunning => {
                CoachError::NotRunning(format!("{msg}; start one with `letdown start`"))
            }
            E::AlreadyRunning => CoachError::AlreadyRunning(msg),
            E::AlreadyPaused | E::NotPaused | E::OpenStep => CoachError::WrongState(msg),
            E::BadExtension => CoachError::InvalidArgument(msg),
        }
    }
}
