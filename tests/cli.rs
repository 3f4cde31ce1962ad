//! The CLI as a user meets it: checking routines, listing them, overriding built-ins, errors.

mod common;

use common::Home;

#[test]
fn shipped_routines_pass_check() {
    let home = Home::new();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = home.letdown(&[
        "check",
        &format!("{root}/routines/lactation-massage.toml"),
        &format!("{root}/routines/quick-before-feed.toml"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 routine file(s) checked, no problems")
    );
}

#[test]
fn check_lists_every_problem_of_every_file_by_position() {
    let home = Home::new();
    let broken = home.write(
        "broken.toml",
        "name = \"broken\"\ntitle = \"Broken\"\n\n[[steps]]\ntitle = \"One\"\nsay = \"Hello.\"\ndurration = \"30s\"\n\n[[steps]]\ntitle = \"Two\"\nsay = \"Again.\"\nduration = \"0s\"\naudio = \"missing.ogg\"\n",
    );
    let invalid = home.write("invalid.toml", "name = \"x\"\ntitle = \"T\n");
    let good = home.write(
        "good.toml",
        "title = \"Good\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"5s\"\n",
    );
    let out = home.letdown(&[
        "check",
        broken.to_str().unwrap(),
        invalid.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let b = broken.display().to_string();
    let expect = [
        format!("{b}:4:1: steps[0].duration: is missing"),
        format!("{b}:7:1: steps[0].durration: unknown key `durration` (did you mean `duration`?)"),
        format!("{b}:12:12: steps[1].duration: must be longer than zero"),
        format!("{b}:13:9: steps[1].audio: audio file \"missing.ogg\" not found"),
        format!(
            "{}:2:11: invalid TOML: invalid basic string",
            invalid.display()
        ),
    ];
    assert_eq!(lines.len(), expect.len(), "{stdout}");
    for (line, want) in lines.iter().zip(&expect) {
        assert!(line.starts_with(want.as_str()), "got  {line}\nwant {want}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("5 problem(s) found; 1 of 3 routine file(s) are fine"),
        "{stderr}"
    );
}

#[test]
fn duplicate_routine_names_are_an_error() {
    let home = Home::new();
    let a = home.write("a.toml", "name = \"same\"\ntitle = \"A\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"5s\"\n");
    let b = home.write("b.toml", "name = \"same\"\ntitle = \"B\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"5s\"\n");
    let out = home.letdown(&["check", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("duplicate routine name \"same\""),
        "{stdout}"
    );
}

#[test]
fn user_routines_are_listed_and_replace_built_ins_by_name() {
    let home = Home::new();
    home.write(
        "config/letdown/routines/mine.toml",
        "name = \"quick-before-feed\"\ntitle = \"My own quick one\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"5s\"\n",
    );
    home.write(
        "config/letdown/routines/bad.toml",
        "name = \"bad\"\ntitle = 3\n",
    );
    let out = home.ok(&["routines"]);
    assert!(
        out.contains("lactation-massage") && out.contains("built-in"),
        "{out}"
    );
    let quick: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("quick-before-feed"))
        .collect();
    assert_eq!(quick.len(), 1, "{out}");
    assert!(
        quick[0].contains("My own quick one") && quick[0].contains("mine.toml"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("bad") && l.contains("BROKEN")),
        "{out}"
    );
    // check with no files checks the user's routines and config
    let out = home.letdown(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("bad.toml:2:9: title: expected a string")
    );
}

#[test]
fn unknown_routines_and_bad_config_say_what_to_do() {
    let home = Home::new();
    let out = home.letdown(&["plan", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "no routine named \"nope\"; known routines: engorgement-relief, hand-expression, hands-on-pumping, lactation-massage, quick-before-feed"
        ),
        "{err}"
    );
    home.write("config/letdown/config.toml", "volume = 2\n");
    let out = home.letdown(&["plan", "quick-before-feed"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml:1:10: volume: must be a number from 0 to 1"),
        "{err}"
    );
}

#[test]
fn help_teaches_and_completions_are_generated() {
    let home = Home::new();
    let help = home.ok(&["--help"]);
    for verb in [
        "routines",
        "check",
        "plan",
        "render",
        "prepare",
        "tones",
        "completions",
        "Examples:",
    ] {
        assert!(help.contains(verb), "--help lacks {verb}:\n{help}");
    }
    let bash = home.ok(&["completions", "bash"]);
    assert!(
        bash.contains("complete") && bash.contains("render"),
        "{bash}"
    );
}

#[test]
fn tones_are_written_as_wav_files() {
    let home = Home::new();
    let dir = home.path("tones");
    let out = home.ok(&["tones", dir.to_str().unwrap()]);
    assert_eq!(out.lines().count(), letdown::tones::Earcon::ALL.len());
    assert!(
        out.contains("refused.wav") && out.contains("done.wav"),
        "{out}"
    );
    let s = common::read_wav(&dir.join("step-start.wav"));
    assert!(common::rms(&s) > 0.02);
}

mod any_arguments {
    //! No command line may panic: whatever the arguments, `letdown` ends with a message, and a
    //! non-zero exit when it could not do what was asked. Run with no bus at all, so remote
    //! commands fail fast after parsing.

    use proptest::prelude::*;
    use std::process::Command;

    const COMMANDS: &[&str] = &[
        "start",
        "stop",
        "pause",
        "resume",
        "toggle",
        "next",
        "previous",
        "repeat",
        "extend",
        "where",
        "status",
        "volume",
        "reload",
        "fed",
        "feeds",
        "feed-plan",
        "schedule",
        "upcoming",
        "cancel",
        "snooze",
        "skip",
        "shortcuts",
        "routines",
        "check",
        "plan",
        "render",
        "prepare",
        "tones",
        "completions",
    ];
    const FLAGS: &[&str] = &[
        "--at",
        "--ago",
        "--side",
        "--note",
        "--limit",
        "--csv",
        "--interval",
        "--times",
        "--lead",
        "--routine",
        "--quiet-hours",
        "--quiet",
        "--clear",
        "--json",
        "--follow",
        "--timeout",
        "--desktop",
        "-o",
        "delete",
        "fix",
        "at",
        "in",
        "daily",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("20000y".to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("25:61".to_string()),
            Just("99:99-00:00".to_string()),
            Just("1e300s".to_string()),
            Just("0s".to_string()),
            Just("".to_string()),
            (0u64..u64::MAX).prop_map(|n| n.to_string()),
            (
                0u64..100_000,
                prop::sample::select(vec!["ms", "s", "m", "h", "d", "w", "y"])
            )
                .prop_map(|(n, u)| format!("{n}{u}")),
            "[ -~]{0,12}",
        ]
    }

    /// Flags with values (and stray words), given to every command in turn.
    fn arguments() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            (prop::sample::select(FLAGS).prop_map(String::from), value()),
            0..3,
        )
        .prop_map(|pairs| pairs.into_iter().flat_map(|(f, v)| [f, v]).collect())
    }

    fn run(args: &[String]) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        Command::new(env!("CARGO_BIN_EXE_letdown"))
            .args(args)
            .current_dir(dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}/no-bus", dir.path().display()),
            )
            .env_remove("LETDOWN_CONFIG")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    #[test]
    fn a_feed_twenty_thousand_years_ago_is_refused_not_a_panic() {
        let out = run(&["fed".into(), "--ago".into(), "20000y".into()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("outside"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(60))]

        #[test]
        fn no_arguments_make_letdown_panic(rest in arguments()) {
            for command in COMMANDS {
            let args: Vec<String> =
                std::iter::once(command.to_string()).chain(rest.iter().cloned()).collect();
            let out = run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!err.contains("panicked"), "letdown {:?} panicked: {}", args, err);
            prop_assert_ne!(out.status.code(), Some(101), "letdown {:?}: {}", args, err);
            prop_assert!(out.status.code().is_some(), "letdown {:?} was killed by a signal", args);
            if !out.status.success() {
                prop_assert!(!err.trim().is_empty(), "letdown {:?} failed without a word", args);
            }
            }
        }
    }
}

/// letdownd takes routine names only; a path on the command line that is not one of the user's
/// routines is refused here, before letdownd is asked anything, saying how to make it one.
#[test]
fn a_routine_path_that_is_not_yours_is_refused_before_asking_letdownd() {
    let home = Home::new();
    let file = home.write(
        "elsewhere/mine.toml",
        "name = \"mine\"\ntitle = \"Mine\"\n[[steps]]\ntitle = \"One\"\nsay = \"Hi.\"\nduration = \"3s\"\n",
    );
    let path = file.to_str().unwrap();
    for args in [
        vec!["--timeout", "1s", "start", path],
        vec!["--timeout", "1s", "schedule", "in", "1h", path],
    ] {
        let started = std::time::Instant::now();
        let out = home.letdown(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("starts routines by name")
                && err.contains("routine \"mine\"")
                && err.contains("copy it into")
                && err.contains("config/letdown/routines"),
            "{args:?}: {err}"
        );
        // Refused here: no wait for a daemon (none runs on this test's bus).
        assert!(
            !err.contains("did not answer"),
            "{args:?} asked letdownd: {err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
    let out = home.letdown(&["start", "/etc/passwd"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("/etc/passwd:"),
        "a broken file is named: {err}"
    );
}
