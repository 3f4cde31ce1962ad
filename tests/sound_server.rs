//! letdownd keeps one connection to the sound server while idle, and still plays where a user
//! expects: on the default sink of the moment a session starts (a headset plugged in, made
//! the default), and after the sound server was restarted while it idled.

mod common;

use std::time::{Duration, Instant};

use common::desktop::{Desktop, Recorder};

/// Loud enough to be a sound, not noise (RMS of a 10 ms frame).
const HEARD: f32 = 0.01;

/// Seconds into `samples` of the first 10 ms frame louder than [`HEARD`].
fn first_heard(samples: &[f32]) -> Option<f64> {
    samples
        .chunks(480)
        .position(|f| common::rms(f) > HEARD)
        .map(|i| i as f64 * 0.01)
}

fn desktop() -> Desktop {
    let mut d = Desktop::start();
    d.home.write(
        "config/letdown/config.toml",
        "[voice]\nengine = \"espeak-ng\"\nfallback = []\n",
    );
    d.start_daemon(&[]);
    d
}

/// Starts the default routine, lets it play `secs`, stops it and returns the recordings.
fn play_a_little(d: &Desktop, recorders: Vec<Recorder>, secs: f64) -> Vec<Vec<f32>> {
    d.ok(&["start"]);
    std::thread::sleep(Duration::from_secs_f64(secs));
    d.ok(&["stop"]);
    recorders.into_iter().map(Recorder::finish).collect()
}

/// Loads a null sink named `name` (as plugging a device in adds a sink).
fn add_sink(d: &Desktop, name: &str) {
    let out = d.run(
        "pactl",
        &[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
        ],
    );
    assert!(out.status.success(), "no sink {name}: {out:?}");
}

fn set_default_sink(d: &Desktop, name: &str) {
    let out = d.run("pactl", &["set-default-sink", name]);
    assert!(out.status.success(), "{out:?}");
}

/// Whether a session started now is heard on `on` and not on `not_on`.
fn heard_only_on(d: &Desktop, on: &str, not_on: &str) {
    let rec = vec![
        d.record_from(&format!("{on}.monitor")),
        d.record_from(&format!("{not_on}.monitor")),
    ];
    let heard = play_a_little(d, rec, 1.5);
    assert!(
        first_heard(&heard[0]).is_some(),
        "nothing was heard on {on}, the default sink (loudest frame {:.4})\n{}",
        heard[0].chunks(480).map(common::rms).fold(0.0, f32::max),
        d.daemon_log()
    );
    assert_eq!(
        first_heard(&heard[1]),
        None,
        "the session played on {not_on}, which is not the default sink"
    );
}

#[test]
fn a_session_after_the_default_sink_changed_plays_on_the_new_one() {
    let d = desktop();
    // Two sinks (WirePlumber's auto_null goes away once there is one): speakers, the default
    // as letdownd keeps its connection, then a headset plugged in and made the default.
    add_sink(&d, "speakers");
    add_sink(&d, "headset");
    set_default_sink(&d, "speakers");
    heard_only_on(&d, "speakers", "headset");
    std::thread::sleep(Duration::from_millis(500));
    set_default_sink(&d, "headset");
    heard_only_on(&d, "headset", "speakers");
}

#[test]
fn a_session_after_the_sound_server_restarted_plays() {
    let d = desktop();
    let connected = |log: &str| log.matches("connected to the sound server").count();
    // The kept connection is made as letdownd starts.
    let until = Instant::now() + Duration::from_secs(10);
    while connected(&d.daemon_log()) == 0 {
        assert!(
            Instant::now() < until,
            "letdownd never connected:\n{}",
            d.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d.restart_sound_server();
    let heard = play_a_little(&d, vec![d.record()], 1.5);
    let log = d.daemon_log();
    assert!(
        first_heard(&heard[0]).is_some(),
        "nothing was heard after the sound server restarted\n{log}"
    );
    // Through the sound server again, on a new connection: not through the ALSA fallback.
    assert_eq!(connected(&log), 2, "no new connection:\n{log}");
    assert!(
        !log.contains("playing through ALSA instead"),
        "it fell back to ALSA:\n{log}"
    );
}
