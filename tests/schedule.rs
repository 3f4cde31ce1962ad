//! Scheduling end to end, on the real daemon with a real bus and sound server: a one-off
//! schedule and the feed plan fire on the wall clock and are heard; schedules survive `kill -9`;
//! and killing the daemon at random moments while it writes loses no acknowledged write.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::FLOOR;
use common::desktop::{Desktop, envelope};

const ROUTINE: &str = "name = \"e2e\"\ntitle = \"E\"\n[[steps]]\ntitle = \"One\"\nsay = \"Place one hand on top of the breast.\"\nduration = \"3s\"\n";

fn desktop() -> Desktop {
    let d = Desktop::start();
    d.home.write("config/letdown/routines/e2e.toml", ROUTINE);
    d.ok(&["prepare", "e2e"]);
    d
}

/// dbus-monitor writing ScheduleFired signals to `file`; returns once it listens (it prints
/// the NameAcquired signal its connection gets first).
fn signals(d: &Desktop, file: &str) -> std::process::Child {
    let child = d
        .command("dbus-monitor")
        .args([
            "--session",
            "type='signal',interface='org.letdown.Coach1',member='ScheduleFired'",
        ])
        .stdout(std::fs::File::create(d.home.path(file)).unwrap())
        .spawn()
        .unwrap();
    assert!(
        wait_for(d, file, "NameAcquired", Duration::from_secs(5)),
        "dbus-monitor did not start listening: {:?}",
        std::fs::read_to_string(d.home.path(file)).unwrap_or_default()
    );
    child
}

fn wait_for(d: &Desktop, file: &str, what: &str, timeout: Duration) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if std::fs::read_to_string(d.home.path(file))
            .unwrap_or_default()
            .contains(what)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The first sound after `from` seconds into the recording, in seconds.
fn first_sound_after(audio: &[f32], from: f64) -> Option<f64> {
    let env = envelope(audio);
    let start = (from * 100.0) as usize;
    env.iter()
        .skip(start)
        .position(|&r| r > FLOOR)
        .map(|i| (start + i) as f64 / 100.0)
}

#[test]
fn a_one_off_fires_on_time_is_heard_and_survives_kill_9() {
    let mut d = desktop();
    d.start_daemon(&[]);
    let mut mon = signals(&d, "fired.txt");
    let rec = d.record();
    let t0 = rec.started.elapsed().as_secs_f64();
    let out = d.ok(&["--quiet", "schedule", "in", "5s", "e2e"]);
    assert!(out.contains("scheduled: id"), "{out}");
    assert!(d.ok(&["upcoming"]).contains("e2e"), "not listed");
    assert!(
        wait_for(
            &d,
            "fired.txt",
            "member=ScheduleFired",
            Duration::from_secs(10)
        ),
        "no ScheduleFired"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let audio = rec.finish();
    let heard = first_sound_after(&audio, t0).expect("the scheduled session was not heard");
    // The schedule's second was rounded down to whole seconds when it was made.
    let late = heard - (t0 + 5.0);
    assert!(
        (-1.0..=1.0).contains(&late),
        "heard {late:+.2} s from the target"
    );
    let fired = std::fs::read_to_string(d.home.path("fired.txt")).unwrap();
    assert!(
        fired.contains("string \"e2e\"") && fired.contains("one-off"),
        "{fired}"
    );
    assert!(d.wait_state("idle", Duration::from_secs(30)));

    // Schedule again, kill -9, start again: still listed, still fires, once.
    d.ok(&["--quiet", "schedule", "in", "8s", "e2e"]);
    let pid = d.daemon_pid();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    d.reap_daemon();
    d.start_daemon(&[]);
    let up = d.ok(&["upcoming"]);
    assert!(
        up.contains("e2e") && up.contains("one-off"),
        "lost after kill -9: {up}"
    );
    let _ = mon.kill();
    let _ = mon.wait();
    let mut mon = signals(&d, "fired2.txt");
    assert!(
        wait_for(
            &d,
            "fired2.txt",
            "member=ScheduleFired",
            Duration::from_secs(15)
        ),
        "no ScheduleFired after restart:\n{}",
        d.daemon_log()
    );
    std::thread::sleep(Duration::from_secs(2));
    let fired = std::fs::read_to_string(d.home.path("fired2.txt")).unwrap();
    assert_eq!(fired.matches("member=ScheduleFired").count(), 1, "{fired}");
    let _ = mon.kill();
    let _ = mon.wait();
}

#[test]
fn a_logged_feed_makes_the_feed_plan_fire_a_few_seconds_later() {
    let mut d = desktop();
    d.start_daemon(&[]);
    let mut mon = signals(&d, "fired.txt");
    let out = d.letdown(&[
        "feed-plan",
        "--interval",
        "3h",
        "--lead",
        "10m",
        "--routine",
        "e2e",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("interval = 3h"));
    // A feed 2h49m56s ago: the next is due in 10m04s, so the session starts in about 4 s.
    let rec = d.record();
    let t0 = rec.started.elapsed().as_secs_f64();
    d.ok(&["--quiet", "fed", "--ago", "2h49m56s", "--side", "left"]);
    let up = d.ok(&["upcoming"]);
    assert!(up.lines().next().unwrap_or("").contains("plan"), "{up}");
    assert!(
        wait_for(
            &d,
            "fired.txt",
            "member=ScheduleFired",
            Duration::from_secs(10)
        ),
        "the plan did not fire:\n{}",
        d.daemon_log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let audio = rec.finish();
    let heard = first_sound_after(&audio, t0).expect("the plan's session was not heard");
    assert!(
        (heard - (t0 + 4.0)).abs() <= 1.5,
        "heard at {heard:.2}, expected about {:.2}",
        t0 + 4.0
    );
    let fired = std::fs::read_to_string(d.home.path("fired.txt")).unwrap();
    assert!(
        fired.contains("string \"plan\"") && fired.contains("feed plan"),
        "{fired}"
    );
    let feeds = d.ok(&["feeds", "--csv"]);
    assert!(
        feeds.lines().count() == 2 && feeds.contains(",left,"),
        "{feeds}"
    );
    let _ = mon.kill();
    let _ = mon.wait();
}

#[test]
fn killing_the_daemon_at_random_moments_loses_no_acknowledged_write() {
    let mut d = desktop();
    let mut acknowledged: Vec<String> = Vec::new();
    let iterations = 250;
    let mut seed: u64 = 0x5eed;
    for i in 0..iterations {
        d.start_daemon_quick();
        let notes = [format!("n{i}a"), format!("n{i}b")];
        let writers: Vec<(String, std::process::Child)> = notes
            .iter()
            .map(|n| {
                let child = d
                    .command(env!("CARGO_BIN_EXE_letdown"))
                    .args(["fed", "--ago", "1m", "--note", n])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                (n.clone(), child)
            })
            .collect();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 60));
        let pid = d.daemon_pid();
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        d.reap_daemon();
        for (note, mut child) in writers {
            if child.wait().unwrap().success() {
                acknowledged.push(note);
            }
        }
    }
    d.start_daemon_quick();
    let csv = d.ok(&["feeds", "--csv", "--limit", "0"]);
    for note in &acknowledged {
        assert!(
            csv.contains(&format!("\"{note}\"")),
            "acknowledged feed {note} is gone"
        );
    }
    // The database is whole: sqlite3's own check finds nothing wrong.
    let check = std::process::Command::new("sqlite3")
        .arg(d.home.path("data/letdown/state.sqlite3"))
        .arg("PRAGMA integrity_check; SELECT count(*) FROM feeds;")
        .output()
        .expect("sqlite3 (install-deps --test installs it)");
    let out = String::from_utf8_lossy(&check.stdout);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("ok"), "{out}");
    let rows: usize = lines.next().unwrap().parse().unwrap();
    assert!(
        rows >= acknowledged.len(),
        "{rows} rows, {} acknowledged",
        acknowledged.len()
    );
    assert!(
        !acknowledged.is_empty(),
        "no write was ever acknowledged: the test tested nothing"
    );
    eprintln!(
        "{} of {} writes acknowledged across {iterations} kills; all present",
        acknowledged.len(),
        2 * iterations
    );
}

#[test]
fn a_heads_up_is_spoken_before_an_automatic_session() {
    let mut d = desktop();
    d.home.write(
        "config/letdown/config.toml",
        "[schedule]\nheads_up = \"10s\"\n",
    );
    d.start_daemon(&[]);
    let rec = d.record();
    let t0 = rec.started.elapsed().as_secs_f64();
    d.ok(&["--quiet", "schedule", "in", "14s", "e2e"]);
    let until = Instant::now() + Duration::from_secs(25);
    while !d.daemon_log().contains("scheduled session") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    let audio = rec.finish();
    let log = d.daemon_log();
    assert!(log.contains("heads-up: session in"), "no heads-up:\n{log}");
    // The heads-up is heard about 4 s in (14 s - 10 s), well before the session at 14 s.
    let heads_up = first_sound_after(&audio, t0).expect("nothing heard");
    assert!(
        heads_up > t0 + 2.5 && heads_up < t0 + 8.0,
        "heads-up heard at {:.2} s",
        heads_up - t0
    );
}

#[test]
fn state_that_cannot_be_written_is_refused_and_a_corrupt_file_is_moved_aside() {
    let mut d = desktop();
    // A broken state file of an earlier version: moved aside with a clear message, and the
    // daemon serves.
    d.home
        .write("data/letdown/state.json", "{ this is not state");
    d.start_daemon(&[]);
    let log = d.daemon_log();
    assert!(
        log.contains("is not valid state") && log.contains("moved it to"),
        "{log}"
    );
    let aside = std::fs::read_dir(d.home.path("data/letdown"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        });
    assert!(aside, "the corrupt file was not kept");
    d.ok(&["--quiet", "fed", "--note", "first"]);
    // The disk refuses writes (here: the state's directory is replaced by a file): the change is
    // refused with a named error and nothing changes.
    let dir = d.home.path("data/letdown");
    std::fs::rename(&dir, d.home.path("data/letdown.away")).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    let out = d.letdown(&["fed", "--note", "second"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("(StorageFailed)")
            && err.contains("nothing was changed"),
        "{err}"
    );
    let feeds = d.ok(&["feeds", "--csv"]);
    assert!(
        feeds.contains("\"first\"") && !feeds.contains("\"second\""),
        "{feeds}"
    );
    // Once the disk is back, writes go through again.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(d.home.path("data/letdown.away"), &dir).unwrap();
    d.ok(&["--quiet", "fed", "--note", "third"]);
    assert!(d.daemon_alive());
}

/// A routine that a schedule will start is prepared when it is scheduled, not when it fires:
/// the session starts on the second even with a cold speech cache.
#[test]
fn a_scheduled_routine_is_prepared_before_it_fires() {
    let mut d = Desktop::start();
    // A routine of its own, never prepared: its speech is synthesized from nothing.
    d.home.write(
        "config/letdown/routines/later.toml",
        "name = \"later\"\ntitle = \"Later\"\n[[steps]]\ntitle = \"One\"\nsay = \"Sit back, and let your shoulders drop.\"\nduration = \"3s\"\n[[steps]]\ntitle = \"Two\"\nsay = \"Now breathe out slowly through your mouth.\"\nduration = \"3s\"\n",
    );
    d.home
        .write("config/letdown/config.toml", "default_routine = \"e2e\"\n");
    d.home.write("config/letdown/routines/e2e.toml", ROUTINE);
    d.start_daemon(&[]);
    let asked = Instant::now();
    d.ok(&["--quiet", "schedule", "in", "8s", "later"]);
    assert!(
        d.wait_state("running", Duration::from_secs(12)),
        "the scheduled session did not start:\n{}",
        d.daemon_log()
    );
    let late = asked.elapsed().as_secs_f64() - 8.0;
    println!("scheduled start reached State running {late:+.2} s from its time");
    let log = d.daemon_log();
    let prepared_at = log.find("prepared \"later\"").expect("later was prepared");
    let fired_at = log.find("fires").expect("the schedule fired");
    assert!(
        prepared_at < fired_at,
        "\"later\" was prepared only when it fired:\n{log}"
    );
    assert!(late < 1.0, "the scheduled session started {late:.2} s late");
}

/// Daily times are local: when the system's zone changes while letdownd runs, the next session
/// moves with it at once (NextSession), without a restart or a key press.
#[test]
fn a_time_zone_change_moves_daily_sessions_at_once() {
    let mut d = desktop();
    // The zone file, as /etc/localtime is: a symlink that a zone change replaces.
    let zone = d.home.path("zone");
    std::fs::create_dir_all(&zone).unwrap();
    let localtime = zone.join("localtime");
    std::os::unix::fs::symlink("/usr/share/zoneinfo/Europe/Berlin", &localtime).unwrap();
    d.extra_env
        .push(("TZ".into(), localtime.to_str().unwrap().into()));
    d.start_daemon(&[]);
    d.ok(&["--quiet", "schedule", "daily", "06:30", "e2e"]);
    let next = |d: &Desktop| -> i64 {
        let out = d.property("NextSession");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches("x ")
            .parse()
            .unwrap()
    };
    let expect = |zone: &str| -> i64 {
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        let now = jiff::Timestamp::now().to_zoned_datetime(tz.clone());
        let today = now.date().at(6, 30, 0, 0).to_zoned_datetime(tz).unwrap();
        let at = if today.timestamp() > now.timestamp() {
            today
        } else {
            today.checked_add(jiff::Span::new().days(1)).unwrap()
        };
        at.timestamp().as_second()
    };
    assert_eq!(next(&d), expect("Europe/Berlin"));
    let new = zone.join("localtime.new");
    std::os::unix::fs::symlink("/usr/share/zoneinfo/America/New_York", &new).unwrap();
    std::fs::rename(&new, &localtime).unwrap();
    let want = expect("America/New_York");
    let moved = (0..60).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        next(&d) == want
    });
    assert!(
        moved,
        "NextSession stayed {} after the zone change (want {want})\n{}",
        next(&d),
        d.daemon_log()
    );
}
