//! A step that lasts until `next`, live on the real daemon with a real bus and sound server:
//! its repeated cue is heard on its grid for as long as it runs, `where` says how long it has
//! lasted, and it ends when `next` says so.

mod common;

use std::time::Duration;

use common::FLOOR;
use common::desktop::{Desktop, envelope};

const ROUTINE: &str = "name = \"open\"\ntitle = \"Open\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"Pump now.\"\nuntil = \"next\"\nevery = \"3s\"\nevery_tone = \"tick\"\n[[steps]]\ntitle = \"After\"\nsay = \"All done.\"\nduration = \"1s\"\n";

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
    // The prompt (about a second), then 11 s of hands-on time: ticks at 3, 6 and 9 s.
    std::thread::sleep(Duration::from_secs(12));
    let audio = rec.finish();
    let status = d.ok(&["status"]);
    assert!(status.contains("Pump"), "{status}");
    let w = d.ok(&["--quiet", "where"]);
    assert!(w.contains("so far"), "where in an open step: {w}");
    let env = envelope(&audio);
    let ticks = onsets(&env);
    // The start tone and the prompt come before half a second of recording has passed (no
    // onset after quiet); then one onset per tick, three of them.
    assert!(ticks.len() >= 3, "onsets at frames {ticks:?}");
    let gaps: Vec<usize> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| g.abs_diff(300) <= 3),
        "the ticks are not 3 s apart: onsets {ticks:?}"
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
