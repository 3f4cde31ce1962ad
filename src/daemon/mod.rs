//! letdownd: the background service that guides sessions out loud.
//!
//! One task (the [`coach`]) runs the session and holds the owners of the rest ([`scheduler`],
//! [`audio`], [`preparer`]); the D-Bus interface ([`bus`]) and MPRIS ([`mpris`]) send it typed
//! [`request`]s over a channel, and a [`publisher`] task turns its snapshots into property-change
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
pub mod publisher;
pub mod request;
pub mod returns;
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
use mpris::{MPRIS_PATH, MprisPlayer, MprisRoot};
use snapshot::Snapshot;

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
    let publisher = tokio::spawn(publisher::publish(conn.clone(), snap_rx, sig_rx));
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
