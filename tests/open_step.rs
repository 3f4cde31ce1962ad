//! A step that lasts until `next`, live on the real daemon with a real bus and sound server:
//! its repeated cue is heard on its grid for as long as it runs, `where` says how long it has
//! lasted, and it ends when `next` says so.

mod common;

use std::time::Duration;

use common::FLOOR;
use common::desktop::{Desktop, envelope};

const ROUTINE: &str = "name = \"open\"\ntitle = \"Open\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"Pump now.\"\nuntil = \"next\"\nevery = \"3s\"\nevery_tone = \"tick\"\nremind_every = \"1m\"\n[[steps]]\ntitle = \"After\"\nsay = \"All done.\"\nduration = \"1s\"\n";

/// Frames (10 ms) where a sound begins after at least 0.5 s of quiet.
fn onsets(env: &[f32]) -> Vec<usize> {
    (50..env.len())
        .filter(|&i| env[i] > FLOOR && env[i - 50..i].iter().all(|&r| r <= FLOOR))
        .collect()
}

#[test]
fn an_open_step_repeats_its_cue_until_next() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/open.toml", ROUTINE);
    d.home.write(
        "config/letdown/config.toml",
        "[voice]\nengine = \"espeak-ng\"\nfallback = []\n",
    );
    d.ok(&["prepare", "open"]);
    d.start_daemon(&[]);
    let rec = d.record();
    d.ok(&["--quiet", "start", "open"]);
    // The prompt (about a second), then a minute of hands-on time: ticks every 3 s, and at
    // one minute "One minute." in place of a tick.
    std::thread::sleep(Duration::from_secs(64));
    let audio = rec.finish();
    let status = d.ok(&["status"]);
    assert!(
        status.contains("Pump") && status.contains("so far (until next)"),
        "{status}"
    );
    let w = d.ok(&["--quiet", "where"]);
    assert!(w.contains("so far"), "where in an open step: {w}");
    let env = envelope(&audio);
    let sounds = onsets(&env);
    // The start tone and the prompt come before half a second of recording has passed (no
    // onset after quiet); then one onset every 3 s.
    assert!(sounds.len() >= 19, "onsets at frames {sounds:?}");
    let gaps: Vec<usize> = sounds.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| g.abs_diff(300) <= 3),
        "the cues are not 3 s apart: onsets {sounds:?}"
    );
    // How long each sounds: a tick is 70 ms; the one a minute into the hands-on time (the
    // 20th cue; the first is at 3 s) is the reminder, speech.
    let length = |at: usize| env[at..].iter().take_while(|&&r| r > FLOOR).count();
    let minute = sounds[19];
    assert!(
        length(minute) > 30,
        "no speech at one minute: {} frames",
        length(minute)
    );
    assert!(
        length(sounds[18]) < 15,
        "a tick is short: {}",
        length(sounds[18])
    );
    // Twelve seconds is longer than nothing, shorter than its shown 10 minutes: next ends it.
    d.ok(&["--quiet", "next"]);
    assert!(
        d.wait_state("idle", Duration::from_secs(20))
            || d.wait_state("finished", Duration::from_secs(1)),
        "next did not end the open step:\n{}",
        d.daemon_log()
    );
    d.stop_daemon();
}
