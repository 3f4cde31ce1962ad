//! The Debian package as a user meets it: built by scripts/package, checked by lintian,
//! installed with `apt-get install ./letdown_*.deb` while two unprivileged users are logged in
//! (each with a real `systemd --user`, user bus and PipeWire), used by both at once with nothing
//! installed or enabled by either, and purged with `apt-get purge` while one user's daemon runs.
//!
//! Needs root (it installs a system package and creates users); elsewhere every check is
//! counted as skipped, with the reason. It will not replace a letdown package that it did not
//! install itself. Shares its harness with the source install's test (real_user/).

#[path = "real_user/mod.rs"]
mod real_user;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use real_user::{Check, ROOT, Session, Setup, loud_frames, text};

/// Left while the test's own install is on the machine, so a run that died is cleaned up by
/// the next one instead of being mistaken for a user's install.
const MARK: &str = "/var/lib/letdown-test-installed-the-package";

/// What the checks share: two users, the package and the files it installed.
struct Machine {
    a: Session,
    b: Session,
    deb: Mutex<Option<PathBuf>>,
    files: Mutex<Vec<String>>,
}

fn root_cmd(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn package_installed() -> bool {
    text(&root_cmd("dpkg-query", &["-W", "-f=${Status}", "letdown"]).stdout)
        .contains("install ok installed")
}

fn purge() -> std::process::Output {
    let out = root_cmd("apt-get", &["purge", "-y", "-q", "letdown"]);
    if out.status.success() {
        let _ = std::fs::remove_file(MARK);
    }
    out
}

/// scripts/package builds the .deb (release, stripped) and lintian finds no error in it.
fn builds_and_lintian_finds_no_error(m: &Machine) {
    let started = Instant::now();
    let out = Command::new(Path::new(ROOT).join("scripts/package"))
        .arg("--lintian")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let said = text(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/package --lintian failed:\n{said}"
    );
    let deb = PathBuf::from(text(&out.stdout).trim());
    let size = std::fs::metadata(&deb).unwrap().len();
    println!(
        "    scripts/package: {took:.0?}, {} ({:.1} MB)",
        deb.display(),
        size as f64 / 1e6
    );
    let tags: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    println!(
        "    lintian: {}",
        if tags.is_empty() {
            "nothing to say".into()
        } else {
            tags.join(" | ")
        }
    );
    assert!(
        !tags.iter().any(|t| t.starts_with("E: ")),
        "lintian errors: {tags:?}"
    );
    *m.deb.lock().unwrap() = Some(deb);
}

/// `apt-get install ./letdown_*.deb` puts every file in the system's own place.
fn apt_installs_it_in_the_system_places(m: &Machine) {
    let deb = m.deb.lock().unwrap().clone().expect("a package was built");
    std::fs::write(MARK, "").unwrap();
    let out = root_cmd("apt-get", &["install", "-y", "-q", deb.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "apt-get install: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let listed = text(&root_cmd("dpkg-query", &["-L", "letdown"]).stdout);
    let files: Vec<String> = listed
        .lines()
        .filter(|l| Path::new(l).is_file())
        .map(str::to_string)
        .collect();
    for f in [
        "/usr/bin/letdown",
        "/usr/bin/letdownd",
        "/usr/lib/systemd/user/letdownd.service",
        "/usr/share/dbus-1/services/org.letdown.Coach.service",
        "/usr/share/applications/letdown.desktop",
        "/usr/share/letdown/routines/lactation-massage.toml",
        "/usr/share/doc/letdown/copyright",
        "/usr/share/doc/letdown/ROUTINES.md",
        "/usr/share/man/man1/letdown.1.gz",
        "/usr/share/man/man1/letdown-start.1.gz",
        "/usr/share/man/man1/letdown-feeds-fix.1.gz",
        "/usr/share/man/man1/letdownd.1.gz",
        "/usr/share/man/man5/letdown-routine.5.gz",
        "/usr/share/man/man5/letdown.toml.5.gz",
        "/usr/share/bash-completion/completions/letdown",
        "/usr/share/zsh/vendor-completions/_letdown",
        "/usr/share/fish/vendor_completions.d/letdown.fish",
    ] {
        assert!(
            files.iter().any(|x| x == f),
            "the package did not install {f}"
        );
    }
    let unit = std::fs::read_to_string("/usr/lib/systemd/user/letdownd.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/letdownd\n"), "{unit}");
    assert!(
        !unit.contains("@BINDIR@") && !unit.contains("@DOCDIR@"),
        "a placeholder was left in the unit:\n{unit}"
    );
    let activation =
        std::fs::read_to_string("/usr/share/dbus-1/services/org.letdown.Coach.service").unwrap();
    assert!(activation.contains("SystemdService=letdownd.service"));
    println!("    installed {} files", files.len());
    *m.files.lock().unwrap() = files;
}

/// Starts the user's packaged daemon by D-Bus activation (measured) and hears a session.
fn activate_and_hear(s: &Session) {
    s.log_to_file();
    assert_eq!(
        s.active(),
        "inactive",
        "{}'s letdownd runs before any command",
        s.user
    );
    let (_, took) = s.letdown_ok(&["status"]);
    println!(
        "    {}: letdown status with D-Bus activation: {took:.0?}",
        s.user
    );
    assert!(took < Duration::from_secs(1), "activation took {took:?}");
    assert_eq!(s.active(), "active", "activation went through systemd");
    let pid = s.main_pid();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        exe,
        Path::new("/usr/bin/letdownd"),
        "the packaged binary runs"
    );
    let status = text(&s.systemctl(&["status", "--no-pager", "letdownd"]).stdout);
    assert!(
        status.contains("/usr/lib/systemd/user/letdownd.service"),
        "systemctl --user status does not show the packaged unit:\n{status}"
    );
    // The user's first session: its speech is synthesized first (a cold cache), then heard.
    let rec = s.record();
    s.letdown_ok(&["--timeout", "180s", "start"]);
    std::thread::sleep(Duration::from_secs(4));
    let samples = rec.finish();
    let loud = loud_frames(&samples);
    assert!(
        loud >= 100,
        "{}: only {loud} loud 10-ms frames in {} s: the routine was not heard\n{}",
        s.user,
        samples.len() / 48_000,
        s.log()
    );
    let status = s.ok(&["letdown", "status"]);
    assert!(status.starts_with("running"), "status: {status}");
}

/// A user who installed nothing: `letdown status` activates /usr/bin/letdownd through the
/// user's systemd manager within a second, the packaged unit shows in `systemctl --user
/// status`, the routine is heard, and `--version` says the package runs.
fn a_user_who_installed_nothing_hears_the_routine(m: &Machine) {
    activate_and_hear(&m.a);
    let version = m.a.ok(&["letdown", "--version"]);
    assert!(
        version.contains("Debian package") && version.contains("/usr/bin/letdown"),
        "--version: {version}"
    );
}

/// Nothing is enabled at install; once the user has a session ahead, letdownd has their
/// manager start it at login, so the schedule fires after a reboot too.
fn a_schedule_makes_it_start_at_login(m: &Machine) {
    let enabled = |s: &Session| text(&s.systemctl(&["is-enabled", "letdownd"]).stdout);
    assert_eq!(
        enabled(&m.a).trim(),
        "disabled",
        "the package enabled letdownd"
    );
    m.a.ok(&["letdown", "--quiet", "schedule", "in", "3h"]);
    assert!(
        m.a.wait(Duration::from_secs(5), || enabled(&m.a).trim() == "enabled"),
        "a schedule did not make letdownd start at login: {}\n{}",
        enabled(&m.a),
        m.a.log()
    );
    assert!(
        m.a.path(".config/systemd/user/default.target.wants/letdownd.service")
            .exists()
    );
    // The user's own choice stands: disabled again, it stays so, restarts included (asked
    // once for good).
    m.a.ok(&["systemctl", "--user", "disable", "letdownd"]);
    m.a.ok(&["systemctl", "--user", "restart", "letdownd"]);
    m.a.ok(&["letdown", "--quiet", "schedule", "in", "4h"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(enabled(&m.a).trim(), "disabled");
    assert_eq!(enabled(&m.b).trim(), "disabled", "b has scheduled nothing");
}

/// `man letdown`, `man 5 letdown-routine`, `man letdown.toml` and `man letdownd` render, and
/// bash completes letdown's commands.
fn man_pages_render_and_bash_completes(m: &Machine) {
    for (args, expect) in [
        (vec!["letdown"], "letdown-start(1)"),
        (vec!["letdown-fed"], "--side"),
        (vec!["letdownd"], "--output"),
        (vec!["5", "letdown-routine"], "sides_order"),
        (vec!["letdown.toml"], "heads_up"),
    ] {
        let mut all = vec!["env", "MANWIDTH=100", "man", "-P", "cat"];
        all.extend(&args);
        let out = m.a.run(&all);
        let page = text(&out.stdout);
        assert!(
            out.status.success() && page.contains(expect),
            "man {args:?} did not render with {expect:?}: {}{page}",
            text(&out.stderr)
        );
        let warnings = text(&out.stderr);
        assert!(
            warnings.trim().is_empty(),
            "man {args:?} warned: {warnings}"
        );
    }
    let out = m.a.ok(&[
        "bash",
        "-c",
        "source /usr/share/bash-completion/bash_completion; _completion_loader letdown; \
         COMP_WORDS=(letdown sta); COMP_CWORD=1; COMP_LINE='letdown sta'; COMP_POINT=11; \
         $(complete -p letdown | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p') letdown sta letdown; \
         echo \"${COMPREPLY[*]}\"",
    ]);
    assert!(
        out.contains("start") && out.contains("status"),
        "bash did not complete `letdown sta`: {out:?}"
    );
}

/// A second user at the same time: a daemon of its own, state of its own, sound on its own
/// sound server.
fn two_users_each_have_their_own_daemon_state_and_sound(m: &Machine) {
    activate_and_hear(&m.b);
    let (pa, pb) = (m.a.main_pid(), m.b.main_pid());
    assert!(pa > 0 && pb > 0 && pa != pb, "one daemon each: {pa} {pb}");
    let owner = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap()
    };
    assert_eq!(owner(pa), m.a.uid.to_string());
    assert_eq!(owner(pb), m.b.uid.to_string());
    m.a.ok(&[
        "letdown", "--quiet", "fed", "--ago", "30m", "--side", "left",
    ]);
    m.b.ok(&[
        "letdown", "--quiet", "fed", "--ago", "20m", "--side", "right",
    ]);
    let feeds_a = m.a.ok(&["letdown", "feeds"]);
    let feeds_b = m.b.ok(&["letdown", "feeds"]);
    assert!(
        feeds_a.contains("left") && !feeds_a.contains("right"),
        "a's feeds: {feeds_a}"
    );
    assert!(
        feeds_b.contains("right") && !feeds_b.contains("left"),
        "b's feeds: {feeds_b}"
    );
    for s in [&m.a, &m.b] {
        assert!(
            s.path(".local/share/letdown/state.sqlite3").exists(),
            "{} has no state of its own",
            s.user
        );
    }
    m.b.ok(&["letdown", "stop"]);
}

/// With both installs present, the user's own (scripts/install, ~/.local) wins: its binary on
/// PATH, its unit and so its daemon; `--version` says which one runs. Uninstalled, the
/// package's is back.
fn the_users_own_install_wins_over_the_package(m: &Machine) {
    let s = &m.b;
    real_user::stage(s).expect("staging the source install");
    let out = real_user::install(s, &["--no-session"]);
    assert!(
        out.status.success(),
        "scripts/install as {}: {}{}",
        s.user,
        text(&out.stdout),
        text(&out.stderr)
    );
    let version = s.ok(&["letdown", "--version"]);
    assert!(
        version.contains("installed from source") && version.contains("/.local/bin/letdown"),
        "--version with both installs: {version}"
    );
    s.ok(&["systemctl", "--user", "restart", "letdownd"]);
    let exe = std::fs::read_link(format!("/proc/{}/exe", s.main_pid())).unwrap();
    assert_eq!(
        exe,
        s.path(".local/bin/letdownd"),
        "the user's own daemon runs"
    );
    let daemon = s.ok(&["letdownd", "--version"]);
    assert!(daemon.contains("installed from source"), "{daemon}");
    let out = s.run(&[real_user::src(s)
        .join("scripts/uninstall")
        .to_str()
        .unwrap()]);
    assert!(out.status.success(), "uninstall: {}", text(&out.stderr));
    let version = s.ok(&["letdown", "--version"]);
    assert!(
        version.contains("Debian package"),
        "after uninstall: {version}"
    );
    s.ok(&["letdown", "status"]);
    let exe = std::fs::read_link(format!("/proc/{}/exe", s.main_pid())).unwrap();
    assert_eq!(
        exe,
        Path::new("/usr/bin/letdownd"),
        "the package's daemon is back"
    );
}

/// `apt-get purge` while a's daemon runs: every file the package installed is gone, each
/// user's data stays; nothing hangs, and nothing keeps restarting from the deleted binary.
fn purge_removes_every_file_and_keeps_user_data(m: &Machine) {
    assert_eq!(m.a.active(), "active", "a's daemon runs at the purge");
    let out = purge();
    assert!(
        out.status.success(),
        "apt-get purge: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let files = m.files.lock().unwrap().clone();
    assert!(!files.is_empty());
    let left: Vec<&String> = files.iter().filter(|f| Path::new(f).exists()).collect();
    assert!(left.is_empty(), "apt-get purge left {left:?}");
    for d in ["/usr/share/letdown", "/usr/share/doc/letdown"] {
        assert!(!Path::new(d).exists(), "apt-get purge left {d}");
    }
    for s in [&m.a, &m.b] {
        assert!(
            s.path(".local/share/letdown/state.sqlite3").exists(),
            "the purge removed {}'s data",
            s.user
        );
    }
    // The command is gone at once.
    let started = Instant::now();
    let out = m.a.letdown(&["status"]);
    assert!(!out.status.success() && started.elapsed() < Duration::from_secs(3));
    // The daemon that was running goes on from the deleted binary until it ends; when it dies,
    // systemd's restarts fail (the binary is gone) and stop at the start limit.
    let pid = m.a.main_pid();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let settled = m.a.wait(Duration::from_secs(30), || {
        matches!(m.a.active().as_str(), "failed" | "inactive")
            && root_cmd("pgrep", &["-u", &m.a.uid.to_string(), "-x", "letdownd"])
                .stdout
                .is_empty()
    });
    let state = m.a.active();
    assert!(
        settled,
        "letdownd still restarting 30 s after the purge: {state}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        matches!(m.a.active().as_str(), "failed" | "inactive"),
        "letdownd started again after the purge: {}",
        m.a.active()
    );
    println!("    a's letdownd after kill -9, binary purged: {state}");
    // A D-Bus call to the name fails at once: nothing is left to activate.
    let started = Instant::now();
    let out = m.a.run(&[
        "busctl",
        "--user",
        "call",
        "org.letdown.Coach",
        "/org/letdown/Coach",
        "org.freedesktop.DBus.Peer",
        "Ping",
    ]);
    let took = started.elapsed();
    assert!(!out.status.success(), "something still answers the name");
    assert!(
        took < Duration::from_secs(5),
        "a call to the name took {took:?}"
    );
    println!("    a D-Bus call to org.letdown.Coach after the purge fails in {took:.0?}");
}

const CHECKS: &[Check<Machine>] = &[
    (
        "builds_and_lintian_finds_no_error",
        builds_and_lintian_finds_no_error,
    ),
    (
        "apt_installs_it_in_the_system_places",
        apt_installs_it_in_the_system_places,
    ),
    (
        "a_user_who_installed_nothing_hears_the_routine",
        a_user_who_installed_nothing_hears_the_routine,
    ),
    (
        "a_schedule_makes_it_start_at_login",
        a_schedule_makes_it_start_at_login,
    ),
    (
        "man_pages_render_and_bash_completes",
        man_pages_render_and_bash_completes,
    ),
    (
        "two_users_each_have_their_own_daemon_state_and_sound",
        two_users_each_have_their_own_daemon_state_and_sound,
    ),
    (
        "the_users_own_install_wins_over_the_package",
        the_users_own_install_wins_over_the_package,
    ),
    (
        "purge_removes_every_file_and_keeps_user_data",
        purge_removes_every_file_and_keeps_user_data,
    ),
];

fn setup() -> Setup<Machine> {
    if package_installed() {
        if !Path::new(MARK).exists() {
            return Setup::Skipped(
                "a letdown package that this test did not install is on the machine; \
                 the test would replace it (apt-get purge letdown to run it)"
                    .into(),
            );
        }
        // A run that died left its install: remove it first.
        let out = purge();
        if !out.status.success() {
            return Setup::Failed(format!(
                "purging a dead run's package: {}",
                text(&out.stderr)
            ));
        }
    }
    let a = match Session::start("letdown-pkg-a") {
        Setup::Ready(s) => s,
        Setup::Skipped(why) => return Setup::Skipped(why),
        Setup::Failed(why) => return Setup::Failed(why),
    };
    let b = match Session::start("letdown-pkg-b") {
        Setup::Ready(s) => s,
        other => {
            a.stop();
            return match other {
                Setup::Skipped(w) => Setup::Skipped(w),
                Setup::Failed(w) => Setup::Failed(w),
                Setup::Ready(_) => unreachable!(),
            };
        }
    };
    Setup::Ready(Machine {
        a,
        b,
        deb: Mutex::new(None),
        files: Mutex::new(Vec::new()),
    })
}

fn main() -> ExitCode {
    real_user::main(
        "package: the .deb installed with apt for two users under systemd --user",
        CHECKS,
        setup,
        |m| {
            for s in [&m.a, &m.b] {
                let log = s.log();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                println!("--- {}'s letdownd log, last lines ---", s.user);
                for l in tail.iter().rev() {
                    println!("{l}");
                }
            }
        },
        |m| {
            m.a.stop();
            m.b.stop();
            if package_installed() && Path::new(MARK).exists() {
                let _ = purge();
            }
            [m.a.leftovers(), m.b.leftovers()]
                .join(" ")
                .trim()
                .to_string()
        },
    )
}
