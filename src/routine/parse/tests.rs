use std::path::Path;
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Routine, Vec<Diagnostic>> {
    parse_routine(Path::new("r.toml"), text, &ParseOptions::default())
}

fn messages(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect()
}

const SMALL: &str = r#"
name = "small"
title = "Small"

[defaults]
duration = "30s"
countdown = "ticks"

[[steps]]
title = "One"
say = "First."

[[steps]]
title = "Per side"
sides = ["left", "right"]
halfway = "tone"

  [[steps.steps]]
  title = "Press {side}"
  say = "Press the {side} side. {Side} it is."
  duration = "1m30s"

  [[steps.steps]]
  title = "Stroke {side}"
  say = "Stroke."
  countdown = "none"
"#;

#[test]
fn sides_expand_with_substitution_and_defaults_apply() {
    let r = parse(SMALL).unwrap();
    let titles: Vec<&str> = r.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "One",
            "Press left",
            "Stroke left",
            "Press right",
            "Stroke right"
        ]
    );
    assert_eq!(
        r.steps[1].say.as_deref(),
        Some("Press the left side. Left it is.")
    );
    assert_eq!(r.steps[0].duration, Duration::from_secs(30));
    assert_eq!(r.steps[1].duration, Duration::from_secs(90));
    assert_eq!(r.steps[0].cues.countdown, Countdown::Ticks);
    assert_eq!(r.steps[0].cues.halfway, HalfwayCue::None);
    assert_eq!(r.steps[1].cues.halfway, HalfwayCue::Tone);
    assert_eq!(r.steps[2].cues.countdown, Countdown::None);
    assert_eq!(r.steps[1].cues.countdown, Countdown::Ticks);
    let switches: Vec<bool> = r.steps.iter().map(|s| s.switches_side).collect();
    assert_eq!(switches, [false, false, false, true, false]);
    assert_eq!(r.steps[3].side.as_deref(), Some("right"));
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let text = r#"name = "broken"
title = "Broken"

[[steps]]
title = "A"
sya = "typo"
duration = "0s"

[[steps]]
title = "B"
say = "fine"
duration = "2h"
audio = "nowhere.ogg"
countdown = "loud"
"#;
    let m = messages(text);
    assert_eq!(m.len(), 6, "{m:#?}");
    assert!(
        m[0].starts_with("r.toml:4:1: steps[0].say: is missing"),
        "{}",
        m[0]
    );
    assert!(
        m[1].starts_with("r.toml:6:1: steps[0].sya: unknown key `sya` (did you mean `say`?)"),
        "{}",
        m[1]
    );
    assert!(
        m[2].starts_with("r.toml:7:12: steps[0].duration: must be longer than zero"),
        "{}",
        m[2]
    );
    assert!(
        m[3].starts_with("r.toml:12:12: steps[1].duration: is too long"),
        "{}",
        m[3]
    );
    assert!(
        m[4].starts_with("r.toml:13:9: steps[1].audio: audio file \"nowhere.ogg\" not found"),
        "{}",
        m[4]
    );
    assert!(
        m[5].starts_with("r.toml:14:13: steps[1].countdown: unknown countdown \"loud\""),
        "{}",
        m[5]
    );
}

#[test]
fn invalid_toml_is_located() {
    let m = messages("name = \"x\"\ntitle = \"T\"\n[[steps]\ntitle = \"A\"\n");
    assert!(m[0].starts_with("r.toml:3:"), "{m:#?}");
    assert!(m[0].contains("invalid TOML"), "{m:#?}");
}

#[test]
fn empty_routines_and_missing_durations_are_refused() {
    let m = messages("name = \"x\"\ntitle = \"T\"\nsteps = []\n");
    assert!(m[0].contains("steps: the routine has no steps"), "{m:#?}");
    let m = messages("name = \"x\"\ntitle = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\n");
    assert!(m[0].contains("steps[0].duration: is missing"), "{m:#?}");
    let m = messages("title = \"T\"\n");
    assert!(m.iter().any(|e| e.contains("no steps")), "{m:#?}");
}

#[test]
fn duplicate_titles_are_refused_and_blocks_hint_at_side() {
    let m = messages(
        "title = \"T\"\n[defaults]\nduration = \"5s\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\n[[steps]]\ntitle = \"A\"\nsay = \"b\"\n",
    );
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("r.toml:8:9: steps[1].title: duplicate step title \"A\""),
        "{}",
        m[0]
    );
    let m = messages(
        "title = \"T\"\n[defaults]\nduration = \"5s\"\n[[steps]]\ntitle = \"B\"\nsides = [\"l\", \"r\"]\n[[steps.steps]]\ntitle = \"A\"\nsay = \"a\"\n",
    );
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("put {side} in the titles"), "{}", m[0]);
}

#[test]
fn a_problem_in_a_block_is_reported_once_not_per_side() {
    let m = messages(
        "title = \"T\"\n[[steps]]\ntitle = \"B\"\nsides = [\"l\", \"r\"]\n[[steps.steps]]\ntitle = \"A {side}\"\nsay = \"a\"\nduration = \"nope\"\n",
    );
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("steps[0].steps[0].duration"), "{}", m[0]);
}

#[test]
fn audio_is_found_beside_the_routine_or_in_audio_dirs() {
    let dir = tempfile::tempdir().unwrap();
    crate::clip::write_wav(&dir.path().join("left.wav"), &[0.1; 480]).unwrap();
    let other = tempfile::tempdir().unwrap();
    crate::clip::write_wav(&other.path().join("right.wav"), &[0.1; 480]).unwrap();
    let text = "title = \"T\"\n[[steps]]\ntitle = \"S\"\nsides = [\"left\", \"right\"]\n[[steps.steps]]\ntitle = \"A {side}\"\naudio = \"{side}.wav\"\nduration = \"5s\"\n";
    let opts = ParseOptions {
        base_dir: Some(dir.path().to_path_buf()),
        audio_dirs: vec![other.path().to_path_buf()],
    };
    let r = parse_routine(&dir.path().join("r.toml"), text, &opts).unwrap();
    assert_eq!(
        r.steps[0].audio.as_deref(),
        Some(
            dir.path()
                .join("left.wav")
                .canonicalize()
                .unwrap()
                .as_path()
        )
    );
    assert_eq!(
        r.steps[1].audio.as_deref(),
        Some(
            other
                .path()
                .join("right.wav")
                .canonicalize()
                .unwrap()
                .as_path()
        )
    );
    // with only the routine's own directory, the right side's file is missing, and said so
    let opts = ParseOptions {
        base_dir: Some(dir.path().to_path_buf()),
        audio_dirs: vec![],
    };
    let m: Vec<String> = parse_routine(&dir.path().join("r.toml"), text, &opts)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("\"right.wav\" not found"), "{}", m[0]);
}

#[test]
fn routine_voice_and_timing_are_read() {
    let r = parse("title = \"T\"\nlanguage = \"de\"\ntiming = \"with-prompt\"\n[voice]\nengine = \"espeak-ng\"\nspeed = 0.8\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"5s\"\n").unwrap();
    assert_eq!(r.voice.language.as_deref(), Some("de"));
    assert_eq!(r.voice.engine, Some(crate::voice::EngineKind::EspeakNg));
    assert_eq!(r.voice.speed, Some(0.8));
    assert_eq!(r.timing, Timing::WithPrompt);
    assert_eq!(r.name, "r", "the file stem names a routine without a name");
}

#[test]
fn shipped_routines_are_valid_and_sized_as_promised() {
    for (file, text) in super::super::BUILT_IN {
        let r = parse_routine(Path::new(file), text, &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e:#?}"));
        let hands_on = r.hands_on_total().as_secs();
        match r.name.as_str() {
            // plus roughly 8 s of speech per step: 8-12 minutes in all
            "lactation-massage" => assert!((420..=600).contains(&hands_on), "{hands_on}"),
            "quick-before-feed" => assert!((100..=170).contains(&hands_on), "{hands_on}"),
            // About 20 minutes in all with the pumping step at 10 (docs/ROUTINES.md).
            "hands-on-pumping" => assert!((960..=1140).contains(&hands_on), "{hands_on}"),
            // Marmet: 5-7, 3-5 and 2-3 minutes a side, with massage between: 20-30 minutes.
            "hand-expression" => assert!((1500..=1740).contains(&hands_on), "{hands_on}"),
            "engorgement-relief" => assert!((360..=540).contains(&hands_on), "{hands_on}"),
            other => panic!("unexpected routine {other}"),
        }
    }
}

#[test]
fn a_repeated_cue_is_read_from_a_step_or_the_defaults() {
    let r = parse(
        "title = \"P\"\n[defaults]\nevery = \"30s\"\nevery_say = \"Compress and hold.\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"Pump.\"\nduration = \"2m\"\n[[steps]]\ntitle = \"Rest\"\nsay = \"Rest.\"\nduration = \"1m\"\nevery_tone = \"tick\"\n",
    )
    .unwrap();
    assert_eq!(
        r.steps[0].cues.every,
        Some((
            Duration::from_secs(30),
            RepeatedCue::Say("Compress and hold.".into())
        ))
    );
    assert_eq!(
        r.steps[1].cues.every,
        Some((
            Duration::from_secs(30),
            RepeatedCue::Tone(crate::tones::Earcon::Tick)
        ))
    );
}

#[test]
fn every_mistake_in_a_repeated_cue_is_located() {
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\nevery = \"30s\"\n",
    );
    assert!(
        m.iter().any(|l| l.starts_with("r.toml:6:9: steps[0].every: a repeated cue needs what to play")),
        "{m:?}"
    );
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\nevery_say = \"Hold.\"\n",
    );
    assert!(
        m.iter()
            .any(|l| l.contains("steps[0].every: is missing") && l.contains("every = \"30s\"")),
        "{m:?}"
    );
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\nevery = \"3s\"\nevery_say = \"Compress gently, hold it there, and then let go slowly.\"\n",
    );
    assert!(
        m.iter()
            .any(|l| l.starts_with("r.toml:6:9: steps[0].every: 3s is shorter than its cue")),
        "{m:?}"
    );
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\nevery = \"10s\"\nevery_tone = \"bong\"\n",
    );
    assert!(
        m.iter()
            .any(|l| l.starts_with("r.toml:7:14: steps[0].every_tone: unknown tone \"bong\"")),
        "{m:?}"
    );
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\nevery = \"10s\"\nevery_tone = \"tick\"\nevery_say = \"Hold.\"\n",
    );
    assert!(
        m.iter()
            .any(|l| l.contains("steps[0].every_tone: give a repeated cue either")),
        "{m:?}"
    );
}

#[test]
fn a_step_that_lasts_until_next_is_read_and_its_mistakes_located() {
    let r = parse(
        "title = \"P\"\n[defaults]\nduration = \"30s\"\ncountdown = \"ticks\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"Pump.\"\nuntil = \"next\"\nremind_every = \"2m\"\n",
    )
    .unwrap();
    assert!(r.steps[0].open);
    assert_eq!(r.steps[0].duration, super::super::OPEN_STEP_SHOWN);
    assert_eq!(
        r.steps[0].cues.countdown,
        Countdown::None,
        "no end to count down to"
    );
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nuntil = \"5m\"\nduration = \"1m\"\n",
    );
    assert!(
        m.iter()
            .any(|l| l.starts_with("r.toml:5:9: steps[0].until: \"5m\" is not known")),
        "{m:?}"
    );
    let m = messages(
        "title = \"P\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nuntil = \"next\"\nduration = \"1m\"\ncountdown = \"ticks\"\nremind_every = \"90s\"\n",
    );
    assert!(
        m.iter().any(|l| l.starts_with(
            "r.toml:6:12: steps[0].duration: a step that lasts until next has no duration"
        )),
        "{m:?}"
    );
    assert!(
        m.iter().any(|l| l.starts_with(
            "r.toml:7:13: steps[0].countdown: a step that lasts until next has no end"
        )),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|l| l.starts_with("r.toml:8:16: steps[0].remind_every:")
                && l.contains("whole minutes")),
        "{m:?}"
    );
}
