//! The real speech engines, the cache and the fallback between engines.

mod common;

use std::time::Duration;

use letdown::config::VoiceConfig;
use letdown::routine::VoiceOverride;
use letdown::voice::voice_for;

fn texts() -> Vec<String> {
    vec![
        "Place one hand on top of the breast.".into(),
        "Twenty seconds left.".into(),
    ]
}

fn cfg(engine: &str, command: &[&str], fallback: &[&str]) -> VoiceConfig {
    VoiceConfig {
        engine: letdown::voice::EngineKind::parse(engine).unwrap(),
        command: command.iter().map(|s| s.to_string()).collect(),
        fallback: fallback
            .iter()
            .map(|s| letdown::voice::EngineKind::parse(s).unwrap())
            .collect(),
        ..VoiceConfig::default()
    }
}

/// Checks that each clip is speech-like: long enough for its words and clearly audible.
fn assert_speech(clips: &std::collections::HashMap<String, letdown::voice::Cached>) {
    for (text, cached) in clips {
        let clip = cached.load().unwrap();
        assert_eq!(clip.duration(), cached.length);
        let words = text.split_whitespace().count() as f64;
        let secs = clip.duration().as_secs_f64();
        assert!(
            secs > 0.15 * words && secs < 1.5 * words + 1.0,
            "\"{text}\": {secs} s"
        );
        assert!(
            common::rms(clip.samples()) > 0.02,
            "\"{text}\" is too quiet"
        );
        assert!(
            clip.samples()[0].abs() > 0.003,
            "\"{text}\" starts with silence"
        );
    }
}

#[test]
fn festival_speaks_and_the_cache_answers_the_second_time() {
    let cache = tempfile::tempdir().unwrap();
    let voice = voice_for(
        &cfg("festival", &[], &[]),
        &VoiceOverride::default(),
        cache.path(),
    )
    .unwrap();
    let first = voice.prepare(&texts()).unwrap();
    assert_eq!(first.synthesized, 2);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    assert_speech(&first.clips);
    let started = std::time::Instant::now();
    let second = voice.prepare(&texts()).unwrap();
    assert_eq!(second.synthesized, 0, "a warm cache synthesizes nothing");
    assert!(started.elapsed() < Duration::from_secs(2));
    for t in texts() {
        assert_eq!(first.clips[&t], second.clips[&t]);
    }
    // a different speed is a different voice: not served from the cache
    let slower = VoiceOverride {
        speed: Some(0.7),
        ..Default::default()
    };
    let voice = voice_for(&cfg("festival", &[], &[]), &slower, cache.path()).unwrap();
    let slow = voice.prepare(&texts()).unwrap();
    assert_eq!(slow.synthesized, 2);
    let t = &texts()[0];
    assert!(
        slow.clips[t].length > first.clips[t].length,
        "speed 0.7 should be slower"
    );
}

#[test]
fn espeak_speaks() {
    let cache = tempfile::tempdir().unwrap();
    let voice = voice_for(
        &cfg("espeak-ng", &[], &[]),
        &VoiceOverride::default(),
        cache.path(),
    )
    .unwrap();
    let p = voice.prepare(&texts()).unwrap();
    assert_speech(&p.clips);
}

#[test]
fn a_command_engine_can_write_a_file_or_stdout_and_take_text_as_an_argument() {
    let cache = tempfile::tempdir().unwrap();
    for command in [
        &["espeak-ng", "-w", "{out}", "--stdin"][..],
        &["espeak-ng", "--stdout", "--stdin"][..],
        &["espeak-ng", "-w", "{out}", "{text}"][..],
    ] {
        let voice = voice_for(
            &cfg("command", command, &[]),
            &VoiceOverride::default(),
            cache.path(),
        )
        .unwrap();
        let p = voice
            .prepare(&texts())
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        assert_speech(&p.clips);
    }
}

#[test]
fn a_failing_engine_falls_back_and_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let voice = voice_for(
        &cfg("command", &["false"], &["espeak-ng"]),
        &VoiceOverride::default(),
        cache.path(),
    )
    .unwrap();
    let p = voice.prepare(&texts()).unwrap();
    assert_speech(&p.clips);
    assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    assert!(
        p.warnings[0].contains("spoken by espeak-ng because command failed: `false` exited"),
        "{}",
        p.warnings[0]
    );
}

#[test]
fn when_every_engine_fails_the_error_names_engines_and_prompt() {
    let cache = tempfile::tempdir().unwrap();
    let voice = voice_for(
        &cfg("command", &["/nonexistent/tts"], &[]),
        &VoiceOverride::default(),
        cache.path(),
    )
    .unwrap();
    let err = voice.prepare(&texts()).unwrap_err().to_string();
    assert!(
        err.contains("could not synthesize \"Place one hand on top of the breast.\""),
        "{err}"
    );
    assert!(
        err.contains("command: `/nonexistent/tts` is not installed"),
        "{err}"
    );
}

#[test]
fn flite_speaks_every_voice_it_lists_and_refuses_a_voice_file() {
    let cache = tempfile::tempdir().unwrap();
    for v in letdown::voice::flite::VOICES {
        let mut c = cfg("flite", &[], &[]);
        c.voice = Some(v.to_string());
        let voice = voice_for(&c, &VoiceOverride::default(), cache.path()).unwrap();
        let p = voice.prepare(&texts()).unwrap();
        assert!(p.warnings.is_empty(), "{v}: {:?}", p.warnings);
        assert_speech(&p.clips);
    }
    let mut c = cfg("flite", &[], &[]);
    c.voice = Some("http://example.org/voice.flitevox".into());
    let e = voice_for(&c, &VoiceOverride::default(), cache.path())
        .unwrap()
        .prepare(&texts())
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a flite voice"), "{e}");
}

/// The test venv `scripts/install-deps --test` installs the natural voice into.
fn piper_test_data() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    let d = std::path::Path::new(&home).join(".cache/letdown-test/data/letdown");
    d.join("piper/venv/bin/python").is_file().then_some(d)
}

/// A Piper config speaking with the voice in `data_dir`.
fn piper_cfg(data_dir: &std::path::Path) -> VoiceConfig {
    let mut c = cfg("piper", &[], &[]);
    c.data_dir = Some(data_dir.to_path_buf());
    c.timeout = Duration::from_secs(20);
    c
}

#[test]
fn piper_speaks_many_prompts_through_one_worker_that_leaves_when_idle() {
    let Some(data) = piper_test_data() else {
        panic!(
            "the natural voice is not installed for tests: run scripts/install-deps --test (it installs it under ~/.cache/letdown-test)"
        );
    };
    let cache = tempfile::tempdir().unwrap();
    // The idle time is the engine's to be given, not a process-wide variable set while other
    // test threads start processes.
    let cfg = VoiceConfig {
        piper_idle: Duration::from_secs(3),
        ..piper_cfg(&data)
    };
    let voice = voice_for(&cfg, &VoiceOverride::default(), cache.path()).unwrap();
    let before = letdown::voice::piper::workers_started();
    let many: Vec<String> = (1..=6)
        .map(|i| format!("Stroke number {i}, gently toward the nipple."))
        .collect();
    let p = voice.prepare(&many).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.synthesized, 6);
    assert_speech(&p.clips);
    let p = voice.prepare(&texts()).unwrap();
    assert_speech(&p.clips);
    assert_eq!(
        letdown::voice::piper::workers_started() - before,
        1,
        "the model was loaded more than once for 8 prompts"
    );
    let workers = || common::piper_workers_of(std::process::id());
    assert_eq!(workers(), 1, "no worker of ours is running");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(workers(), 0, "the worker stayed after 3 s idle");
    // The next prompt starts a new one.
    let p = voice.prepare(&["Now the other side.".to_string()]).unwrap();
    assert_speech(&p.clips);
    assert_eq!(letdown::voice::piper::workers_started() - before, 2);
}

#[test]
fn a_piper_worker_that_hangs_is_stopped_at_its_limit_and_the_fallback_speaks() {
    let data = tempfile::tempdir().unwrap();
    let bin = data.path().join("piper/venv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(data.path().join("voices/piper")).unwrap();
    std::fs::write(
        data.path().join("voices/piper/en_US-joe-medium.onnx"),
        b"not a model",
    )
    .unwrap();
    // A "python" that loads forever.
    let python = bin.join("python");
    std::fs::write(&python, "#!/bin/sh\nexec sleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = piper_cfg(data.path());
    c.timeout = Duration::from_secs(2);
    c.fallback = vec![letdown::voice::EngineKind::EspeakNg];
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let p = voice_for(&c, &VoiceOverride::default(), cache.path())
        .unwrap()
        .prepare(&texts())
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a hung worker held the prompts for {:?}",
        started.elapsed()
    );
    assert_speech(&p.clips);
    let w = p.warnings.join("\n");
    assert!(
        w.contains("piper failed") && w.contains("did not finish within 2s"),
        "{w}"
    );
}
