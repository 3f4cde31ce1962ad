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
    for action in [
        "Start",
        "TogglePause",
        "Next",
        "Repeat",
        "Where",
        "FedLeft",
        "FedRight",
        "FedBoth",
        "Snooze",
        "Skip",
    ] {
        assert!(
            text.contains(&format!("[Desktop Action {action}]")),
            "no {action} action"
        );
    }
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
