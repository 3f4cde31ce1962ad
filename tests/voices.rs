//! `letdown voices`: listing what is installed, trying a voice through the real letdownd (heard
//! on the sound server's null sink), and choosing one (config.toml edited in place, the routine
//! then spoken with it).

mod common;

use std::time::Duration;

use common::desktop::{Desktop, best_match, envelope};

const ROUTINE: &str = r#"name = "short"
title = "Short"
[defaults]
countdown = "none"
[[steps]]
title = "One"
say = "Rest your hand on the breast. Then breathe out slowly."
duration = "2s"
"#;

/// `text` as `engine` with `voice` says it, rendered here.
fn rendered(d: &Desktop, engine: &str, voice: &str, text: &str) -> Vec<f32> {
    common::spoken(&d.home.path("test-cache"), engine, voice, text)
}

/// Where `sound`'s first 2 s best match in `heard` (score, seconds in).
fn heard_as(heard: &[f32], sound: &[f32]) -> (f32, f64) {
    let env = envelope(heard);
    let mut want = envelope(sound);
    want.truncate(200);
    let (lag, score) = best_match(&env, &want, 0, env.len().saturating_sub(want.len()));
    (score, lag as f64 * 0.01)
}

#[test]
fn voices_are_listed_tried_by_ear_and_chosen_in_the_config() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/short.toml", ROUTINE);
    d.home.write(
        "config/letdown/config.toml",
        "# my settings\ndefault_routine = \"short\" # the short one\n",
    );
    d.start_daemon(&[]);

    // Listed: Festival's HTS voice first here (no Piper in this home), flite's, espeak-ng's
    // last; with none configured, the first is the one in use.
    let list = d.ok(&["voices"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[1].starts_with("* festival:cmu_us_slt_arctic_hts"),
        "{list}"
    );
    let pos = |name: &str| lines.iter().position(|l| l[2..].starts_with(name));
    assert!(
        pos("flite:rms").is_some() && pos("espeak-ng:en-us").is_some(),
        "{list}"
    );
    assert!(pos("flite:rms") < pos("espeak-ng:en-us"), "{list}");
    assert!(list.contains("(no voice is set in config.toml"), "{list}");

    // Tried: said through letdownd with that voice, not the configured one.
    let rec = d.record();
    let out = d.ok(&["voices", "try", "flite:slt"]);
    std::thread::sleep(Duration::from_secs(4));
    let heard = rec.finish();
    let said = "Rest your hand on the breast. Then breathe out slowly.";
    assert_eq!(out.trim(), format!("flite:slt: \"{said}\""));
    let (slt, at) = heard_as(&heard, &rendered(&d, "flite", "slt", said));
    let (hts, _) = heard_as(
        &heard,
        &rendered(&d, "festival", "cmu_us_slt_arctic_hts", said),
    );
    eprintln!("tried: flite slt {slt:.2} at {at:.1} s, festival {hts:.2}");
    assert!(slt > 0.8, "flite slt was not heard ({slt:.2} at {at:.1} s)");
    assert!(
        hts < slt - 0.1,
        "as like the configured voice ({hts:.2}) as the tried one ({slt:.2})"
    );

    // Refused clearly: an unknown voice here, and a bad one on the bus.
    let out = d.letdown(&["voices", "try", "nobody"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no voice \"nobody\" is installed"),
        "{out:?}"
    );
    let out = d.call("TryVoice", &["ss", "flite", "../../x"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a voice name"),
        "{out:?}"
    );

    // Chosen: written into config.toml, the rest of the file kept; letdownd prepares the
    // routine with it, and the session speaks with it.
    let out = d.ok(&["voices", "use", "rms"]);
    assert!(out.contains("flite:rms is letdown's voice now"), "{out}");
    assert!(out.contains("letdownd is preparing"), "{out}");
    let config = std::fs::read_to_string(d.home.path("config/letdown/config.toml")).unwrap();
    assert!(
        config.starts_with("# my settings\ndefault_routine = \"short\" # the short one\n"),
        "{config}"
    );
    assert!(
        config.contains("[voice]\nengine = \"flite\"\nvoice = \"rms\"\n"),
        "{config}"
    );
    assert!(d.ok(&["voices"]).contains("* flite:rms"));
    let rec = d.record();
    d.ok(&["start"]);
    std::thread::sleep(Duration::from_secs(5));
    let heard = rec.finish();
    let (rms, at) = heard_as(&heard, &rendered(&d, "flite", "rms", said));
    eprintln!("session: flite rms {rms:.2} at {at:.1} s");
    assert!(
        rms > 0.8,
        "the session did not speak with flite rms ({rms:.2} at {at:.1} s)\n{}",
        d.daemon_log()
    );
}
