//! One harness for the tests that meet letdown as an unprivileged user would, under a real
//! `systemd --user` (scripts/real-desktop sets the session up): the source install's test
//! (real_desktop.rs) and the package's (package.rs). A user's session, what it runs and hears,
//! and the runner that does a test's checks in order and prints `N passed, N failed, N skipped`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Bytes as text, for messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn script() -> PathBuf {
    Path::new(ROOT).join("scripts/real-desktop")
}

/// An unprivileged user's session, set up by scripts/real-desktop.
pub struct Session {
    pub user: String,
    pub home: PathBuf,
    pub uid: u32,
}

/// The outcome of trying to set a session up.
pub enum Setup<T> {
    Ready(T),
    /// It cannot run here (not root, no systemd); the reason.
    Skipped(String),
    Failed(String),
}

impl Session {
    /// Creates `user` with a running `systemd --user`, user bus and sound server.
    pub fn start(user: &str) -> Setup<Session> {
        let out = Command::new(script())
            .args(["start", user])
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/real-desktop");
        match out.status.code() {
            Some(0) => {}
            Some(77) => return Setup::Skipped(text(&out.stderr).trim().to_string()),
            _ => {
                return Setup::Failed(format!(
                    "scripts/real-desktop start {user}: {}{}",
                    text(&out.stdout),
                    text(&out.stderr)
                ));
            }
        }
        let passwd = Command::new("getent")
            .args(["passwd", user])
            .output()
            .unwrap();
        let fields: Vec<String> = text(&passwd.stdout)
            .trim()
            .split(':')
            .map(str::to_string)
            .collect();
        Setup::Ready(Session {
            user: user.to_string(),
            uid: fields[2].parse().unwrap(),
            home: PathBuf::from(&fields[5]),
        })
    }

    /// Stops the session and removes the user with its home.
    pub fn stop(&self) {
        let _ = Command::new(script()).args(["stop", &self.user]).output();
    }

    /// Runs a program as the user, in the session.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run as the test user")
    }

    /// A program to run as the user, in the session.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(script());
        c.args(["run", &self.user]).args(args);
        c
    }

    /// Runs a program as the user and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} as {} failed ({}): {}{}",
            self.user,
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub fn systemctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["systemctl", "--user"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    pub fn letdown(&self, args: &[&str]) -> Output {
        let mut all = vec!["letdown"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Runs `letdown ARGS` as the user and insists on success, showing letdownd's log if not;
    /// returns stdout and how long the command took.
    pub fn letdown_ok(&self, args: &[&str]) -> (String, Duration) {
        let started = Instant::now();
        let out = self.letdown(args);
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "letdown {} as {}: {}{}\n--- log ---\n{}",
            args.join(" "),
            self.user,
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        (text(&out.stdout), took)
    }

    /// `systemctl --user is-active letdownd`.
    pub fn active(&self) -> String {
        text(&self.systemctl(&["is-active", "letdownd"]).stdout)
            .trim()
            .to_string()
    }

    /// The daemon's main PID (0 when it is not running).
    pub fn main_pid(&self) -> u32 {
        text(
            &self
                .systemctl(&["show", "-p", "MainPID", "--value", "letdownd"])
                .stdout,
        )
        .trim()
        .parse()
        .unwrap_or(0)
    }

    /// Waits until `f` holds, up to `limit`.
    pub fn wait(&self, limit: Duration, mut f: impl FnMut() -> bool) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        f()
    }

    /// What letdownd logged (the drop-in [`Session::log_to_file`] writes sends it to a file:
    /// there is no journald here).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("letdownd.log")).unwrap_or_default()
    }

    /// A drop-in that sends letdownd's log to ~/letdownd.log, at debug level.
    pub fn log_to_file(&self) {
        self.drop_in(
            "test-log.conf",
            "[Service]\nStandardOutput=append:%h/letdownd.log\nStandardError=append:%h/letdownd.log\n\
             Environment=LETDOWN_LOG=debug LETDOWN_DEVICE_BUFFER=2048\n",
        );
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// Gives a file the test wrote as root to the user.
    pub fn chown(&self, path: &Path) {
        Command::new("chown")
            .args(["-R", &format!("{}:", self.user)])
            .arg(path)
            .status()
            .unwrap();
    }

    /// Records the user's null sink's monitor until the returned guard is finished.
    pub fn record(&self) -> Recording {
        let file = self.path("rec.raw");
        let child = self
            .command(&["bash", "-c"])
            .arg(format!(
                "exec parec -d auto_null.monitor --raw --format=s16le --rate=48000 --channels=1 > {}",
                file.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start parec");
        // The recording has begun once the sound server lists the recorder's stream.
        let listed = self.wait(Duration::from_secs(5), || {
            text(
                &self
                    .run(&["pactl", "list", "short", "source-outputs"])
                    .stdout,
            )
            .lines()
            .any(|l| !l.trim().is_empty())
        });
        assert!(listed, "parec's stream never appeared for {}", self.user);
        Recording {
            child,
            file,
            uid: self.uid,
        }
    }

    /// Writes a drop-in for the unit as the user and reloads systemd.
    pub fn drop_in(&self, name: &str, body: &str) {
        let dir = self.path(".config/systemd/user/letdownd.service.d");
        self.ok(&["mkdir", "-p", dir.to_str().unwrap()]);
        let file = dir.join(name);
        std::fs::write(&file, body).unwrap();
        self.chown(&file);
        self.ok(&["systemctl", "--user", "daemon-reload"]);
    }

    pub fn remove_drop_in(&self, name: &str) {
        let _ = std::fs::remove_file(
            self.path(".config/systemd/user/letdownd.service.d")
                .join(name),
        );
        self.ok(&["systemctl", "--user", "daemon-reload"]);
    }

    /// Whether any process of the user is left.
    pub fn leftovers(&self) -> String {
        Command::new("pgrep")
            .args(["-u", &self.uid.to_string()])
            .output()
            .map(|o| text(&o.stdout))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

/// What the test gives `scripts/install`: the repository's install files and the binaries
/// cargo just built, readable by the user.
pub fn src(s: &Session) -> PathBuf {
    s.home.join("letdown-src")
}

/// Copies what `scripts/install --prebuilt` needs where the user can read it.
pub fn stage(s: &Session) -> std::io::Result<()> {
    let src = src(s);
    std::fs::create_dir_all(&src)?;
    for dir in ["scripts", "systemd", "data", "docs"] {
        let st = Command::new("cp")
            .args(["-r", &format!("{ROOT}/{dir}")])
            .arg(&src)
            .status()?;
        if !st.success() {
            return Err(std::io::Error::other(format!("cp {dir}")));
        }
    }
    let bin = src.join("bin");
    std::fs::create_dir_all(&bin)?;
    for b in [
        env!("CARGO_BIN_EXE_letdown"),
        env!("CARGO_BIN_EXE_letdownd"),
    ] {
        let name = Path::new(b).file_name().unwrap();
        std::fs::copy(b, bin.join(name))?;
    }
    s.chown(&src);
    Ok(())
}

/// `scripts/install --prebuilt` as the user, with `extra` options.
pub fn install(s: &Session, extra: &[&str]) -> Output {
    let install = src(s).join("scripts/install");
    let bin = src(s).join("bin");
    let mut args = vec![
        install.to_str().unwrap(),
        "--prebuilt",
        bin.to_str().unwrap(),
        "--no-deps",
    ];
    args.extend_from_slice(extra);
    s.run(&args)
}

/// A recording of the null sink in progress.
pub struct Recording {
    child: std::process::Child,
    file: PathBuf,
    uid: u32,
}

impl Recording {
    /// Stops the recorder and returns the samples.
    pub fn finish(mut self) -> Vec<f32> {
        let _ = Command::new("pkill")
            .args(["-INT", "-u", &self.uid.to_string(), "-x", "parec"])
            .status();
        let _ = self.child.wait();
        let bytes = std::fs::read(&self.file).unwrap_or_default();
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect()
    }
}

/// How many 10-ms frames of `samples` are louder than -40 dBFS.
pub fn loud_frames(samples: &[f32]) -> usize {
    samples
        .chunks(480)
        .filter(|f| (f.iter().map(|x| x * x).sum::<f32>() / f.len() as f32).sqrt() > 0.01)
        .count()
}

/// A named check on the state a test set up; each builds on what the ones before it left.
pub type Check<T> = (&'static str, fn(&T));

/// A test's main: `--list` lists the checks (for cargo's harness protocol); otherwise it sets
/// up (or reports why it is skipped: every check is counted as skipped, and the summary line
/// says so), runs the checks in order (a filter runs the checks up to the last one it names),
/// stops at the first failure, tears down, and prints `N passed, N failed, N skipped`.
/// `teardown` returns what it found left over (empty when nothing is).
pub fn main<T>(
    title: &str,
    checks: &[Check<T>],
    setup: impl FnOnce() -> Setup<T>,
    on_failure: impl Fn(&T),
    teardown: impl FnOnce(&T) -> String,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in checks {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let last = if filters.is_empty() {
        checks.len()
    } else {
        match checks
            .iter()
            .rposition(|(n, _)| filters.iter().any(|f| n.contains(f.as_str())))
        {
            Some(i) => i + 1,
            None => {
                println!("{title}: no check matches the filter");
                println!("0 passed, 0 failed");
                return ExitCode::SUCCESS;
            }
        }
    };
    println!("{title}");
    let state = match setup() {
        Setup::Ready(s) => s,
        Setup::Skipped(why) => {
            for (name, _) in &checks[..last] {
                println!("test {name} ... ignored, {why}");
            }
            println!("0 passed, 0 failed, {last} skipped");
            return ExitCode::SUCCESS;
        }
        Setup::Failed(why) => {
            println!("the test's session could not be set up: {why}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed, mut ran) = (0, 0, 0);
    for (name, check) in &checks[..last] {
        ran += 1;
        let started = Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&state))) {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({:.1?})", started.elapsed());
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
                on_failure(&state);
                break;
            }
        }
    }
    // Checks after a failure build on state it did not leave: not run, and counted so.
    for (name, _) in &checks[ran..last] {
        println!("test {name} ... ignored, not run after the failure above");
    }
    let left = teardown(&state);
    if left.is_empty() {
        passed += 1;
        println!("test nothing_is_left_running ... ok");
    } else {
        failed += 1;
        println!("test nothing_is_left_running ... FAILED: {left}");
    }
    println!("{passed} passed, {failed} failed, {} skipped", last - ran);
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
