//! `letdown record` end to end: a null sink's monitor stands in for the microphone (the
//! default source of a real PipeWire server), fed with speech rendered here while the real CLI
//! records. The recordings must match what was said, sit at the loudness of the synthesized
//! prompts, and be what a session then plays.

mod common;

use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use common::desktop::{Desktop, best_match, envelope};

const ROUTINE: &str = r#"name = "mine"
title = "Mine"
[defaults]
countdown = "none"
[[steps]]
title = "One"
say = "Rest your hand on the breast."
duration = "3s"
[[steps]]
title = "Two"
say = "Now stroke gently toward the nipple."
duration = "3s"
"#;

const CONFIG: &str = "default_routine = \"mine\"\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n";

/// `text` as `engine` with `voice` says it, rendered here.
fn said(d: &Desktop, engine: &str, voice: &str, text: &str) -> Vec<f32> {
    common::spoken(&d.home.path("test-cache"), engine, voice, text)
}

/// How well `b` (its first 2 s) matches somewhere in `a`, or `a` in `b` when `a` is shorter.
fn matches(a: &[f32], b: &[f32]) -> f32 {
    let (mut ea, mut eb) = (envelope(a), envelope(b));
    eb.truncate(200);
    if eb.len() > ea.len() {
        std::mem::swap(&mut ea, &mut eb);
        eb.truncate(200);
    }
    best_match(&ea, &eb, 0, ea.len().saturating_sub(eb.len()) + 1).1
}

#[test]
fn a_routine_is_recorded_from_the_microphone_evened_and_played_in_a_session() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/mine.toml", ROUTINE);
    d.home.write("config/letdown/config.toml", CONFIG);
    // The microphone: a null sink whose monitor is the default source.
    let ok = |program: &str, args: &[&str]| {
        let out = d.run(program, args);
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
    };
    ok(
        "pactl",
        &[
            "load-module",
            "module-null-sink",
            "sink_name=mic",
            "rate=48000",
            "channels=1",
        ],
    );
    ok("pactl", &["set-default-source", "mic.monitor"]);
    // The loved one: flite's awb voice, spoken softly (a quarter of full scale).
    let texts = [
        "Rest your hand on the breast.",
        "Now stroke gently toward the nipple.",
    ];
    let sources: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            said(&d, "flite", "awb", t)
                .iter()
                .map(|s| s * 0.25)
                .collect()
        })
        .collect();
    for (i, s) in sources.iter().enumerate() {
        letdown::clip::write_wav(&d.home.path(&format!("source-{i}.wav")), s).unwrap();
    }

    let mut rec = d
        .command(env!("CARGO_BIN_EXE_letdown"))
        .args(["record", "mine", "--count-in", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    for line in std::io::BufReader::new(rec.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed += &line;
        printed += "\n";
        if let Some(n) = line
            .trim()
            .strip_prefix("● recording ")
            .and_then(|r| r.split(':').next())
        {
            let n: usize = n.parse().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            ok(
                "paplay",
                &[
                    "--device=mic",
                    d.home
                        .path(&format!("source-{}.wav", n - 1))
                        .to_str()
                        .unwrap(),
                ],
            );
        }
    }
    let status = rec.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut rec.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "letdown record failed: {err}\n{printed}");

    // Each take is what was said, at the synthesized prompts' loudness.
    let data = d.home.path("data/letdown");
    let target: f64 = texts
        .iter()
        .map(|t| letdown::recordings::loudness(&said(&d, "espeak-ng", "en", t)).unwrap())
        .sum::<f64>()
        / texts.len() as f64;
    let mut takes = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let file = letdown::recordings::file_for(&data, "mine", t);
        let take = letdown::clip::Clip::decode_file(&file)
            .unwrap_or_else(|e| panic!("no recording of \"{t}\": {e}\n{printed}"));
        let score = matches(take.samples(), &sources[i]);
        let other = matches(take.samples(), &sources[1 - i]);
        let lufs = letdown::recordings::loudness(take.samples()).unwrap();
        println!(
            "take {}: matches its source {score:.2} (the other {other:.2}), {lufs:.1} LUFS (target {target:.1})",
            i + 1
        );
        assert!(
            score > 0.8 && score > other,
            "take {} is not what was said",
            i + 1
        );
        assert!(
            (lufs - target).abs() <= 1.0,
            "take {}: {lufs:.1} LUFS, target {target:.1}",
            i + 1
        );
        takes.push(take);
    }
    // `letdown plan` says which prompts are recorded.
    let plan = d.ok(&["plan", "mine"]);
    assert_eq!(plan.matches("recorded").count(), 2, "{plan}");
    // Again: nothing left to record, nothing recorded.
    let again = d.ok(&["record", "mine", "--count-in", "0"]);
    assert_eq!(again.matches("recorded already").count(), 2, "{again}");
    assert!(again.contains("0 prompt(s) recorded"), "{again}");

    // A session plays the recordings, not the synthesized voice.
    d.start_daemon(&[]);
    let recorder = d.record();
    d.ok(&["start", "mine"]);
    std::thread::sleep(Duration::from_secs(5));
    let heard = recorder.finish();
    let mine = matches(&heard, takes[0].samples());
    let synthesized = matches(&heard, &said(&d, "espeak-ng", "en", texts[0]));
    println!("session: the recording {mine:.2}, the synthesized voice {synthesized:.2}");
    assert!(
        mine > 0.8 && mine > synthesized + 0.1,
        "the session did not play the recording"
    );
}
