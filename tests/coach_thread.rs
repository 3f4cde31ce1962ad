//! Nothing that waits on a disk runs on the coach's thread: the real letdownd, its one
//! runtime thread (the coach, the D-Bus connection) traced with strace while keys are pressed
//! the way a day presses them. Every system call on that thread that names a file is listed;
//! there must be none. Reading routines, the recordings folder, the speech cache and the config
//! happens on blocking threads beside it, which are not traced.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::desktop::Desktop;

const ROUTINE: &str = r#"name = "traced"
title = "Traced"
[[steps]]
title = "One"
say = "Breathe in, and let your shoulders drop."
duration = "4s"
[[steps]]
title = "Two"
say = "Now the other side."
duration = "4s"
"#;

/// strace attached to one thread (no -f: not the blocking threads), writing to `out`.
struct Trace {
    child: std::process::Child,
    out: std::path::PathBuf,
}

impl Trace {
    /// Attaches to thread `tid`, tracing calls that take a file name, and waits until it is
    /// attached (strace says so on stderr).
    fn attach(tid: u32, out: std::path::PathBuf) -> Self {
        let mut child = Command::new("strace")
            .args(["-e", "trace=%file", "-o"])
            .arg(&out)
            .args(["-p", &tid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strace (scripts/install-deps --test installs it)");
        let mut err = child.stderr.take().unwrap();
        let mut said = Vec::new();
        let until = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&said).contains("attached") {
            assert!(
                Instant::now() < until,
                "strace did not attach: {}",
                String::from_utf8_lossy(&said)
            );
            let n = err.read(&mut buf).unwrap();
            assert!(n > 0, "strace ended: {}", String::from_utf8_lossy(&said));
            said.extend_from_slice(&buf[..n]);
        }
        Self { child, out }
    }

    /// Detaches and returns every call traced.
    fn finish(mut self) -> Vec<String> {
        let _ = nix_kill(self.child.id());
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("+++") && !l.starts_with("---"))
            .map(str::to_string)
            .collect()
    }
}

/// SIGINT to strace: it detaches and ends.
fn nix_kill(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
}

#[test]
fn keys_pressed_through_a_day_touch_no_file_on_the_coachs_thread() {
    let mut d = Desktop::start();
    d.home.write("config/letdown/routines/traced.toml", ROUTINE);
    d.home.write(
        "config/letdown/config.toml",
        "default_routine = \"traced\"\nfeedback = \"speech\"\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n",
    );
    d.start_daemon(&[]);
    // Everything ahead is prepared and the answers' heads are in the cache: what follows is
    // what a key press does on a settled daemon.
    let until = Instant::now() + Duration::from_secs(30);
    while !d.daemon_log().contains("answers ready ahead") {
        assert!(
            Instant::now() < until,
            "answers never ready:\n{}",
            d.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let trace = Trace::attach(d.daemon_pid(), d.home.path("coach.strace"));
    let presses: &[&[&str]] = &[
        &["status"],
        &["routines"],
        &["start"],
        &["where"],
        &["next"],
        &["toggle"],
        &["toggle"],
        &["extend", "10s"],
        &["stop"],
        &["fed", "--side", "left"],
        &["fed", "--end"],
        &["pumped", "--amount", "60ml"],
        &["schedule", "in", "20m", "traced"],
        &["upcoming"],
        &["snooze", "5m"],
        &["where"],
        &["skip"],
        &["feeds"],
    ];
    for args in presses {
        let out = d.letdown(args);
        assert!(
            out.status.success(),
            "letdown {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A routine file written now is read beside the coach too, and started.
    d.home.write(
        "config/letdown/routines/traced.toml",
        &ROUTINE.replace("title = \"One\"", "title = \"One, changed\""),
    );
    d.ok(&["start"]);
    assert!(d.wait_state("running", Duration::from_secs(10)));
    let title = String::from_utf8_lossy(&d.property("StepTitle").stdout).to_string();
    d.ok(&["stop"]);
    // What was said is said: let the last answer's words be synthesized and played.
    std::thread::sleep(Duration::from_secs(2));
    let calls = trace.finish();
    assert!(
        calls.is_empty(),
        "the coach's thread made {} calls naming a file:\n{}\n--- letdownd log ---\n{}",
        calls.len(),
        calls.join("\n"),
        d.daemon_log()
    );
    assert!(
        title.contains("One, changed"),
        "the routine as changed was not the one started: {title}"
    );
}
