//! The files that put letdown on a desktop, checked with the tools the desktop uses:
//! desktop-file-validate for the desktop entry, systemd-analyze for the user unit.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn installed_unit(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(Path::new(ROOT).join("systemd/letdownd.service")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_letdownd")).parent().unwrap();
    let text = unit
        .replace("@BINDIR@", bin.to_str().unwrap())
        .replace("@DOCDIR@", &format!("{ROOT}/docs"));
    assert!(
        !text.contains("@BINDIR@") && !text.contains("@DOCDIR@"),
        "a placeholder was left in the unit"
    );
    let path = dir.join("letdownd.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_desktop_entry_is_valid_and_has_its_actions() {
    let out = Command::new("desktop-file-validate")
        .arg(Path::new(ROOT).join("data/letdown.desktop"))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "desktop-file-validate: {said}"
    );
    let text = std::fs::read_to_string(Path::new(ROOT).join("data/letdown.desktop")).unwrap();
    let actions = desktop_actions(&text);
    // Every shortcut letdown offers is an action, with its key for KDE Plasma, and nothing else.
    for (id, _, args, key) in letdown::shortcuts::BINDINGS {
        let exec = format!("letdown {args}");
        let Some((name, keys)) = actions
            .iter()
            .find(|(_, e, _)| *e == exec)
            .map(|(n, _, k)| (n, k))
        else {
            panic!("no desktop action runs `{exec}` (shortcut {id})");
        };
        // The desktop file escapes a backslash as two.
        let want = letdown::shortcuts::kde_key(key).replace('\\', "\\\\");
        assert_eq!(
            keys.as_deref(),
            Some(want.as_str()),
            "action {name}: its X-KDE-Shortcuts is not shortcut {id}'s key"
        );
    }
    assert_eq!(
        actions.len(),
        letdown::shortcuts::BINDINGS.len(),
        "the desktop entry has actions that are no shortcut: {actions:?}"
    );
    let listed = text
        .lines()
        .find_map(|l| l.strip_prefix("Actions="))
        .expect("an Actions= line");
    let listed: Vec<&str> = listed.split(';').filter(|a| !a.is_empty()).collect();
    let names: Vec<&str> = actions.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        listed, names,
        "Actions= lists the action sections, in order"
    );
}

/// Each `[Desktop Action NAME]` section: (NAME, Exec, X-KDE-Shortcuts).
fn desktop_actions(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<(String, String, Option<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("[Desktop Action ")
            .and_then(|l| l.strip_suffix(']'))
        {
            out.push((name.to_string(), String::new(), None));
        } else if let Some(last) = out.last_mut() {
            if let Some(exec) = line.strip_prefix("Exec=") {
                last.1 = exec.to_string();
            } else if let Some(keys) = line.strip_prefix("X-KDE-Shortcuts=") {
                last.2 = Some(keys.to_string());
            }
        }
    }
    out
}

#[test]
fn the_user_unit_verifies_and_has_only_what_a_user_manager_applies() {
    let dir = tempfile::tempdir().unwrap();
    let unit = installed_unit(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        unit_text.contains("Type=dbus") && unit_text.contains("BusName=org.letdown.Coach"),
        "readiness by bus name"
    );
    assert!(unit_text.contains("Restart=on-failure"));
    // What an unprivileged user manager refuses (status=218/CAPABILITIES on every start) or
    // skips silently (no mount namespace): the unit must not promise it. The real-desktop test
    // checks that every line the unit does have is applied.
    for never in [
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "ProtectClock=",
        "ProtectKernelModules=",
        "ProtectKernelLogs=",
        "PrivateDevices=",
        "ProtectSystem=",
        "ProtectHome=",
        "PrivateTmp=",
        "ReadWritePaths=",
        "ReadOnlyPaths=",
        "PrivateMounts=",
        "ProtectProc=",
        "ProcSubset=",
        "ProtectKernelTunables=",
        "ProtectControlGroups=",
        "ProtectHostname=",
        "PrivateUsers=",
        "PrivateNetwork=",
    ] {
        assert!(
            !unit_text.lines().any(|l| l.trim_start().starts_with(never)),
            "{never} does not work in a user unit"
        );
    }
}

#[test]
fn the_dbus_activation_file_names_the_bus_name_and_the_unit() {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("systemd/org.letdown.Coach.service")).unwrap();
    assert!(text.contains("Name=org.letdown.Coach\n"));
    assert!(text.contains("SystemdService=letdownd.service\n"));
    assert!(text.contains("Exec=@BINDIR@/letdownd\n"));
}

/// `scripts/install` where Rust is missing, or older than Cargo.toml's rust-version, stops
/// before it installs anything and says so in one sentence naming the two ways on (rustup, or
/// the package), instead of `cargo: command not found` (exit 127) halfway through.
#[test]
fn install_without_a_usable_toolchain_says_so_before_installing_anything() {
    let tools = tempfile::tempdir().unwrap();
    // The few programs the scripts use before the check, and no cargo or rustc.
    for tool in ["bash", "dirname", "sed", "sort", "head", "env"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} is not installed"));
        std::os::unix::fs::symlink(found, tools.path().join(tool)).unwrap();
    }
    let old = tempfile::tempdir().unwrap();
    for (name, said) in [
        ("rustc", "rustc 1.63.0 (4b91a6ea7 2022-08-08)"),
        ("cargo", "cargo 1.63.0"),
    ] {
        let p = old.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho '{said}'\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let none = tools.path().display().to_string();
    let too_old = format!("{}:{none}", old.path().display());
    for (path, expect) in [
        (none, "none is on PATH"),
        (too_old, "this machine's is 1.63.0"),
    ] {
        let home = tempfile::tempdir().unwrap();
        let out = Command::new(Path::new(ROOT).join("scripts/install"))
            .arg("--no-session")
            .env_clear()
            .env("PATH", &path)
            .env("HOME", home.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "with PATH={path}: {err}");
        assert!(err.contains(expect), "with PATH={path}: {err}");
        assert!(
            err.contains("rustup")
                && err.contains("scripts/package")
                && err.trim().lines().count() == 1,
            "not one sentence naming both ways on: {err}"
        );
        assert!(
            std::fs::read_dir(home.path()).unwrap().next().is_none(),
            "install put something in place before the check"
        );
    }
}

/// The limits the docs state are the code's: each number written in a doc is checked against
/// the constant it comes from.
#[test]
fn the_documented_limits_are_the_codes() {
    let doc = |name: &str| std::fs::read_to_string(Path::new(ROOT).join(name)).unwrap();
    let dbus = doc("docs/DBUS.md");
    let extend = letdown::engine::MAX_EXTENSION.as_secs();
    for (text, said) in [
        (
            &dbus,
            format!("by 1 to {extend} s (at most {} min", extend / 60),
        ),
        (
            &dbus,
            format!(
                "a note over {} characters",
                letdown::schedule::MAX_NOTE_CHARS
            ),
        ),
    ] {
        assert!(text.contains(&said), "docs/DBUS.md does not say \"{said}\"");
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_letdown"))
        .args(["extend", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains(&format!("up to {} minutes", extend / 60)),
        "letdown extend --help: {help}"
    );
}
