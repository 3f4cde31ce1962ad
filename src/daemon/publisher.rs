//! The publisher: a task beside the coach that turns its snapshots and signals into D-Bus
//! property changes and signals, and owns the MPRIS name only while a session runs. The coach
//! never waits on the bus: it sends the latest snapshot and goes on.

use tokio::sync::{mpsc, watch};

use super::bus::{CoachInterface, OBJECT_PATH};
use super::mpris::{self, MPRIS_NAME, MPRIS_PATH, MprisPlayer};
use super::snapshot::{Signal, Snapshot};

/// Emits property-change signals for every changed field, the coach's signals, and owns the
/// MPRIS name only while a session runs.
pub async fn publish(
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

/// Emits one of the coach's signals.
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

/// Emits a change signal for each property that differs between `a` and `b`.
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
