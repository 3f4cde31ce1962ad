//! The offline render, checked by analysing the audio it writes, not by trusting the engine:
//! every planned sound must start at its planned sample (within 1 ms), nothing may sound where
//! the plan has silence, every prompt must be audible speech, hands-on time must follow the
//! end of each prompt, and the file must be exactly as long as the plan.

mod common;

use common::{FLOOR, Home, onset, read_wav, rms};

const MS: usize = 48; // samples per millisecond
/// The level below which a rendered prompt has ended (see where it is used).
const PROMPT_END: f32 = 0.001;

fn render_and_check(routine: &str, durations_s: &[u64]) {
    let home = Home::new();
    let plan: serde_json::Value =
        serde_json::from_str(&home.ok(&["plan", routine, "--json"])).unwrap();
    let wav = home.path("session.wav");
    home.ok(&["render", routine, "-o", wav.to_str().unwrap()]);
    let audio = read_wav(&wav);

    // 1. the file is as long as the plan says
    let total = plan["total_samples"].as_u64().unwrap() as usize;
    assert!(
        audio.len().abs_diff(total) <= 1,
        "length {} vs plan {}",
        audio.len(),
        total
    );

    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), durations_s.len());
    let mut covered = vec![false; audio.len()];
    for (i, step) in steps.iter().enumerate() {
        // 2. hands-on time is what the routine file asks for
        let hands_on = step["hands_on_ms"].as_f64().unwrap();
        assert_eq!(
            hands_on,
            durations_s[i] as f64 * 1000.0,
            "step {} hands-on",
            i + 1
        );
        for cue in step["cues"].as_array().unwrap() {
            let at = cue["at_sample"].as_u64().unwrap() as usize;
            let len = cue["len_samples"].as_u64().unwrap() as usize;
            let name = cue["sound"].as_str().unwrap();
            // 3. silence just before, sound within 1 ms after the planned sample
            let before = &audio[at.saturating_sub(10 * MS)..at];
            assert!(
                before.iter().all(|x| x.abs() <= FLOOR),
                "step {} {name}: sound before its planned start {at}",
                i + 1
            );
            let first = onset(&audio, at).unwrap_or(usize::MAX);
            assert!(
                first - at <= MS,
                "step {} {name}: planned at {at}, first sound at {first}",
                i + 1
            );
            for c in &mut covered[at..(at + len).min(audio.len())] {
                *c = true;
            }
            if name.starts_with("prompt:") {
                // 4. a prompt is speech: loud enough, and sounding most of its length
                let span = &audio[at..at + len];
                assert!(
                    rms(span) > 0.02,
                    "step {} prompt too quiet: {}",
                    i + 1,
                    rms(span)
                );
                let frames: Vec<f32> = span.chunks(20 * MS).map(rms).collect();
                let voiced =
                    frames.iter().filter(|&&r| r > 0.01).count() as f32 / frames.len() as f32;
                assert!(
                    voiced > 0.5,
                    "step {} prompt is mostly silent ({voiced})",
                    i + 1
                );
                // 5. hands-on time starts when the prompt's sound ends
                // Where its sound ends, measured below FLOOR: a prompt is trimmed at 0.003 of its
                // own level and plays here at the render's volume (0.8), so a slowly fading last
                // word ("slow", "lightly") crosses FLOOR more than 10 ms before it ends. Nothing
                // else sounds then (the next cue keeps CUE_GAP), and the render has no noise.
                let last_sound = at + span.iter().rposition(|x| x.abs() > PROMPT_END).unwrap();
                let hands_on_start =
                    (step["hands_on_start_ms"].as_f64().unwrap() * MS as f64).round() as usize;
                assert!(
                    hands_on_start >= last_sound && hands_on_start - last_sound <= 50 * MS,
                    "step {}: prompt sound ends at {last_sound}, hands-on starts at {hands_on_start}",
                    i + 1
                );
            }
        }
    }
    // 6. nothing sounds where the plan has no cue
    let stray: Vec<usize> = audio
        .iter()
        .enumerate()
        .filter(|(i, x)| x.abs() > FLOOR && !covered[*i])
        .map(|(i, _)| i)
        .take(5)
        .collect();
    assert!(
        stray.is_empty(),
        "sound outside every planned cue at samples {stray:?}"
    );
}

#[test]
fn full_massage_routine_renders_every_cue_at_its_planned_sample() {
    render_and_check(
        "lactation-massage",
        &[45, 60, 45, 45, 45, 45, 40, 40, 45, 45, 40, 40, 5],
    );
}

#[test]
fn quick_routine_renders_every_cue_at_its_planned_sample() {
    render_and_check("quick-before-feed", &[15, 30, 25, 20, 25, 20, 3]);
}

#[test]
fn plan_prints_a_readable_timeline_with_the_total() {
    let home = Home::new();
    let out = home.ok(&["plan", "quick-before-feed"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Quick massage before a feed"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Top and bottom, left") && l.contains("25s")),
        "{out}"
    );
    let total = lines.last().unwrap();
    assert!(
        total.starts_with("total 2:") || total.starts_with("total 3:"),
        "{out}"
    );
    // the plan's total is the rendered length
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["plan", "quick-before-feed", "--json"])).unwrap();
    let ms = json["total_ms"].as_f64().unwrap() as u64;
    let shown = format!(
        "total {}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    );
    assert_eq!(*total.split(" (").next().unwrap(), shown);
}

/// Whether `samples` is a whole number of `secs` intervals (within a sample of rounding).
fn on_grid(samples: usize, secs: usize) -> bool {
    let grid = secs * 1000 * MS;
    let r = samples % grid;
    r <= 1 || grid - r <= 1
}

/// The repeated cues of a rendered routine's plan: (step index, offset from its hands-on start
/// in samples), and the step titles in order.
fn repeats_and_titles(routine: &str) -> (Vec<(usize, usize)>, Vec<String>) {
    let home = Home::new();
    let plan: serde_json::Value =
        serde_json::from_str(&home.ok(&["plan", routine, "--json"])).unwrap();
    let mut repeats = Vec::new();
    let mut titles = Vec::new();
    for (i, step) in plan["steps"].as_array().unwrap().iter().enumerate() {
        titles.push(step["title"].as_str().unwrap().to_string());
        // (hands_on_start_ms is from the session's start, like at_sample)
        let hands_on = (step["hands_on_start_ms"].as_f64().unwrap() * MS as f64).round() as usize;
        for cue in step["cues"].as_array().unwrap() {
            let name = cue["sound"].as_str().unwrap();
            if name.starts_with("repeated:") {
                let at = cue["at_sample"].as_u64().unwrap() as usize;
                repeats.push((i, at - hands_on));
            }
        }
    }
    (repeats, titles)
}

#[test]
fn hands_on_pumping_renders_with_its_compressions_on_the_second() {
    render_and_check(
        "hands-on-pumping",
        &[8, 40, 30, 40, 30, 30, 600, 150, 150, 3],
    );
    let (repeats, titles) = repeats_and_titles("hands-on-pumping");
    let pumping: Vec<usize> = repeats.iter().filter(|r| r.0 == 6).map(|r| r.1).collect();
    // Every 30 s of the ten minutes it is rendered at (19), but where "Two minutes.", "Four
    // minutes."... are said: 15.
    assert_eq!(pumping.len(), 15, "{pumping:?}");
    for off in &pumping {
        assert!(
            on_grid(*off, 30),
            "a compression cue off the 30 s grid: {off}"
        );
    }
    let sides: Vec<&String> = titles
        .iter()
        .filter(|t| t.contains(", left") || t.contains(", right"))
        .collect();
    assert_eq!(
        sides,
        [
            "Top and bottom, left",
            "Both sides, left",
            "Top and bottom, right",
            "Both sides, right",
            "Hand express, left",
            "Hand express, right"
        ]
    );
}

#[test]
fn hand_expression_renders_marmet_s_three_rounds_in_order() {
    render_and_check(
        "hand-expression",
        &[5, 360, 360, 60, 30, 15, 240, 240, 60, 30, 15, 150, 150, 3],
    );
    let (repeats, titles) = repeats_and_titles("hand-expression");
    assert_eq!(titles[1], "Express left, first round");
    assert_eq!(titles[12], "Express right, last round");
    assert!(
        repeats.iter().any(|r| r.0 == 11),
        "the last round has its cue: {repeats:?}"
    );
}

#[test]
fn engorgement_relief_renders_light_strokes_then_cold() {
    render_and_check("engorgement-relief", &[5, 40, 40, 60, 60, 60, 60, 120, 3]);
    let (repeats, titles) = repeats_and_titles("engorgement-relief");
    assert_eq!(titles[0], "Before you start");
    assert_eq!(titles[7], "Cold");
    for (step, off) in &repeats {
        assert!(
            (3..=6).contains(step),
            "a repeated cue outside the strokes: {step}"
        );
        assert!(on_grid(*off, 15), "off the 15 s grid: {off}");
    }
}
