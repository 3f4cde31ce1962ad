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
            "no routine named \"nope\"; known routines: lactation-massage, quick-before-feed"
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
    assert_eq!(out.lines().count(), 6);
    let s = common::read_wav(&dir.join("step-start.wav"));
    assert!(common::rms(&s) > 0.02);
}
