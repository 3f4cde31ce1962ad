//! letdownd: the background service that guides sessions out loud.
//!
//! One task (the [`coach`]) runs the session and holds the owners of the rest ([`scheduler`],
//! [`audio`], [`preparer`]); the D-Bus interface ([`bus`]) and MPRIS ([`mpris`]) send it typed
//! [`request`]s over a channel, and a publisher task turns its snapshots into property-change
//! signals. docs/ARCHITECTURE.md shows how a command flows through them.

pub mod args;
pub mod audio;
pub mod babybuddy;
pub mod bus;
pub mod caught;
pub mod coach;
pub mod error;
pub mod folder_watch;
pub mod live;
pub mod login_start;
pub mod memory;
pub mod mpris;
pub mod preparer;
pub mod request;
pub mod routines;
pub mod scheduler;
pub mod snapshot;
pub mod wallclock;
pub mod writer;
pub mod zone;

use tokio::sync::{mpsc, watch};
use zbus::fdo::RequestNameFlags;

use crate::config::Config;
use crate::output::Output;
use crate::paths::Paths;
use bus::{BUS_NAME, CoachInterface, OBJECT_PATH};
use coach::Coach;
use mpris::{MPRIS_NAME, MPRIS_PATH, MprisPlayer, MprisRoot};
use snapshot::{Signal, Snapshot};

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(paths: Paths, output: Box<dyn Output>) -> anyhow::Result<()> {
    let cfg = match Config::load(&paths.config_file()) {
        Ok(c) => c,
        Err(e) => {
            log::error!(
                "the config file has problems; using the defaults until it is fixed and reloaded:\n{e}"
            );
            Config::default()
        }
    }
    .on_this_machine(&paths);
    let (tx, rx) = mpsc::channel(64);
    let (snap_tx, snap_rx) = watch::channel(Snapshot::idle(cfg.volume));
    let (sig_tx, sig_rx) = mpsc::unbounded_channel();
    let conn = zbus::connection::Builder::session()?
        .serve_at(
            OBJECT_PATH,
            CoachInterface::new(tx.clone(), snap_rx.clone()),
        )?
        .serve_at(MPRIS_PATH, MprisRoot)?
        .serve_at(MPRIS_PATH, MprisPlayer::new(tx.clone(), snap_rx.clone()))?
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the D-Bus session bus: {e}"))?;
    let taken = || {
        anyhow::anyhow!(
            "another letdownd already owns {BUS_NAME} on this bus; stop it first (`letdown` talks to it as it is)"
        )
    };
    match conn
        .request_name_with_flags(BUS_NAME, RequestNameFlags::DoNotQueue.into())
        .await
    {
        Ok(zbus::fdo::RequestNameReply::PrimaryOwner) => {}
        Ok(_) | Err(zbus::Error::NameTaken) => return Err(taken()),
        Err(e) => return Err(e.into()),
    }
    log::info!(
        "serving {BUS_NAME} at {OBJECT_PATH}, playing to {}",
        output.describe()
    );
    let coach = Coach::new(paths, cfg, output, snap_tx, sig_tx);
    let publisher = tokio::spawn(publish(conn.clone(), snap_rx, sig_rx));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let mut coach_task = tokio::spawn(coach.run(rx, stop_rx));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ended = tokio::select! {
        _ = term.recv() => { log::info!("SIGTERM: stopping"); None }
        _ = tokio::signal::ctrl_c() => { log::info!("interrupted: stopping"); None }
        ended = &mut coach_task => Some(ended),
    };
    let result = match ended {
        // Asked to stop: the coach stops the session and closes the output, then the bus name
        // goes. (A JoinHandle that select! has already seen finish must not be awaited again.)
        None => {
            let _ = stop_tx.send(());
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), coach_task).await;
            Ok(())
        }
        // The coach ended by itself: only a panic does that. Exit failing, so systemd restarts
        // letdownd (Restart=on-failure); state is on disk.
        Some(Err(e)) => Err(anyhow::anyhow!("the coach stopped: {e}")),
        Some(Ok(())) => Err(anyhow::anyhow!("the coach stopped unexpectedly")),
    };
    publisher.abort();
    drop(tx);
    drop(conn);
    result
}

/// Emits property-change signals for every changed field, the coach's signals, and owns the
/// MPRIS name only while a session runs.
async fn publish(
    conn: zbus::Connection,
    mut snap_rx: watch::Receiver<Snapshot>,
    mut sig_rx: mpsc::UnboundedReceiver<Signal>,
) {
    let mut last = snap_rx.borrow().clone();
    let mut mpris_owned = false;
    loop {
        tokio::select! {
            changed = snap_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = snap_rx.borrow_and_update().clone();
                if let Err(e) = emit_changes(&conn, &last, &now).await {
                    log::warn!("could not emit property changes: {e}");
                }
                let want = now.state.in_session();
                if want != mpris_owned {
                    let r = if want {
                        conn.request_name(MPRIS_NAME).await.map(|_| ())
                    } else {
                        conn.release_name(MPRIS_NAME).await.map(|_| ())
                    };
                    match r {
                        Ok(()) => mpris_owned = want,
                        Err(e) => log::warn!("MPRIS name: {e}"),
                    }
                }
                last = now;
            }
            sig = sig_rx.recv() => {
                let Some(sig) = sig else { break };
                if let Err(e) = emit_signal(&conn, sig).await {
                    log::warn!("could not emit a signal: {e}");
                }
            }
        }
    }
}

async fn emit_signal(conn: &zbus::Connection, sig: Signal) -> zbus::Result<()> {
    let iface = conn
        .object_server()
        .interface::<_, CoachInterface>(OBJECT_PATH)
        .await?;
    let e = iface.signal_emitter();
    match sig {
        Signal::StepStarted(i, title) => CoachInterface::step_started(e, i, &title).await,
        Signal::SessionFinished(r, completed) => {
            CoachInterface::session_finished(e, &r, completed).await
        }
        Signal::ScheduleFired(id, routine, reason) => {
            CoachInterface::schedule_fired(e, &id, &routine, &reason).await
        }
    }
}

async fn emit_changes(conn: &zbus::Connection, a: &Snapshot, b: &Snapshot) -> zbus::Result<()> {
    let coach = conn
        .object_server()
        .interface::<_, CoachInterface>(OBJECT_PATH)
        .await?;
    let e = coach.signal_emitter();
    let c = coach.get().await;
    if a.state != b.state {
        c.state_changed(e).await?;
    }
    if a.routine != b.routine {
        c.routine_changed(e).await?;
    }
    if a.step_index != b.step_index {
        c.step_index_changed(e).await?;
    }
    if a.step_count != b.step_count {
        c.step_count_changed(e).await?;
    }
    if a.step_title != b.step_title {
        c.step_title_changed(e).await?;
    }
    if a.step_length != b.step_length {
        c.step_length_changed(e).await?;
    }
    c.step_remaining_invalidate(e).await?;
    if a.volume != b.volume {
        c.volume_changed(e).await?;
    }
    if a.next_session != b.next_session {
        c.next_session_changed(e).await?;
    }
    if a.feed_plan != b.feed_plan {
        c.feed_plan_changed(e).await?;
    }
    drop(c);
    let player = conn
        .object_server()
        .interface::<_, MprisPlayer>(MPRIS_PATH)
        .await?;
    let e = player.signal_emitter();
    let p = player.get().await;
    if a.state != b.state {
        p.playback_status_changed(e).await?;
        p.can_go_next_changed(e).await?;
        p.can_go_previous_changed(e).await?;
        p.can_pause_changed(e).await?;
    }
    if mpris::metadata(a) != mpris::metadata(b) {
        p.metadata_changed(e).await?;
    }
    if a.volume != b.volume {
        p.volume_changed(e).await?;
    }
    Ok(())
}
