//! Every command a shortcut runs is answered aloud: each of `letdown shortcuts`' bindings is
//! pressed (the real CLI, the real letdownd, a real sound server) at a moment when nothing
//! else sounds, and something must be heard within 1.5 s of the press.

mod common;

use std::time::Duration;

use common::desktop::Desktop;

/// One step: a short prompt, then a minute of silent hands-on time.
const ROUTINE: &str = r#"name = "quiet"
title = "Quiet"
[defaults]
countdown = "none"
[[steps]]
title = "One"
say = "One."
duration = "60s"
[[steps]]
title = "Two"
say = "Two."
duration = "60s"
"#;

/// The loudest 10 ms (RMS) in `samples`.
fn loudest(samples: &[f32]) -> f32 {
    samples.chunks(480).map(common::rms).fold(0.0, f32::max)
}

#[test]
fn every_bound_command_is_answered_aloud() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/quiet.toml", ROUTINE);
    d.home.write(
        "config/letdown/config.toml",
        "default_routine = \"quiet\"\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n",
    );
    d.start_daemon(&[]);
    let mut heard = Vec::new();
    for (id, _, args, _) in letdown::shortcuts::BINDINGS {
        let args: Vec<&str> = args.split_whitespace().collect();
        // The moment each is pressed in: a session in its silent hands-on time for the
        // session keys (a paused one for resume), a session scheduled for snooze and skip,
        // nothing for the rest (fed-end comes after fed-both, whose feed it ends).
        let session = !matches!(
            *id,
            "start"
                | "fed-left"
                | "fed-right"
                | "fed-both"
                | "fed-end"
                | "pumped"
                | "snooze"
                | "skip"
        );
        let idle = d.wait_state("idle", Duration::from_millis(100));
        if session && idle {
            d.ok(&["--quiet", "start"]);
        }
        if !session && !idle {
            d.ok(&["--quiet", "stop"]);
        }
        if *id == "pumped" {
            // The key repeats the last pumping's amount: there is one.
            d.ok(&["--quiet", "pumped", "--amount", "90ml", "--ago", "3h"]);
        }
        if matches!(*id, "snooze" | "skip") {
            d.ok(&["--quiet", "schedule", "in", "30m"]);
        }
        // Every sound of the set-up (and the last key's sentence) has died away: for longer
        // than the half second checked before the press below, since the recording's tail
        // (what was captured) and its placement in time (from the launch) can differ by tens
        // of ms. Waiting for exactly that half second failed 2 runs in 5 here, the sentence
        // before ending 0.56 s ahead of the press.
        let rec = d.record();
        rec.wait_silence(0.003, Duration::from_secs(1), Duration::from_secs(15));
        let before = rec.now_sample();
        let out = d.letdown(&args);
        std::thread::sleep(Duration::from_millis(1500));
        let after = rec.now_sample();
        let samples = rec.finish();
        assert!(
            out.status.success(),
            "letdown {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let quiet_before = loudest(&samples[before.saturating_sub(24_000)..before]);
        let answer = loudest(&samples[before..after.min(samples.len())]);
        assert!(
            quiet_before < 0.003,
            "{id}: not a silent moment before the press ({quiet_before:.4})\n{}",
            d.daemon_log()
        );
        assert!(
            answer > 0.02,
            "{id}: `letdown {}` was not answered aloud within 1.5 s (loudest {answer:.4})\n{}",
            args.join(" "),
            d.daemon_log()
        );
        heard.push(format!("{id} {answer:.2}"));
        // Toggle paused it: resume is a key press too.
        if *id == "toggle" {
            d.ok(&["--quiet", "toggle"]);
        }
    }
    println!("loudest answer per key: {}", heard.join(", "));
}
