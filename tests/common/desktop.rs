//! A real desktop session for end-to-end tests: a private D-Bus session bus, a PipeWire sound
//! server with its null sink (from scripts/headless-desktop), the real letdownd, real clients,
//! and a recorder on the null sink's monitor.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::Home;

/// The bus and sound server, stopped on drop.
pub struct Desktop {
    pub home: Home,
    dir: PathBuf,
    env: Vec<(String, String)>,
    daemon: Option<Child>,
    /// More environment for every command (e.g. `TZ`).
    pub extra_env: Vec<(String, String)>,
}

impl Desktop {
    /// Starts a bus and a sound server in a fresh home.
    pub fn start() -> Self {
        let home = Home::new();
        let dir = home.path("desktop");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/headless-desktop");
        let out = Command::new(&script)
            .arg("start")
            .arg(&dir)
            .output()
            .expect("run headless-desktop");
        assert!(
            out.status.success(),
            "headless-desktop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env_text = std::fs::read_to_string(dir.join("env")).unwrap();
        let env = env_text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        Self {
            home,
            dir,
            env,
            daemon: None,
            extra_env: Vec::new(),
        }
    }

    /// A command with the session's environment and the home's XDG directories.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("XDG_CONFIG_HOME", self.home.path("config"))
            .env("XDG_CACHE_HOME", self.home.path("cache"))
            .env("XDG_DATA_HOME", self.home.path("data"))
            .env("XDG_DATA_DIRS", self.home.path("share"))
            .env("LETDOWN_LOG", "debug")
            // Debug builds beside other tests on two cores: a roomier device buffer than the
            // 512-frame default, so the audio never underruns (latency is the benchmark's job).
            .env("LETDOWN_DEVICE_BUFFER", "2048");
        for (k, v) in self.env.iter().chain(&self.extra_env) {
            c.env(k, v);
        }
        c
    }

    /// Runs a program to completion.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run a client")
    }

    /// Calls a method of `org.letdown.Coach1` with busctl: `call("Start", &["s", "slow"])`.
    pub fn call(&self, method: &str, signature_and_args: &[&str]) -> Output {
        let mut args = vec![
            "--user",
            "call",
            "org.letdown.Coach",
            "/org/letdown/Coach",
            "org.letdown.Coach1",
            method,
        ];
        args.extend_from_slice(signature_and_args);
        self.run("busctl", &args)
    }

    /// Reads a property of `org.letdown.Coach1` with busctl, as busctl prints it (`u 1`).
    pub fn property(&self, name: &str) -> Output {
        self.run(
            "busctl",
            &[
                "--user",
                "get-property",
                "org.letdown.Coach",
                "/org/letdown/Coach",
                "org.letdown.Coach1",
                name,
            ],
        )
    }

    /// Runs `letdown` and returns its output.
    pub fn letdown(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_letdown"), args)
    }

    /// Runs `letdown`, insisting on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.letdown(args);
        assert!(
            out.status.success(),
            "letdown {args:?}: {}{}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts letdownd with extra arguments and waits until it answers on the bus and has
    /// prepared its default routine. The log is appended to across restarts.
    pub fn start_daemon(&mut self, args: &[&str]) {
        self.spawn_daemon(args, true);
    }

    /// Starts letdownd and waits only until it answers on the bus.
    pub fn start_daemon_quick(&mut self) {
        self.spawn_daemon(&[], false);
    }

    fn spawn_daemon(&mut self, args: &[&str], until_prepared: bool) {
        self.spawn_logged(args);
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if self.letdown(&["status"]).status.success()
                && (!until_prepared || self.daemon_log().contains("prepared"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("letdownd did not come up:\n{}", self.daemon_log());
    }

    /// Starts letdownd with `args`, its output appended to the log.
    fn spawn_logged(&mut self, args: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("letdownd.log"))
            .unwrap();
        let child = self
            .command(env!("CARGO_BIN_EXE_letdownd"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start letdownd");
        self.daemon = Some(child);
    }

    /// Starts letdownd and waits until it owns its name, asking only with busctl (no
    /// `letdown` call, which would take the daemon's notices).
    pub fn spawn_daemon_silently(&mut self) {
        self.spawn_logged(&[]);
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if self.property("State").status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("letdownd did not come up:\n{}", self.daemon_log());
    }

    /// The daemon's process id.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon running").id()
    }

    /// Waits for a killed daemon to be gone.
    pub fn reap_daemon(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.wait();
        }
        // The bus drops the name when the connection closes.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && self.letdown(&["status"]).status.success() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops letdownd with SIGTERM and waits for it.
    pub fn stop_daemon(&mut self) -> std::process::ExitStatus {
        let mut child = self.daemon.take().expect("daemon running");
        unsafe_kill(child.id(), "TERM");
        child.wait().unwrap()
    }

    /// Whether the daemon process is still alive.
    pub fn daemon_alive(&mut self) -> bool {
        self.daemon
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Kills this desktop's PulseAudio-protocol server (pipewire-pulse) and no other: the
    /// headless-desktop script lists its pids in start order (bus, pipewire, wireplumber,
    /// pipewire-pulse).
    pub fn kill_pulse_server(&self) {
        let pids = std::fs::read_to_string(self.dir.join("pids")).unwrap();
        let pid = pids.lines().nth(3).expect("pipewire-pulse's pid");
        let ok = Command::new("kill")
            .arg(pid.trim())
            .status()
            .unwrap()
            .success();
        assert!(ok, "could not kill pipewire-pulse ({pid})");
    }

    /// Stops the sound server (pipewire, wireplumber, pipewire-pulse) and starts it again, as
    /// `systemctl --user restart pipewire` does on a desktop; returns once it answers.
    pub fn restart_sound_server(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/headless-desktop");
        let out = Command::new(&script)
            .arg("restart-sound")
            .arg(&self.dir)
            .output()
            .expect("run headless-desktop");
        assert!(
            out.status.success(),
            "restarting the sound server failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What letdownd logged.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("letdownd.log")).unwrap_or_default()
    }

    /// Starts recording the null sink.
    ///
    /// The recorder asks for 25 ms of latency, more than PipeWire's 1024-frame quantum (21.3
    /// ms): PipeWire runs the whole graph at the smallest latency a stream asks for, and at
    /// 10 ms (a 256-frame quantum) this machine's timer-driven null sink missed cycles, which
    /// left 5.3-ms holes of silence all through the recording (and through what was played).
    /// The quantum is then the one letdownd itself asks for, as on a user's desktop.
    pub fn record(&self) -> Recorder {
        self.record_from("auto_null.monitor")
    }

    /// Starts recording `source` (a sink's monitor), as [`Desktop::record`] does the null sink.
    pub fn record_from(&self, source: &str) -> Recorder {
        let path = self
            .dir
            .join(format!("rec-{}-{source}.raw", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let started = Instant::now();
        let child = self
            .command("parec")
            .args([
                "-d",
                source,
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
                "--latency-msec=25",
            ])
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("start parec");
        // Nothing is played before the recorder is capturing: its file has begun to grow.
        let until = Instant::now() + Duration::from_secs(5);
        while std::fs::metadata(&path).map_or(0, |m| m.len()) == 0 {
            assert!(
                Instant::now() < until,
                "parec wrote nothing in 5 s: is the sound server up? {}",
                String::from_utf8_lossy(
                    &self
                        .run("pactl", &["list", "short", "source-outputs"])
                        .stdout
                )
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // parec captures from some moment after it was launched. The file grows in real time,
        // so the tightest (time since launch - samples written) over a few polls says when its
        // first sample was taken; `finish` places the samples by it.
        let mut lead = f64::MAX;
        for _ in 0..60 {
            let written = std::fs::metadata(&path).map_or(0, |m| m.len() / 2);
            if written > 0 {
                lead = lead.min(started.elapsed().as_secs_f64() - written as f64 / 48_000.0);
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        Recorder {
            child,
            path,
            started,
            lead: if lead == f64::MAX { 0.0 } else { lead },
        }
    }

    /// Polls a D-Bus property of the coach through busctl until `want` or a timeout.
    pub fn wait_state(&self, want: &str, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            let out = self.letdown(&["status", "--json"]);
            if out.status.success() {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                if v["state"] == want {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/headless-desktop");
        let _ = Command::new(script).arg("stop").arg(&self.dir).output();
    }
}

fn unsafe_kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// A recording of the null sink in progress.
pub struct Recorder {
    child: Child,
    path: PathBuf,
    /// When the recorder was launched. [`Recorder::finish`] returns samples placed so that
    /// index `t * 48000` is `t` seconds after this.
    pub started: Instant,
    /// Seconds from launch to the first captured sample.
    lead: f64,
}

impl Recorder {
    /// Seconds since the recording started, as a sample index.
    pub fn now_sample(&self) -> usize {
        (self.started.elapsed().as_secs_f64() * 48_000.0) as usize
    }

    /// The last `secs` seconds captured so far (fewer when less was).
    pub fn tail(&self, secs: f64) -> Vec<f32> {
        let bytes = std::fs::read(&self.path).unwrap_or_default();
        let want = (secs * 48_000.0) as usize * 2;
        let from = bytes.len().saturating_sub(want) & !1;
        bytes[from..]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect()
    }

    /// Waits until the last `quiet` captured is silent (each 10 ms under `floor` RMS), up to
    /// `limit`; fails saying how loud it still was.
    pub fn wait_silence(&self, floor: f32, quiet: Duration, limit: Duration) {
        let until = Instant::now() + limit;
        let secs = quiet.as_secs_f64();
        loop {
            let tail = self.tail(secs);
            let loudest = tail.chunks(480).map(super::rms).fold(0.0, f32::max);
            if tail.len() >= (secs * 48_000.0) as usize && loudest < floor {
                return;
            }
            assert!(
                Instant::now() < until,
                "still sounding after {limit:?} (loudest of the last {secs} s: {loudest:.4})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops recording and returns the samples, placed in time from the launch: silence
    /// stands in for what was not yet captured.
    pub fn finish(mut self) -> Vec<f32> {
        unsafe_kill(self.child.id(), "INT");
        let _ = self.child.wait();
        let bytes = std::fs::read(&self.path).unwrap();
        let lead = (self.lead * 48_000.0).round() as i64;
        let samples = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0);
        if lead >= 0 {
            std::iter::repeat_n(0.0, lead as usize)
                .chain(samples)
                .collect()
        } else {
            samples.skip((-lead) as usize).collect()
        }
    }
}

/// 10-ms RMS frames of a signal.
pub fn envelope(s: &[f32]) -> Vec<f32> {
    s.chunks(480).map(super::rms).collect()
}

/// Normalized correlation of `b` against `a` at frame offset `lag` (over `b`'s length).
pub fn correlation(a: &[f32], b: &[f32], lag: usize) -> f32 {
    if lag + b.len() > a.len() || b.is_empty() {
        return 0.0;
    }
    let a = &a[lag..lag + b.len()];
    let ma = a.iter().sum::<f32>() / a.len() as f32;
    let mb = b.iter().sum::<f32>() / b.len() as f32;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        num += (x - ma) * (y - mb);
        da += (x - ma) * (x - ma);
        db += (y - mb) * (y - mb);
    }
    if da == 0.0 || db == 0.0 {
        0.0
    } else {
        num / (da.sqrt() * db.sqrt())
    }
}

/// The frame offset in `a[from..to]` where `b` matches best, and how well. The last offset
/// at which `b` fits whole is tried too: a `b` as long as `a` is matched at 0.
pub fn best_match(a: &[f32], b: &[f32], from: usize, to: usize) -> (usize, f32) {
    let last_fit = (a.len() + 1).saturating_sub(b.len());
    (from..to.min(last_fit).max(from))
        .map(|lag| (lag, correlation(a, b, lag)))
        .fold(
            (from, f32::MIN),
            |best, x| if x.1 > best.1 { x } else { best },
        )
}
