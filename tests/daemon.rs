//! End-to-end: the real letdownd on a private D-Bus session bus, playing through a real
//! PipeWire server into its null sink, driven by the real `letdown` CLI, busctl, gdbus,
//! dbus-send and playerctl. The null sink's monitor is recorded and analysed.

mod common;

use std::time::{Duration, Instant};

use common::desktop::{Desktop, best_match, envelope};
use common::{FLOOR, read_wav};

const ROUTINE: &str = r#"name = "e2e"
title = "End to end"
[defaults]
countdown = "none"
[[steps]]
title = "One"
say = "Place one hand on top of the breast, and the other one underneath it."
duration = "3s"
[[steps]]
title = "Two"
say = "Now a gentle wringing twist, with both hands."
duration = "3s"
[[steps]]
title = "Three"
say = "All done."
duration = "2s"
"#;

const SLOW: &str = r#"name = "slow"
title = "Slow"
[[steps]]
title = "Long one"
say = "Take your time."
duration = "10m"
[[steps]]
title = "Long two"
say = "And again."
duration = "10m"
"#;

/// A desktop with the test routines installed and their speech prepared (cache filled).
fn desktop() -> (Desktop, serde_json::Value, Vec<f32>) {
    let d = Desktop::start();
    d.home.write("config/letdown/routines/e2e.toml", ROUTINE);
    d.home.write("config/letdown/routines/slow.toml", SLOW);
    let plan: serde_json::Value = serde_json::from_str(&d.ok(&["plan", "e2e", "--json"])).unwrap();
    let reference = d.home.path("ref.wav");
    d.ok(&["render", "e2e", "-o", reference.to_str().unwrap()]);
    let reference = read_wav(&reference);
    (d, plan, reference)
}

fn cue(plan: &serde_json::Value, step: usize, sound: &str) -> (usize, usize) {
    let c = plan["steps"][step]["cues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sound"] == sound)
        .unwrap_or_else(|| panic!("no {sound} in step {step}"));
    (
        c["at_sample"].as_u64().unwrap() as usize,
        c["len_samples"].as_u64().unwrap() as usize,
    )
}

const FRAME: usize = 480; // 10 ms

fn loud(frames: &[f32]) -> usize {
    frames.iter().filter(|&&r| r > FLOOR).count()
}

#[test]
fn a_session_is_heard_paused_resumed_skipped_and_finished() {
    let (mut d, plan, reference) = desktop();
    d.start_daemon(&[]);
    let monitor = d
        .command("dbus-monitor")
        .args(["--session", "type='signal',interface='org.letdown.Coach1'"])
        .stdout(std::fs::File::create(d.home.path("signals.txt")).unwrap())
        .spawn()
        .unwrap();
    let rec = d.record();
    let t_start = rec.now_sample();
    d.ok(&["start", "e2e"]);
    std::thread::sleep(Duration::from_millis(1500)); // inside step one's prompt
    let t_pause = rec.now_sample();
    d.ok(&["pause"]);
    std::thread::sleep(Duration::from_millis(1500));
    let t_resume = rec.now_sample();
    d.ok(&["resume"]);
    std::thread::sleep(Duration::from_millis(600));
    let t_next = rec.now_sample();
    d.ok(&["next"]);
    assert!(
        d.wait_state("idle", Duration::from_secs(30)),
        "the session did not finish:\n{}",
        d.daemon_log()
    );
    std::thread::sleep(Duration::from_millis(300));
    let audio = rec.finish();
    let mut monitor = monitor;
    let _ = monitor.kill();
    let _ = monitor.wait();
    let env = envelope(&audio);
    let f = |sample: usize| sample / FRAME;

    // Started: sound soon after the command. (How soon is the benchmark's business: this test
    // runs a debug build beside other tests on two cores.)
    let first = env
        .iter()
        .position(|&r| r > FLOOR)
        .expect("nothing was heard");
    assert!(
        first >= f(t_start) && first - f(t_start) <= 50,
        "first sound {} frames after start",
        first as i64 - f(t_start) as i64
    );
    // Speech was playing just before the pause.
    assert!(
        loud(&env[f(t_pause) - 30..f(t_pause)]) > 10,
        "no speech before the pause"
    );
    // Paused: silence (after the command's own latency) until resume. The last 10 ms frame
    // before the resume command is left out: a resume is heard about 10 ms after it now (the
    // output drops its buffer of silence), and the recording is placed in time to within a
    // few ms, so its onset can fall in that frame.
    let paused = &env[f(t_pause) + 15..f(t_resume) - 1];
    assert_eq!(loud(paused), 0, "sound during the pause: {paused:?}");
    // Resumed: the prompt goes on at once.
    assert!(
        loud(&env[f(t_resume)..f(t_resume) + 20]) > 5,
        "no sound right after resume"
    );
    // Next: step two's prompt, as rendered, is heard right after its start tone.
    let (at, len) = cue(&plan, 1, "prompt:2");
    let step2 = plan["steps"][1]["start_sample"].as_u64().unwrap() as usize;
    let want = envelope(&reference[at..at + len]);
    let expected_lag = f(t_next) + f(at - step2);
    let (lag, score) = best_match(&env, &want, f(t_next), f(t_next) + 300);
    assert!(
        score > 0.9,
        "step two's prompt not recognised (best correlation {score})"
    );
    assert!(
        lag.abs_diff(expected_lag) <= 20,
        "step two's prompt at frame {lag}, expected about {expected_lag}"
    );
    // Finished: the session-end tone is heard after step three's prompt.
    let (end_at, end_len) = cue(&plan, 2, "tone:session-end");
    let end_tone = envelope(&reference[end_at..end_at + end_len]);
    let (_, end_score) = best_match(&env, &end_tone, lag, env.len());
    assert!(
        end_score > 0.9,
        "the session-end tone was not heard ({end_score})"
    );
    // Signals went out on the bus.
    let signals = std::fs::read_to_string(d.home.path("signals.txt")).unwrap();
    for want in [
        "member=StepStarted",
        "string \"Two\"",
        "member=SessionFinished",
        "boolean true",
    ] {
        assert!(
            signals.contains(want),
            "no {want} in the signals:\n{signals}"
        );
    }
}

#[test]
fn busctl_gdbus_and_playerctl_control_a_session() {
    let (mut d, _, _) = desktop();
    d.start_daemon(&[]);
    let intro = String::from_utf8(
        d.run(
            "busctl",
            &[
                "--user",
                "introspect",
                "org.letdown.Coach",
                "/org/letdown/Coach",
                "org.letdown.Coach1",
            ],
        )
        .stdout,
    )
    .unwrap();
    for m in [
        ".Start",
        ".Stop",
        ".Pause",
        ".Resume",
        ".TogglePause",
        ".Next",
        ".Previous",
        ".Repeat",
        ".Extend",
        ".WhereAmI",
        ".ListRoutines",
        ".Reload",
        ".State",
        ".StepRemaining",
        ".Volume",
        ".StepStarted",
        ".SessionFinished",
    ] {
        assert!(intro.contains(m), "introspection lacks {m}:\n{intro}");
    }
    let players = |d: &Desktop| String::from_utf8(d.run("playerctl", &["-l"]).stdout).unwrap();
    assert!(
        !players(&d).contains("letdown"),
        "an idle letdown must not be an MPRIS player"
    );
    let out = d.call("Start", &["s", "slow"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pc = |d: &Desktop, args: &[&str]| {
        let mut a = vec!["-p", "letdown"];
        a.extend_from_slice(args);
        let out = d.run("playerctl", &a);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let until = Instant::now() + Duration::from_secs(5);
    while !players(&d).contains("letdown") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(pc(&d, &["status"]), "Playing");
    assert_eq!(pc(&d, &["metadata", "xesam:title"]), "Long one");
    assert_eq!(pc(&d, &["metadata", "xesam:album"]), "Slow");
    pc(&d, &["play-pause"]);
    assert_eq!(pc(&d, &["status"]), "Paused");
    let gdbus_state = String::from_utf8(
        d.run(
            "gdbus",
            &[
                "call",
                "--session",
                "-d",
                "org.letdown.Coach",
                "-o",
                "/org/letdown/Coach",
                "-m",
                "org.freedesktop.DBus.Properties.Get",
                "org.letdown.Coach1",
                "State",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(gdbus_state.contains("'paused'"), "{gdbus_state}");
    pc(&d, &["play-pause"]);
    assert_eq!(pc(&d, &["status"]), "Playing");
    pc(&d, &["next"]);
    let idx = String::from_utf8(d.property("StepIndex").stdout).unwrap();
    assert_eq!(idx.trim(), "u 1");
    assert_eq!(pc(&d, &["metadata", "xesam:title"]), "Long two");
    let where_ = String::from_utf8(
        d.run(
            "gdbus",
            &[
                "call",
                "--session",
                "-d",
                "org.letdown.Coach",
                "-o",
                "/org/letdown/Coach",
                "-m",
                "org.letdown.Coach1.WhereAmI",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(where_.contains("Step 2 of 2, Long two"), "{where_}");
    pc(&d, &["stop"]);
    assert!(d.wait_state("idle", Duration::from_secs(5)));
    let until = Instant::now() + Duration::from_secs(5);
    while players(&d).contains("letdown") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !players(&d).contains("letdown"),
        "letdown stayed an MPRIS player after the session"
    );
    assert!(d.daemon_alive());
}

fn dbus_send(d: &Desktop, args: &[&str]) -> String {
    let mut a = vec![
        "--session",
        "--print-reply",
        "--dest=org.letdown.Coach",
        "/org/letdown/Coach",
    ];
    a.extend_from_slice(args);
    let out = d.run("dbus-send", &a);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn bad_input_gets_named_errors_and_the_daemon_keeps_its_state() {
    let (mut d, _, _) = desktop();
    d.start_daemon(&[]);
    let r = dbus_send(&d, &["org.letdown.Coach1.Start", "string:nope"]);
    assert!(
        r.contains("org.letdown.Coach1.Error.UnknownRoutine") && r.contains("known routines:"),
        "{r}"
    );
    let r = dbus_send(&d, &["org.letdown.Coach1.Pause"]);
    assert!(r.contains("org.letdown.Coach1.Error.NotRunning"), "{r}");
    d.ok(&["start", "slow"]);
    d.ok(&["next"]);
    let r = dbus_send(&d, &["org.letdown.Coach1.Start", "string:e2e"]);
    assert!(r.contains("org.letdown.Coach1.Error.AlreadyRunning"), "{r}");
    // A wrong argument type is refused by the bus layer, with the signature it wanted.
    let r = dbus_send(&d, &["org.letdown.Coach1.Extend", "int32:-5"]);
    assert!(
        r.contains("Error org.freedesktop.zbus.Error: Signature mismatch: got `i`, expected `u`"),
        "{r}"
    );
    let r = dbus_send(&d, &["org.letdown.Coach1.Extend", "uint32:0"]);
    assert!(
        r.contains("org.letdown.Coach1.Error.InvalidArgument"),
        "{r}"
    );
    let r = dbus_send(&d, &["org.letdown.Coach1.Extend", "uint32:4000000000"]);
    assert!(
        r.contains("org.letdown.Coach1.Error.InvalidArgument"),
        "{r}"
    );
    let r = dbus_send(&d, &["org.letdown.Coach1.Resume"]);
    assert!(r.contains("org.letdown.Coach1.Error.WrongState"), "{r}");
    let out = d.run(
        "busctl",
        &[
            "--user",
            "set-property",
            "org.letdown.Coach",
            "/org/letdown/Coach",
            "org.letdown.Coach1",
            "Volume",
            "d",
            "5",
        ],
    );
    assert!(!out.status.success());
    assert!(d.ok(&["volume"]).contains("80%"));

    // A hundred toggles at once: every one is served, and an even number leaves it running.
    let children: Vec<_> = (0..100)
        .map(|_| {
            d.command("busctl")
                .args([
                    "--user",
                    "call",
                    "org.letdown.Coach",
                    "/org/letdown/Coach",
                    "org.letdown.Coach1",
                    "TogglePause",
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    let ok = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().success())
        .filter(|&s| s)
        .count();
    assert_eq!(ok, 100);
    let status: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["state"], "running");
    assert_eq!(status["step"], 2);

    // A routine broken on disk, then Reload: the problems are reported, the session goes on.
    d.home.write("config/letdown/routines/broken.toml", "name = \"broken\"\ntitle = \"B\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"0s\"\n");
    let problems = d.ok(&["reload"]);
    assert!(
        problems.contains("broken.toml:6:12: steps[0].duration: must be longer than zero"),
        "{problems}"
    );
    let out = d.letdown(&["start", "broken"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(AlreadyRunning)"), "{err}");
    // A broken config is refused and the old one kept.
    d.home
        .write("config/letdown/config.toml", "volume = \"loud\"\n");
    let out = d.letdown(&["reload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("config.toml:1:10: volume: expected a number")
            && err.contains("(InvalidConfig)"),
        "{err}"
    );
    let status: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    assert_eq!(
        (
            status["state"].as_str(),
            status["step"].as_u64(),
            status["volume"].as_f64()
        ),
        (Some("running"), Some(2), Some(0.8))
    );
    d.ok(&["stop"]);
    std::fs::remove_file(d.home.path("config/letdown/config.toml")).unwrap();
    let out = d.letdown(&["start", "broken"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(InvalidRoutine)") && err.contains("broken.toml:6:12"),
        "{err}"
    );
    assert!(d.daemon_alive());
}

#[test]
fn an_idle_daemon_holds_no_audio_stream() {
    let (mut d, _, _) = desktop();
    d.start_daemon(&[]);
    let streams = |d: &Desktop| {
        String::from_utf8(d.run("pactl", &["list", "short", "sink-inputs"]).stdout)
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(streams(&d), 0, "a stream is open before any session");
    d.ok(&["start", "e2e"]);
    let until = Instant::now() + Duration::from_secs(5);
    while streams(&d) == 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        streams(&d),
        1,
        "the session has no stream, or more than one"
    );
    d.ok(&["stop"]);
    let until = Instant::now() + Duration::from_secs(3);
    while streams(&d) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(streams(&d), 0, "the stream stayed open after the session");
    assert_eq!(
        d.stop_daemon().code(),
        Some(0),
        "SIGTERM is an orderly stop"
    );
}

#[test]
fn wav_output_records_the_live_session_in_real_time() {
    let (mut d, plan, reference) = desktop();
    let wav = d.home.path("live.wav");
    d.start_daemon(&["--output", &format!("wav:{}", wav.display())]);
    d.ok(&["start", "e2e"]);
    std::thread::sleep(Duration::from_millis(1500));
    d.ok(&["pause"]);
    std::thread::sleep(Duration::from_millis(1000));
    d.ok(&["resume"]);
    assert!(d.wait_state("idle", Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(500));
    d.stop_daemon();
    let live = read_wav(&wav);
    let total = plan["total_samples"].as_u64().unwrap() as usize;
    // Plan plus a one-second pause, plus at most a few hundred ms of start/stop slack.
    let extra = live.len() as i64 - total as i64;
    assert!(
        (48_000 - 4_800..48_000 + 48_000).contains(&extra),
        "live {} vs plan {total}",
        live.len()
    );
    // Without its pause, the live session is the rendered one.
    let env = envelope(&live);
    let quiet: Vec<usize> = (0..env.len()).filter(|&i| env[i] <= FLOOR).collect();
    let gap_start = quiet
        .windows(90)
        .find(|w| w[89] - w[0] == 89 && w[0] > 100)
        .map(|w| w[0])
        .expect("no one-second pause in the live audio");
    let mut gap_end = gap_start;
    while gap_end < env.len() && env[gap_end] <= FLOOR {
        gap_end += 1;
    }
    let mut joined = env[..gap_start].to_vec();
    joined.extend_from_slice(&env[gap_end..]);
    let want = envelope(&reference);
    let (lag, score) = best_match(&joined, &want[..want.len() - 50], 0, 40);
    assert!(
        score > 0.95,
        "the live session differs from the render (correlation {score} at {lag})"
    );
}

#[test]
fn losing_the_sound_server_mid_session_is_survived() {
    let (mut d, _, _) = desktop();
    d.start_daemon(&[]);
    d.ok(&["start", "slow"]);
    std::thread::sleep(Duration::from_millis(500));
    // The PulseAudio-protocol server goes away under the session.
    d.kill_pulse_server();
    let until = Instant::now() + Duration::from_secs(10);
    while !d.daemon_log().contains("reopened the default sound device") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.daemon_log();
    assert!(
        log.contains("lost the default sound device"),
        "the loss was not logged:\n{log}"
    );
    assert!(
        log.contains("reopened the default sound device"),
        "no recovery:\n{log}"
    );
    assert!(d.daemon_alive());
    let status: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["state"], "running", "the session goes on");
    d.ok(&["next"]);
    d.ok(&["stop"]);
}

/// Removes a file when dropped, even when the test fails.
struct Remove(std::path::PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The suite's bus activates nothing installed on the machine: an activation file in the
/// user's data directory (where scripts/install puts letdown's) is not used by it, while a bus
/// started the usual way (`dbus-daemon --session`) does use it, so the check can fail.
#[test]
fn the_suites_bus_never_activates_what_the_user_installed() {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".local/share")
        });
    let services = data_home.join("dbus-1/services");
    std::fs::create_dir_all(&services).unwrap();
    // A fake letdownd under a name of its own, so a real installed letdown is never disturbed.
    let name = format!("org.letdown.Coach.IsolationProbe{}", std::process::id());
    let marker = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::remove_file(&marker).unwrap();
    let file = services.join(format!("{name}.service"));
    std::fs::write(
        &file,
        format!(
            "[D-BUS Service]\nName={name}\nExec=/bin/sh -c 'touch {}'\n",
            marker.display()
        ),
    )
    .unwrap();
    let _cleanup = Remove(file);
    let ping = |d: &Desktop, env: Option<&str>| {
        let mut c = d.command("busctl");
        if let Some(address) = env {
            c.env("DBUS_SESSION_BUS_ADDRESS", address);
        }
        c.args([
            "--user",
            "--timeout=3",
            "call",
            &name,
            "/",
            "org.freedesktop.DBus.Peer",
            "Ping",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
    };

    let d = Desktop::start();
    let out = ping(&d, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not provided by any .service files") || err.contains("ServiceUnknown"),
        "the suite's bus tried to activate it: {err}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !marker.exists(),
        "the suite's bus started the installed service"
    );

    // The control: a bus started the usual way reads the user's directory and starts it.
    let out = std::process::Command::new("dbus-daemon")
        .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = printed.lines();
    let (address, pid) = (lines.next().unwrap(), lines.next().unwrap());
    let _ = ping(&d, Some(address));
    let started = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        marker.exists()
    });
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    assert!(
        started,
        "a standard session bus did not activate the probe either: the check proves nothing"
    );
}

/// A speech engine that never finishes freezes nothing: calls are answered at once while it
/// runs, Start fails with SpeechFailed naming the engine and its time limit, and SIGTERM ends
/// the daemon promptly, leaving no synthesizer behind.
#[test]
fn a_hung_speech_engine_never_blocks_the_daemon() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/e2e.toml", ROUTINE);
    // A unique argument, to find the hung "synthesizers" among the machine's processes.
    let marker = format!("{}.25", 100_000 + std::process::id());
    let config = |timeout: &str| {
        format!(
            "default_routine = \"e2e\"\n[voice]\nengine = \"command\"\ncommand = [\"sleep\", \"{marker}\"]\nfallback = []\ntimeout = \"{timeout}\"\n"
        )
    };
    let hung = || {
        std::process::Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    d.home.write("config/letdown/config.toml", &config("1s"));
    d.start_daemon_quick();
    let synthesizing = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        !hung().is_empty()
    });
    assert!(synthesizing, "the default routine is not being synthesized");

    // Answers while the engine hangs.
    let mut times = Vec::new();
    for _ in 0..10 {
        let asked = Instant::now();
        let out = d.property("State");
        times.push(asked.elapsed());
        assert!(out.status.success());
    }
    times.sort();
    println!(
        "reply during a hung synthesis (busctl, process start included): median {:?}, worst {:?}",
        times[5], times[9]
    );
    assert!(
        times[5] < Duration::from_millis(100),
        "median reply {:?}",
        times[5]
    );

    // Start fails, naming the engine and the limit.
    let started = Instant::now();
    let out = d.letdown(&["--timeout", "30s", "start", "e2e"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "start succeeded with a hung engine");
    assert!(
        err.contains("SpeechFailed")
            && err.contains("command")
            && err.contains("did not finish within 2s"),
        "start's error: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "start took {:?}",
        started.elapsed()
    );
    // The engine runs one process per core; each is stopped at its own limit, which for the
    // one started last may be a moment after the start was answered.
    let stopped = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        hung().is_empty()
    });
    assert!(
        stopped,
        "a timed-out synthesizer is still running 2 s after its limit: {}",
        hung()
    );

    // SIGTERM while a (long) synthesis runs ends the daemon within 3 s.
    d.stop_daemon();
    d.home.write("config/letdown/config.toml", &config("10m"));
    d.start_daemon_quick();
    assert!(d.wait_state("idle", Duration::from_secs(2)));
    let waiting = d
        .command(env!("CARGO_BIN_EXE_letdown"))
        .args(["--timeout", "30s", "start", "e2e"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        d.wait_state("preparing", Duration::from_secs(5)),
        "start is not waiting for its speech"
    );
    let asked = Instant::now();
    let status = d.stop_daemon();
    let took = asked.elapsed();
    println!("SIGTERM during a hung synthesis: exited in {took:?} ({status})");
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?}");
    let _ = { waiting }.wait();
    let gone = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        hung().is_empty()
    });
    assert!(gone, "the synthesizer outlived letdownd: {}", hung());
}

/// Extend and a Repeat in hands-on time change the step's length: the properties say so at
/// once (PropertiesChanged on the bus, StepLength, StepRemaining and MPRIS Position).
#[test]
fn extend_and_repeat_publish_the_step_as_it_now_stands() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/slow.toml", SLOW);
    d.home
        .write("config/letdown/config.toml", "default_routine = \"slow\"\n");
    d.start_daemon(&[]);
    let log = d.home.path("monitor.log");
    let mut monitor = d
        .command("gdbus")
        .args([
            "monitor",
            "--session",
            "--dest",
            "org.letdown.Coach",
            "--object-path",
            "/org/letdown/Coach",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = |d: &Desktop| -> serde_json::Value {
        serde_json::from_str(&d.ok(&["status", "--json"])).unwrap()
    };
    let position = |d: &Desktop| -> f64 {
        let out = d.run("playerctl", &["-p", "letdown", "position"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    d.ok(&["start", "slow"]);
    // Into hands-on time (the prompt "Take your time." is about a second).
    std::thread::sleep(Duration::from_millis(2500));
    let before = status(&d);
    let length0 = before["length_ms"].as_u64().unwrap();

    let seen = std::fs::read_to_string(&log).unwrap().len();
    d.ok(&["extend", "1m"]);
    std::thread::sleep(Duration::from_millis(300));
    let after = status(&d);
    let length1 = after["length_ms"].as_u64().unwrap();
    assert_eq!(length1, length0 + 60_000, "StepLength after extend");
    let elapsed = length1 - after["remaining_ms"].as_u64().unwrap();
    assert!(
        (2_500..5_000).contains(&elapsed),
        "StepRemaining after extend: {} of {length1} left",
        after["remaining_ms"]
    );
    let pos = position(&d);
    assert!(
        (2.5..5.0).contains(&pos),
        "MPRIS Position after extend: {pos}"
    );
    let signals = std::fs::read_to_string(&log).unwrap()[seen..].to_string();
    assert!(
        signals.contains("PropertiesChanged") && signals.contains("StepLength"),
        "no PropertiesChanged with StepLength after extend:\n{signals}"
    );

    let seen = std::fs::read_to_string(&log).unwrap().len();
    d.ok(&["repeat"]);
    std::thread::sleep(Duration::from_millis(300));
    let length2 = status(&d)["length_ms"].as_u64().unwrap();
    assert!(
        length2 > length1 + 500,
        "a repeat in hands-on time did not lengthen the step: {length1} -> {length2}"
    );
    let signals = std::fs::read_to_string(&log).unwrap()[seen..].to_string();
    assert!(
        signals.contains("StepLength"),
        "no PropertiesChanged after repeat:\n{signals}"
    );
    let _ = monitor.kill();
    let _ = monitor.wait();
}

/// The speech cache is only a cache: deleting it while letdownd runs (docs/CONFIG.md calls
/// that always safe) costs a new synthesis, never a failed start.
#[test]
fn deleting_the_speech_cache_never_breaks_a_start() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/slow.toml", SLOW);
    d.home
        .write("config/letdown/config.toml", "default_routine = \"slow\"\n");
    d.start_daemon(&[]);
    d.ok(&["start"]);
    d.ok(&["stop"]);
    std::fs::remove_dir_all(d.home.path("cache/letdown")).unwrap();
    let out = d.letdown(&["--timeout", "60s", "start"]);
    assert!(
        out.status.success(),
        "start after the cache was deleted: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.daemon_log()
    );
    assert!(d.wait_state("running", Duration::from_secs(2)));
    assert!(
        d.home.path("cache/letdown/speech").is_dir(),
        "the speech was not synthesized again"
    );
    d.ok(&["stop"]);
}
