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

/// The natural voice the tests install (`scripts/install-deps --test`), linked into a home.
fn link_piper(d: &Desktop) {
    let home = std::env::var("HOME").unwrap();
    let from = std::path::Path::new(&home).join(".cache/letdown-test/data/letdown");
    assert!(
        from.join("piper/venv/bin/python").is_file(),
        "the natural voice is not installed for tests: run scripts/install-deps --test"
    );
    let to = d.home.path("data/letdown");
    std::fs::create_dir_all(&to).unwrap();
    for dir in ["piper", "voices"] {
        std::os::unix::fs::symlink(from.join(dir), to.join(dir)).unwrap();
    }
}

/// Onsets and ends of sounds in `samples`, as 10 ms frame indices: (start, end) of each run
/// of frames louder than `floor` RMS, runs closer than `join` frames taken as one.
fn sounds(samples: &[f32], floor: f32, join: usize) -> Vec<(usize, usize)> {
    let loud: Vec<bool> = samples
        .chunks(480)
        .map(|f| common::rms(f) > floor)
        .collect();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, &l) in loud.iter().enumerate() {
        if !l {
            continue;
        }
        match out.last_mut() {
            Some((_, end)) if i <= *end + join => *end = i + 1,
            _ => out.push((i, i + 1)),
        }
    }
    out
}

/// Presses `fed` and checks its words ("Feed logged.") begin within 300 ms of its tone's end.
fn words_follow_the_fed_tone(d: &Desktop) {
    let rec = d.record();
    d.ok(&["fed", "--side", "left"]);
    std::thread::sleep(Duration::from_secs(8));
    let heard = rec.finish();
    // The tone, then (after the 250 ms breath between an answer's parts) "Feed logged.", then
    // the rest once Piper has loaded: sounds joined across gaps under 100 ms (between words),
    // heard down to -60 dBFS (the null sink is digital silence; "Feed" begins with a soft f).
    let found = sounds(&heard, 0.001, 10);
    assert!(
        found.len() >= 2,
        "the tone and words were not both heard: {found:?}\n{}",
        d.daemon_log()
    );
    let (tone, words) = (found[0], found[1]);
    let gap_ms = (words.0 - tone.1) * 10;
    println!("tone {tone:?}, then words {words:?}: {gap_ms} ms after the tone (10 ms frames)");
    assert!(
        gap_ms <= 300,
        "the words came {gap_ms} ms after the tone (over 300 ms): {found:?}\n{}",
        d.daemon_log()
    );
    assert!(
        words.1 - words.0 >= 30,
        "what followed the tone is too short to be words: {found:?}"
    );
    assert!(d.daemon_log().contains("saying: Feed logged at"));
}

#[test]
fn a_keys_words_follow_its_tone_at_once_when_piper_has_gone_idle() {
    let mut d = Desktop::start();
    link_piper(&d);
    d.home.write(
        "config/letdown/config.toml",
        "[voice]\nengine = \"piper\"\nvoice = \"en_US-joe-medium\"\nfallback = []\ntimeout = \"60s\"\n",
    );
    // The worker leaves after 2 s without work (an hour idle, shortened).
    d.extra_env.push(("LETDOWN_PIPER_IDLE".into(), "2".into()));
    d.start_daemon(&[]);
    let pid = d.daemon_pid();
    wait_for_answers_ahead(&d);
    // No worker is left: the words must come without one starting first.
    let until = Instant::now() + Duration::from_secs(30);
    while common::piper_workers_of(pid) > 0 {
        assert!(Instant::now() < until, "the Piper worker never left");
        std::thread::sleep(Duration::from_millis(100));
    }
    words_follow_the_fed_tone(&d);
}

/// Wait for the answers' heads to be in the speech cache.
fn wait_for_answers_ahead(d: &Desktop) {
    let until = Instant::now() + Duration::from_secs(120);
    while !d.daemon_log().contains("answers ready ahead") {
        assert!(
            Instant::now() < until,
            "the answers were never ready:\n{}",
            d.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The same with a voice that takes 2 s to say anything (as a neural voice loading its model
/// on a slow disk does): only words prepared ahead can follow the tone at once. (Piper here
/// starts in about half a second, so the test above would pass without them.)
#[test]
fn a_keys_words_follow_its_tone_at_once_when_the_voice_is_slow_to_start() {
    let mut d = Desktop::start();
    let slow = d.home.path("slow-now");
    d.home.write(
        "config/letdown/config.toml",
        &format!(
            "[voice]\nengine = \"command\"\nfallback = []\ntimeout = \"60s\"\n\
             command = [\"/bin/sh\", \"-c\", \"if [ -e {} ]; then sleep 2; fi; exec espeak-ng -w \\\"$1\\\" \\\"$0\\\"\", \"{{text}}\", \"{{out}}\"]\n",
            slow.display()
        ),
    );
    d.start_daemon(&[]);
    wait_for_answers_ahead(&d);
    // From now on every synthesis takes 2 s more.
    std::fs::write(&slow, "").unwrap();
    words_follow_the_fed_tone(&d);
}
