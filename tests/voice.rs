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
