//! letdown as a user meets it: installed by `scripts/install` for an unprivileged user, run by
//! that user's real `systemd --user`, started by D-Bus activation through systemd, heard on
//! PipeWire's null sink, controlled with the user's own `systemctl`, `letdown` and `busctl`.
//!
//! Root hides what an unprivileged user manager refuses (a unit that cannot shrink its
//! capability bounding set never starts for a user, but does for root), so this test makes a
//! user of its own (`scripts/real-desktop`) and does everything as that user. It sets the
//! session up once, runs its checks in order (each builds on the state the previous one left),
//! and removes the user and everything it started at the end.
//!
//! Where it cannot run (not root, no systemd) it says why and counts as skipped; the rest of the
//! suite runs as usual. `cargo test --test real_desktop -- NAME` runs the checks whose name
//! contains NAME (with the ones before it that it builds on, since they set up its state).

#[path = "real_user/mod.rs"]
mod real_user;

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use real_user::{Check, Session, Setup, install, loud_frames, src, stage, text};

/// The test user: a name no person uses.
const USER: &str = "letdown-e2e";

// ---------------------------------------------------------------------------------------------
// The checks, in order.

/// The first install, without starting anything; the log drop-in the rest of the test reads.
fn installs_for_an_unprivileged_user(s: &Session) {
    s.log_to_file();
    let started = Instant::now();
    let out = install(s, &["--no-session"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "install failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    println!("    install (prebuilt, cold speech cache): {took:.1?}");
    for f in [
        ".local/bin/letdown",
        ".local/bin/letdownd",
        ".config/systemd/user/letdownd.service",
        ".local/share/dbus-1/services/org.letdown.Coach.service",
        ".local/share/applications/letdown.desktop",
        ".local/share/bash-completion/completions/letdown",
    ] {
        assert!(s.path(f).exists(), "install did not put {f} in place");
    }
    let enabled = text(&s.systemctl(&["is-enabled", "letdownd"]).stdout);
    assert_eq!(enabled.trim(), "enabled");
    assert_eq!(s.active(), "inactive", "--no-session starts no daemon");
}

/// One probe per hardening line of the unit: (the line, properties given with and without it,
/// a shell snippet that prints APPLIED when the line's effect is there).
const PROBES: &[(&str, &[&str], &str)] = &[
    (
        "NoNewPrivileges=yes",
        &[],
        r#"grep -Eq '^NoNewPrivs:\s+1' /proc/self/status && echo APPLIED"#,
    ),
    // TCP/IP stays (Baby Buddy); a netlink socket, which any user may open, does not.
    (
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        &[],
        r#"python3 -c 'import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)' 2>&1 | grep -q 'not supported' && echo APPLIED"#,
    ),
    (
        "RestrictNamespaces=yes",
        &[],
        "unshare -U true 2>/dev/null || echo APPLIED",
    ),
    (
        "RestrictSUIDSGID=yes",
        &[],
        "f=$(mktemp -p ~); chmod u+s $f 2>/dev/null || echo APPLIED; rm -f $f",
    ),
    // An unprivileged user cannot get a real-time policy here with or without it, so what can
    // be seen is that its seccomp filter is installed.
    (
        "RestrictRealtime=yes",
        &[],
        r#"grep -Eq '^Seccomp:\s+2' /proc/self/status && echo APPLIED"#,
    ),
    (
        "LockPersonality=yes",
        &[],
        "setarch linux32 true 2>/dev/null || echo APPLIED",
    ),
    (
        "MemoryDenyWriteExecute=yes",
        &[],
        r#"python3 -c 'import mmap; mmap.mmap(-1, 4096, prot=7)' 2>/dev/null || echo APPLIED"#,
    ),
    // Blocks the x32 and i386 system call ABIs; seen as its seccomp filter.
    (
        "SystemCallArchitectures=native",
        &[],
        r#"grep -Eq '^Seccomp:\s+2' /proc/self/status && echo APPLIED"#,
    ),
    // modify_ldt (reading the LDT) is allowed to any process, but is not in @system-service.
    (
        "SystemCallFilter=@system-service",
        &[],
        r#"python3 -c 'import ctypes; assert ctypes.CDLL(None).syscall(154, 0, 0, 0) == 0' >/dev/null 2>&1 || echo APPLIED"#,
    ),
    (
        "SystemCallFilter=~@privileged @resources",
        &[],
        r#"python3 -c 'import os; os.setpriority(os.PRIO_PROCESS, 0, 5)' >/dev/null 2>&1 || echo APPLIED"#,
    ),
    // A refused call fails with EPERM instead of killing the process.
    (
        "SystemCallErrorNumber=EPERM",
        &["SystemCallFilter=~@resources"],
        r#"python3 -c 'import os; os.setpriority(os.PRIO_PROCESS, 0, 5)' 2>&1 | grep -q PermissionError && echo APPLIED"#,
    ),
    (
        "UMask=0077",
        &[],
        r#"[ "$(umask)" = 0077 ] && echo APPLIED"#,
    ),
];

/// The unit's settings that are not hardening (no probe needed).
const PLAIN: &[&str] = &[
    "Type",
    "BusName",
    "ExecStart",
    "ExecReload",
    "Restart",
    "RestartSec",
    "TimeoutStopSec",
    "Environment",
];

/// Every hardening line of the installed unit is applied by the unprivileged manager: each
/// probe sees the effect with the line and not without it.
fn every_hardening_line_of_the_unit_is_applied(s: &Session) {
    let unit = std::fs::read_to_string(s.path(".config/systemd/user/letdownd.service")).unwrap();
    let service = unit
        .split("[Service]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let lines: Vec<&str> = service
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !PLAIN.iter().any(|k| l.starts_with(&format!("{k}="))))
        .collect();
    assert!(lines.len() >= 8, "the unit lost its hardening: {lines:?}");
    for line in lines {
        let Some((_, extra, probe)) = PROBES.iter().find(|p| p.0 == line) else {
            panic!(
                "no probe for \"{line}\": add one to PROBES showing it is applied in a user unit"
            );
        };
        let run = |with: bool| {
            let mut args = vec!["systemd-run", "--user", "--wait", "--quiet", "--pipe"];
            for e in *extra {
                args.extend(["-p", e]);
            }
            if with {
                args.extend(["-p", line]);
            }
            args.extend(["/bin/bash", "-c", probe]);
            let out = s.run(&args);
            text(&out.stdout).contains("APPLIED")
        };
        assert!(run(true), "\"{line}\" has no effect under a user manager");
        assert!(
            !run(false),
            "the probe for \"{line}\" sees the effect without it too: it proves nothing"
        );
    }
}

/// `letdown start` D-Bus activates letdownd through systemd within a second, and the routine
/// is heard on the null sink.
fn start_activates_through_systemd_and_is_heard(s: &Session) {
    assert_eq!(s.active(), "inactive");
    let rec = s.record();
    let (_, took) = s.letdown_ok(&["start"]);
    println!("    letdown start with D-Bus activation: {took:.0?}");
    assert!(
        took < Duration::from_secs(1),
        "letdown start took {took:?} with activation"
    );
    assert_eq!(s.active(), "active", "activation went through systemd");
    std::thread::sleep(Duration::from_secs(4));
    let samples = rec.finish();
    let loud = loud_frames(&samples);
    assert!(
        loud >= 100,
        "only {loud} loud 10-ms frames in {} s recorded: the routine was not heard\n{}",
        samples.len() / 48_000,
        s.log()
    );
    let status = s.ok(&["letdown", "status"]);
    assert!(status.starts_with("running"), "status: {status}");
}

/// `systemctl --user reload` reaches the daemon.
fn systemctl_reload_reloads(s: &Session) {
    let before = s.log().matches("reloaded config and routines").count();
    s.ok(&["systemctl", "--user", "reload", "letdownd"]);
    assert!(
        s.wait(Duration::from_secs(3), || {
            s.log().matches("reloaded config and routines").count() > before
        }),
        "no reload in the log:\n{}",
        s.log()
    );
    assert_eq!(s.active(), "active");
}

/// A Baby Buddy server this check starts (as root, on loopback), stopped on drop.
struct BabyBuddy {
    dir: tempfile::TempDir,
    port: u16,
}

impl BabyBuddy {
    fn start() -> BabyBuddy {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = Command::new(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/babybuddy-test-server"),
        )
        .arg("start")
        .arg(dir.path())
        .arg(port.to_string())
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "Baby Buddy did not start: {}",
            text(&out.stderr)
        );
        BabyBuddy { dir, port }
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("token"))
            .unwrap()
            .trim()
            .to_string()
    }

    fn get(&self, path: &str) -> String {
        let out = Command::new("curl")
            .args(["-sS", "-H"])
            .arg(format!("Authorization: Token {}", self.token()))
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .unwrap();
        text(&out.stdout)
    }
}

impl Drop for BabyBuddy {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Under the hardened unit (TCP/IP allowed, nothing else), the user's letdownd reaches a Baby
/// Buddy server: a key press is a running timer there.
fn feeds_reach_baby_buddy_from_the_hardened_unit(s: &Session) {
    let bb = BabyBuddy::start();
    let made = Command::new("curl")
        .args(["-sS", "-H"])
        .arg(format!("Authorization: Token {}", bb.token()))
        .args(["-H", "Content-Type: application/json", "-d"])
        .arg(r#"{"first_name":"Ada","last_name":"Test","birth_date":"2026-11-01"}"#)
        .arg(format!("http://127.0.0.1:{}/api/children/", bb.port))
        .output()
        .unwrap();
    assert!(
        text(&made.stdout).contains("\"id\""),
        "{}",
        text(&made.stdout)
    );
    let token = s.path(".config/letdown/babybuddy-token");
    std::fs::create_dir_all(token.parent().unwrap()).unwrap();
    std::fs::write(&token, bb.token()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.chown(&s.path(".config/letdown"));
    let url = format!("http://127.0.0.1:{}", bb.port);
    s.ok(&[
        "letdown",
        "babybuddy",
        "connect",
        &url,
        "--token-file",
        token.to_str().unwrap(),
    ]);
    s.ok(&["letdown", "--quiet", "fed", "--side", "left"]);
    let mut seen = String::new();
    let arrived = s.wait(Duration::from_secs(5), || {
        seen = bb.get("/api/timers/?child=1");
        seen.contains("\"count\":1")
    });
    assert!(arrived, "no timer in Baby Buddy: {seen}\n{}", s.log());
    s.ok(&["letdown", "--quiet", "fed", "--end"]);
    s.ok(&["letdown", "babybuddy", "disconnect"]);
}

/// After `kill -9`, systemd starts letdownd again, and a schedule made before is still there.
fn kill_9_is_survived_with_the_schedule(s: &Session) {
    let said = s.ok(&["letdown", "schedule", "in", "3h"]);
    let id = said
        .lines()
        .find_map(|l| l.strip_prefix("scheduled: id "))
        .unwrap_or_else(|| panic!("no id in {said:?}"))
        .trim()
        .to_string();
    let old = s.main_pid();
    assert!(old > 0);
    Command::new("kill")
        .args(["-9", &old.to_string()])
        .status()
        .unwrap();
    assert!(
        s.wait(Duration::from_secs(10), || {
            let now = s.main_pid();
            now != 0 && now != old && s.active() == "active"
        }),
        "systemd did not restart letdownd after kill -9 ({})",
        s.active()
    );
    let upcoming = s.ok(&["letdown", "upcoming"]);
    assert!(
        upcoming.lines().any(|l| l.trim_start().starts_with(&id)),
        "schedule {id} lost after the restart:\n{upcoming}"
    );
}

/// `systemctl --user stop` ends a daemon in the middle of a session within 3 s.
fn stop_ends_it_within_3_seconds(s: &Session) {
    s.ok(&["letdown", "start"]);
    let started = Instant::now();
    s.ok(&["systemctl", "--user", "stop", "letdownd"]);
    let took = started.elapsed();
    println!("    systemctl --user stop during a session: {took:.0?}");
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    assert_eq!(s.active(), "inactive");
}

/// With the unit disabled, the first command still starts letdownd by D-Bus activation.
fn activation_works_with_the_unit_disabled(s: &Session) {
    s.ok(&["systemctl", "--user", "disable", "letdownd"]);
    let status = s.ok(&["letdown", "status"]);
    assert_eq!(status.trim(), "idle");
    assert_eq!(s.active(), "active");
    s.ok(&["systemctl", "--user", "enable", "letdownd"]);
}

/// letdownd answers at once while it prepares speech; a start waits for the preparation only,
/// and status says "preparing" meanwhile.
fn it_answers_while_preparing_and_start_waits_for_it(s: &Session) {
    s.ok(&["systemctl", "--user", "stop", "letdownd"]);
    s.ok(&[
        "rm",
        "-rf",
        s.path(".cache/letdown/speech").to_str().unwrap(),
    ]);
    let log_before = s.log().len();
    // Ready (Type=dbus) when it owns its name: from then on calls are answered.
    s.ok(&["systemctl", "--user", "start", "letdownd"]);
    let asked = Instant::now();
    let state = s.ok(&[
        "busctl",
        "--user",
        "get-property",
        "org.letdown.Coach",
        "/org/letdown/Coach",
        "org.letdown.Coach1",
        "State",
    ]);
    let answered = asked.elapsed();
    println!(
        "    first answer after owning the name, cold cache (busctl, process start included): {answered:.0?}"
    );
    assert_eq!(state.trim(), "s \"idle\"");
    let since = |s: &Session| s.log()[log_before..].to_string();
    assert!(
        !since(s).contains("prepared \""),
        "the preparation was already over when the answer came; the test proves nothing:\n{}",
        since(s)
    );
    // Start waits for the preparation; meanwhile status says so.
    let starter = s
        .command(&["letdown", "--timeout", "2s", "start"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        s.wait(Duration::from_secs(5), || {
            text(&s.letdown(&["status"]).stdout).starts_with("preparing")
        }),
        "status never said preparing"
    );
    let out = starter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "start after preparing: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("preparing"),
        "start did not say it waits: {}",
        text(&out.stderr)
    );
    assert!(text(&s.letdown(&["status"]).stdout).starts_with("running"));
    s.ok(&["letdown", "stop"]);
}

/// A unit that cannot start leaves no command hanging: each gives up after its timeout and
/// says what to run.
fn no_command_hangs_when_the_unit_cannot_start(s: &Session) {
    s.ok(&["systemctl", "--user", "stop", "letdownd"]);
    // Never owns its bus name: systemd would wait 90 s for it, D-Bus activation 2 minutes.
    s.drop_in(
        "zz-cannot-start.conf",
        "[Service]\nExecStart=\nExecStart=/bin/sleep infinity\n",
    );
    for (args, limit) in [
        (vec!["letdown", "status"], Duration::from_secs(7)),
        (vec!["letdown", "start"], Duration::from_secs(7)),
        (
            vec!["letdown", "--timeout", "1s", "toggle"],
            Duration::from_secs(3),
        ),
    ] {
        let started = Instant::now();
        let out = s.run(&args);
        let took = started.elapsed();
        println!(
            "    {} with a unit that cannot start: gave up after {took:.1?}",
            args.join(" ")
        );
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(took < limit, "{args:?} took {took:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("systemctl --user status letdownd")
                && err.contains("journalctl --user -u letdownd"),
            "{args:?} did not say what to run: {err}"
        );
    }
    // Fixed, then started by hand as the message says: the bus's pending activation (which
    // would otherwise wait out its 2 minutes) completes when the name is owned.
    s.remove_drop_in("zz-cannot-start.conf");
    s.ok(&["systemctl", "--user", "restart", "letdownd"]);
    let status = s.ok(&["letdown", "status"]);
    assert_eq!(status.trim(), "idle");
}

/// Installing again restarts a running daemon on the new binary and keeps config, feeds and
/// schedules.
fn install_again_upgrades_in_place(s: &Session) {
    std::fs::write(s.path(".config/letdown/config.toml"), "volume = 0.7\n").unwrap();
    s.chown(&s.path(".config/letdown/config.toml"));
    s.ok(&["letdown", "reload"]);
    s.ok(&["letdown", "fed", "--ago", "1h", "--side", "left"]);
    let feeds = s.ok(&["letdown", "feeds"]);
    let upcoming = s.ok(&["letdown", "upcoming"]);
    let old = s.main_pid();
    assert!(old > 0, "the daemon runs before the upgrade");
    let started = Instant::now();
    let out = install(s, &["--no-session"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "install again: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    println!("    install again (upgrade, warm cache): {took:.1?}");
    let new = s.main_pid();
    assert!(new > 0 && new != old, "the daemon was not restarted");
    let exe = std::fs::read_link(format!("/proc/{new}/exe")).unwrap();
    assert_eq!(
        exe,
        s.path(".local/bin/letdownd"),
        "the restarted daemon runs the installed binary"
    );
    assert_eq!(s.ok(&["letdown", "feeds"]), feeds, "feeds changed");
    assert_eq!(
        s.ok(&["letdown", "upcoming"]),
        upcoming,
        "schedules changed"
    );
    assert_eq!(s.ok(&["letdown", "volume"]).trim(), "70%", "config lost");
}

/// With no sound server, install says what it installed and exits non-zero.
fn install_fails_clearly_without_sound(s: &Session) {
    let sound = [
        "pipewire.socket",
        "pipewire.service",
        "pipewire-pulse.socket",
        "pipewire-pulse.service",
        "wireplumber.service",
    ];
    let mut args = vec!["systemctl", "--user", "mask", "--runtime", "--now"];
    args.extend(sound);
    s.ok(&args);
    let out = install(s, &[]);
    let err = text(&out.stderr);
    let mut args = vec!["systemctl", "--user", "unmask", "--runtime"];
    args.extend(sound);
    s.ok(&args);
    // systemd 252 still sees them masked until it reloads.
    s.ok(&["systemctl", "--user", "daemon-reload"]);
    s.ok(&[
        "systemctl",
        "--user",
        "start",
        "pipewire.socket",
        "pipewire-pulse.socket",
        "wireplumber.service",
    ]);
    assert!(
        !out.status.success(),
        "install succeeded with no sound: {err}"
    );
    assert!(
        err.contains("AudioUnavailable") && err.contains("installed so far"),
        "install did not say why or what it installed:\n{err}"
    );
    assert!(s.path(".local/bin/letdownd").exists());
}

/// uninstall removes what install put in place and keeps the user's data; --purge removes it.
fn uninstall_removes_it_and_keeps_data_unless_purged(s: &Session) {
    let out = s.run(&[src(s).join("scripts/uninstall").to_str().unwrap()]);
    assert!(out.status.success(), "uninstall: {}", text(&out.stderr));
    for f in [
        ".local/bin/letdown",
        ".local/bin/letdownd",
        ".config/systemd/user/letdownd.service",
        ".config/systemd/user/default.target.wants/letdownd.service",
        ".local/share/dbus-1/services/org.letdown.Coach.service",
        ".local/share/applications/letdown.desktop",
        ".local/share/bash-completion/completions/letdown",
        ".local/share/doc/letdown",
    ] {
        assert!(!s.path(f).exists(), "uninstall left {f}");
    }
    assert_ne!(s.active(), "active", "letdownd still runs");
    assert!(
        s.path(".config/letdown/config.toml").exists()
            && s.path(".local/share/letdown/state.sqlite3").exists(),
        "uninstall removed the user's data"
    );
    let out = s.run(&[
        src(s).join("scripts/uninstall").to_str().unwrap(),
        "--purge",
    ]);
    assert!(
        out.status.success(),
        "uninstall --purge: {}",
        text(&out.stderr)
    );
    for f in [".config/letdown", ".local/share/letdown", ".cache/letdown"] {
        assert!(!s.path(f).exists(), "--purge left {f}");
    }
}

const CHECKS: &[Check<Session>] = &[
    (
        "installs_for_an_unprivileged_user",
        installs_for_an_unprivileged_user,
    ),
    (
        "every_hardening_line_of_the_unit_is_applied",
        every_hardening_line_of_the_unit_is_applied,
    ),
    (
        "start_activates_through_systemd_and_is_heard",
        start_activates_through_systemd_and_is_heard,
    ),
    ("systemctl_reload_reloads", systemctl_reload_reloads),
    (
        "feeds_reach_baby_buddy_from_the_hardened_unit",
        feeds_reach_baby_buddy_from_the_hardened_unit,
    ),
    (
        "kill_9_is_survived_with_the_schedule",
        kill_9_is_survived_with_the_schedule,
    ),
    (
        "stop_ends_it_within_3_seconds",
        stop_ends_it_within_3_seconds,
    ),
    (
        "activation_works_with_the_unit_disabled",
        activation_works_with_the_unit_disabled,
    ),
    (
        "it_answers_while_preparing_and_start_waits_for_it",
        it_answers_while_preparing_and_start_waits_for_it,
    ),
    (
        "no_command_hangs_when_the_unit_cannot_start",
        no_command_hangs_when_the_unit_cannot_start,
    ),
    (
        "install_again_upgrades_in_place",
        install_again_upgrades_in_place,
    ),
    (
        "install_fails_clearly_without_sound",
        install_fails_clearly_without_sound,
    ),
    (
        "uninstall_removes_it_and_keeps_data_unless_purged",
        uninstall_removes_it_and_keeps_data_unless_purged,
    ),
];

fn main() -> ExitCode {
    real_user::main(
        "real_desktop: letdown installed for an unprivileged user under systemd --user",
        CHECKS,
        || match Session::start(USER) {
            Setup::Ready(s) => match stage(&s) {
                Ok(()) => Setup::Ready(s),
                Err(e) => {
                    s.stop();
                    Setup::Failed(format!("staging the install files: {e}"))
                }
            },
            other => other,
        },
        |s| {
            let log = s.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            println!("--- letdownd log, last lines ---");
            for l in tail.iter().rev() {
                println!("{l}");
            }
        },
        |s| {
            s.stop();
            s.leftovers()
        },
    )
}
