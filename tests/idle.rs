//! An idle letdownd costs nothing: after its start-up work, no thread of it wakes over 10 s
//! (its context switches, read from /proc, do not grow) and it holds no stream open on the
//! sound server (`pactl list sink-inputs` is empty). With a Baby Buddy server configured it
//! would wake every `sync_every`; without one it has no timer at all.

mod common;

use std::time::{Duration, Instant};

use common::desktop::Desktop;

/// Context switches (voluntary and not) of each thread of `pid`, by thread id.
fn switches(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap();
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let n: u64 = status
            .lines()
            .filter(|l| l.starts_with("voluntary_ctxt") || l.starts_with("nonvoluntary_ctxt"))
            .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
            .sum();
        out.insert(task.file_name().to_string_lossy().into_owned(), n);
    }
    out
}

#[test]
fn an_idle_daemon_makes_no_wake_ups_and_holds_no_stream() {
    let mut d = Desktop::start();
    d.home.write(
        "config/letdown/config.toml",
        "[voice]\nengine = \"espeak-ng\"\nfallback = []\n",
    );
    d.start_daemon(&[]);
    // Its start-up work (preparing the default routine, the first answer, closing the sound
    // device) settles, and the helper threads that did it end (tokio's blocking threads end
    // 10 s after their last job): wait until no thread has come, gone or run for 12 s.
    let pid = d.daemon_pid();
    let until = Instant::now() + Duration::from_secs(60);
    let mut last = switches(pid);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(12) {
        assert!(
            Instant::now() < until,
            "letdownd never went quiet for 12 s in a minute (it keeps waking): {last:?}\n{}",
            d.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(200));
        let now = switches(pid);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    // Then 10 s more: nothing may change.
    std::thread::sleep(Duration::from_secs(10));
    let after = switches(pid);
    let woke: u64 = after
        .iter()
        .map(|(t, n)| n - last.get(t).copied().unwrap_or(0))
        .sum();
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default();
    println!(
        "letdownd idle: {} threads, {woke} context switches in 10 s, RSS {rss} kB (a debug build)",
        after.len()
    );
    assert_eq!(
        after, last,
        "an idle letdownd woke up in 10 s: {last:?} then {after:?}"
    );
    let inputs = d.run("pactl", &["list", "short", "sink-inputs"]);
    let listed = String::from_utf8_lossy(&inputs.stdout).to_string();
    assert!(inputs.status.success(), "pactl failed");
    assert!(
        listed.trim().is_empty(),
        "an idle letdownd holds a stream: {listed}"
    );
    d.stop_daemon();
}
