use std::path::Path;
use std::time::Duration;

use super::*;
use crate::routine::{ParseOptions, parse_routine};

/// Every prompt lasts 5 s, phrases 0.8 s, tones their nominal small lengths.
pub(crate) struct FixedLengths;

impl SoundLengths for FixedLengths {
    fn length(&self, sound: Sound) -> Duration {
        match sound {
            Sound::Prompt(_) => Duration::from_secs(5),
            Sound::Phrase(_) => Duration::from_millis(800),
            Sound::Repeated(_) => Duration::from_millis(1200),
            Sound::Tone(Earcon::Tick) => Duration::from_millis(70),
            Sound::Tone(Earcon::SessionEnd) => Duration::from_millis(1540),
            Sound::Tone(_) => Duration::from_millis(520),
        }
    }
}

pub(crate) fn routine(text: &str) -> Routine {
    parse_routine(Path::new("t.toml"), text, &ParseOptions::default()).unwrap()
}

const S: fn(u64) -> Duration = Duration::from_millis;

#[test]
fn prompt_follows_tone_and_hands_on_follows_prompt() {
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"10s\"\n[[steps]]\ntitle = \"B\"\nsay = \"b\"\nduration = \"20s\"\nstart_tone = false\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let a = &p.steps[0];
    assert_eq!(
        a.cues[0],
        PlannedCue {
            at: S(0),
            from_end: false,
            sound: Sound::Tone(Earcon::StepStart),
            len: S(520)
        }
    );
    assert_eq!(a.prompt_at, S(520) + TONE_TO_PROMPT);
    assert_eq!(a.hands_on_start, a.prompt_at + S(5000));
    assert_eq!(a.length, a.hands_on_start + S(10_000));
    let b = &p.steps[1];
    assert_eq!(
        b.prompt_at,
        S(0),
        "no start tone, so the prompt opens the step"
    );
    // the last step carries the session-end tone right after its hands-on time
    let last = b.cues.last().unwrap();
    assert_eq!(last.sound, Sound::Tone(Earcon::SessionEnd));
    assert_eq!(last.at, S(25_000));
    assert_eq!(b.length, S(25_000 + 1540));
    assert_eq!(p.total(), a.length + b.length);
    assert_eq!(p.step_start(1), a.length);
}

#[test]
fn countdown_reminders_and_halfway_land_where_asked() {
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\nstart_tone = false\ncountdown = \"spoken\"\ncountdown_from = 3\nremind_every = \"20s\"\nhalfway = \"tone\"\nend_tone = true\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let s = &p.steps[0];
    let end = S(65_000);
    let at = |sound: Sound| s.cues.iter().find(|c| c.sound == sound).map(|c| c.at);
    assert_eq!(at(Sound::Phrase(Phrase::Count(1))), Some(end - S(1000)));
    assert_eq!(at(Sound::Phrase(Phrase::Count(3))), Some(end - S(3000)));
    assert_eq!(
        at(Sound::Phrase(Phrase::TimeLeft(20))),
        Some(end - S(20_000))
    );
    assert_eq!(
        at(Sound::Phrase(Phrase::TimeLeft(40))),
        Some(end - S(40_000))
    );
    // halfway (35 s) collides with "thirty seconds"? no: reminders are at 25 s and 45 s
    assert_eq!(at(Sound::Tone(Earcon::Halfway)), Some(S(35_000)));
    assert_eq!(at(Sound::Tone(Earcon::StepEnd)), Some(end));
    assert!(
        s.cues.windows(2).all(|w| w[0].at <= w[1].at),
        "cues are sorted"
    );
}

#[test]
fn a_lower_cue_that_would_overlap_a_higher_one_is_dropped() {
    // halfway of 20 s hands-on is at 10 s from its start; a 10-s reminder lands on the same time
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"20s\"\nstart_tone = false\nremind_every = \"10s\"\nhalfway = \"spoken\"\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let sounds: Vec<Sound> = p.steps[0].cues.iter().map(|c| c.sound).collect();
    assert!(sounds.contains(&Sound::Phrase(Phrase::Halfway)));
    assert!(
        !sounds.contains(&Sound::Phrase(Phrase::TimeLeft(10))),
        "{sounds:?}"
    );
    // and no two kept hands-on cues overlap
    let cues = &p.steps[0].cues;
    for (i, a) in cues.iter().enumerate() {
        for b in &cues[i + 1..] {
            assert!(a.at + a.len <= b.at, "{a:?} overlaps {b:?}");
        }
    }
}

#[test]
fn spoken_counts_too_long_for_a_second_keep_the_last_ones() {
    struct LongCounts;
    impl SoundLengths for LongCounts {
        fn length(&self, sound: Sound) -> Duration {
            match sound {
                // "one" is short; the longer numbers would run into the next count.
                Sound::Phrase(Phrase::Count(1)) => S(600),
                Sound::Phrase(Phrase::Count(_)) => S(1100),
                other => FixedLengths.length(other),
            }
        }
    }
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"20s\"\ncountdown = \"spoken\"\ncountdown_from = 4\n",
    );
    let p = Plan::new(&r, &LongCounts);
    let counts: Vec<Sound> = p.steps[0]
        .cues
        .iter()
        .map(|c| c.sound)
        .filter(|s| matches!(s, Sound::Phrase(Phrase::Count(_))))
        .collect();
    // Each count would run into the next, so only the last one stays: never "three, one".
    assert_eq!(counts, [Sound::Phrase(Phrase::Count(1))]);
}

#[test]
fn spoken_counts_that_fit_are_all_kept() {
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"20s\"\ncountdown = \"spoken\"\ncountdown_from = 4\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let counts = p.steps[0]
        .cues
        .iter()
        .filter(|c| matches!(c.sound, Sound::Phrase(Phrase::Count(_))))
        .count();
    assert_eq!(counts, 4);
}

#[test]
fn cues_never_fall_inside_the_prompt() {
    // a 3-s step whose countdown from 5 would start before hands-on time
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"3s\"\ncountdown = \"ticks\"\ncountdown_from = 5\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let s = &p.steps[0];
    let prompt_end = s.prompt_at + s.prompt_len;
    for c in &s.cues {
        if c.sound != Sound::Prompt(0) && c.at > S(0) {
            assert!(c.at >= prompt_end, "{c:?} inside the prompt");
        }
    }
    let ticks = s
        .cues
        .iter()
        .filter(|c| c.sound == Sound::Tone(Earcon::Tick))
        .count();
    assert_eq!(
        ticks, 2,
        "only the ticks that fit after the prompt (and its gap)"
    );
}

#[test]
fn with_prompt_timing_counts_the_prompt_as_hands_on() {
    let r = routine(
        "title = \"T\"\ntiming = \"with-prompt\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"10s\"\nstart_tone = false\n[[steps]]\ntitle = \"B\"\nsay = \"b\"\nduration = \"2s\"\nstart_tone = false\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    assert_eq!(p.steps[0].length, S(10_000));
    // never shorter than the prompt
    assert_eq!(p.steps[1].hands_on, S(5000));
}

#[test]
fn the_phrase_bank_covers_every_phrase_a_plan_uses() {
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"1m\"\ncountdown = \"spoken\"\nremind_every = \"15s\"\nhalfway = \"spoken\"\n",
    );
    let bank = phrase_bank(&r);
    let p = Plan::new(&r, &FixedLengths);
    for s in p.sounds() {
        if let Sound::Phrase(ph) = s {
            assert!(bank.contains(&ph), "{ph:?} missing from the bank");
        }
    }
    assert!(bank.contains(&Phrase::StepOf(1, 1)));
    assert!(bank.contains(&Phrase::TimeLeft(60)));
}

#[test]
fn a_lead_in_is_said_first_and_moves_only_the_first_step() {
    let text = "title = \"T\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"10s\"\n[[steps]]\ntitle = \"B\"\nsay = \"b\"\nduration = \"20s\"\n";
    let plain = Plan::new(&routine(text), &FixedLengths);
    let mut r = routine(text);
    let lead = Phrase::SideNext(crate::phrase::Breast::Right);
    r.lead_in = Some(lead);
    let p = Plan::new(&r, &FixedLengths);
    let a = &p.steps[0];
    assert_eq!(a.cues[0].sound, Sound::Phrase(lead));
    assert_eq!(a.cues[0].at, S(0));
    let shift = S(800) + LEAD_IN_GAP;
    assert_eq!(a.cues[1].sound, Sound::Tone(Earcon::StepStart));
    assert_eq!(a.cues[1].at, shift);
    assert_eq!(a.prompt_at, plain.steps[0].prompt_at + shift);
    assert_eq!(a.length, plain.steps[0].length + shift);
    assert_eq!(p.steps[1], plain.steps[1], "the second step changed");
    assert!(
        phrase_bank(&r).contains(&lead),
        "the lead-in is not prepared"
    );
    assert_eq!(lead.text(), "The right side is next.");
}

#[test]
fn a_repeated_cue_sounds_at_exact_offsets_from_the_hands_on_start() {
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"a\"\nduration = \"2m\"\nevery = \"30s\"\nevery_say = \"Compress and hold.\"\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let s = &p.steps[0];
    let at: Vec<Duration> = s
        .cues
        .iter()
        .filter(|c| c.sound == Sound::Repeated(0))
        .map(|c| c.at - s.hands_on_start)
        .collect();
    assert_eq!(
        at,
        [30, 60, 90].map(Duration::from_secs),
        "every 30 s after the hands-on start, none at its end"
    );
    assert!(
        s.cues
            .iter()
            .all(|c| !c.from_end || c.sound != Sound::Repeated(0))
    );
    assert!(p.sounds().contains(&Sound::Repeated(0)));
}

#[test]
fn a_countdown_and_halfway_win_over_a_repeated_cue_and_it_wins_over_time_left() {
    let r = routine(
        "title = \"T\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"a\"\nduration = \"60s\"\nevery = \"10s\"\nevery_tone = \"tick\"\nhalfway = \"spoken\"\ncountdown = \"spoken\"\nremind_every = \"20s\"\n",
    );
    let p = Plan::new(&r, &FixedLengths);
    let s = &p.steps[0];
    let from_start = |c: &PlannedCue| c.at - s.hands_on_start;
    let ticks: Vec<u64> = s
        .cues
        .iter()
        .filter(|c| c.sound == Sound::Tone(Earcon::Tick))
        .map(|c| from_start(c).as_secs())
        .collect();
    // 30 s is halfway's, 50 s is clear; "one" at 59 s... the count 57-59 s is the countdown's.
    assert_eq!(ticks, vec![10, 20, 40, 50], "{:?}", s.cues);
    let left: Vec<u64> = s
        .cues
        .iter()
        .filter(|c| matches!(c.sound, Sound::Phrase(Phrase::TimeLeft(_))))
        .map(|c| from_start(c).as_secs())
        .collect();
    assert!(
        left.is_empty(),
        "\"time left\" at 20 and 40 s left overlaps the ticks: {left:?}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever the interval, length and other cues: no two cues sound at once, none is inside
    /// the prompt, every repeat kept is at an exact multiple of the interval from the hands-on
    /// start, and a repeat is dropped only where a higher cue sounds.
    #[test]
    fn repeated_cues_never_overlap_and_keep_their_offsets(
        secs in 20u64..300,
        every in 3u64..60,
        countdown in proptest::bool::ANY,
        halfway in proptest::bool::ANY,
        remind in proptest::option::of(10u64..120),
    ) {
        let mut text = format!(
            "title = \"T\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"a\"\nduration = \"{secs}s\"\nevery = \"{every}s\"\nevery_tone = \"tick\"\n"
        );
        if countdown { text += "countdown = \"spoken\"\n"; }
        if halfway { text += "halfway = \"tone\"\n"; }
        if let Some(r) = remind { text += &format!("remind_every = \"{r}s\"\n"); }
        let r = routine(&text);
        let p = Plan::new(&r, &FixedLengths);
        let s = &p.steps[0];
        let prompt_end = s.prompt_at + s.prompt_len;
        for (i, a) in s.cues.iter().enumerate() {
            if a.sound != Sound::Prompt(0) && a.at > s.prompt_at {
                proptest::prop_assert!(a.at >= prompt_end, "{a:?} inside the prompt");
            }
            for b in &s.cues[i + 1..] {
                proptest::prop_assert!(a.at + a.len <= b.at || b.at + b.len <= a.at || a.at == b.at && a.len.is_zero(), "{a:?} overlaps {b:?}");
            }
        }
        let repeats: Vec<&PlannedCue> = s.cues.iter().filter(|c| c.sound == Sound::Tone(Earcon::Tick) && c.at < s.hands_on_end().saturating_sub(Duration::from_secs(3))).collect();
        for c in &repeats {
            let off = (c.at - s.hands_on_start).as_millis() as u64;
            proptest::prop_assert_eq!(off % (every * 1000), 0, "{:?} off the grid", c);
        }
        // Every planned repeat that is missing has a higher cue within its reach.
        let mut k = 1;
        while s.hands_on_start + Duration::from_secs(every * k) < s.hands_on_end().saturating_sub(Duration::from_secs(4)) {
            let at = s.hands_on_start + Duration::from_secs(every * k);
            let kept = s.cues.iter().any(|c| c.at == at && c.sound == Sound::Tone(Earcon::Tick));
            if !kept {
                let blocked = s.cues.iter().any(|c| c.sound != Sound::Tone(Earcon::Tick)
                    && c.at < at + Duration::from_millis(70) + CUE_GAP
                    && at < c.at + c.len + CUE_GAP);
                let near_end = at + Duration::from_millis(70) + CUE_GAP > s.hands_on_end();
                proptest::prop_assert!(blocked || near_end || at < prompt_end + CUE_GAP, "the repeat at {:?} was lost", at);
            }
            k += 1;
        }
    }
}
