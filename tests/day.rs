//! A whole day by ear, compressed to about two minutes: the real letdownd on a real bus and
//! sound server, driven by the real `letdown` CLI and `playerctl` the way keys drive them. Every
//! utterance and earcon is checked in recordings of the sink's monitor against the same sound
//! rendered offline (envelope correlation), in order and at its time; nothing is read from
//! D-Bus state to decide what was heard. A timeline of what was heard is printed.
//!
//! With DAY_DEBUG set, a sound that is not found prints the envelopes compared and writes the
//! recording and the sound looked for to day-heard.wav and day-want.wav in the temp dir.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::desktop::{Desktop, best_match, envelope};

const ROUTINE: &str = r#"name = "day"
title = "A day"
sides_order = "next-feed"
[defaults]
countdown = "none"
[[steps]]
title = "Side"
sides = ["left", "right"]
[[steps.steps]]
title = "Strokes {side}"
say = "Now the {side} side."
duration = "2s"
"#;

const CONFIG: &str = r#"default_routine = "day"
feedback = "speech"
[voice]
engine = "espeak-ng"
fallback = []
[schedule]
heads_up = "10s"
grace = "5s"
"#;

/// 10-ms frames.
const FRAME: f64 = 0.01;

/// Sounds the daemon makes, as the test renders them.
fn speech(d: &Desktop, text: &str) -> Vec<f32> {
    let cfg = letdown::config::Config::parse(std::path::Path::new("config.toml"), CONFIG).unwrap();
    let voice = letdown::voice::voice_for(
        &cfg.voice,
        &letdown::routine::VoiceOverride::default(),
        &d.home.path("cache/letdown"),
    )
    .unwrap();
    let prepared = voice.prepare(&[text.to_string()]).unwrap();
    prepared.clips[text].load().unwrap().samples().to_vec()
}

fn tone(earcon: letdown::tones::Earcon) -> Vec<f32> {
    letdown::config::Config::default()
        .earcons
        .render(earcon)
        .samples()
        .to_vec()
}

/// One recording of the sink, with the wall-clock time of its first sample.
struct Heard {
    env: Vec<f32>,
    /// The samples themselves: a tone's melody is checked in them (and with DAY_DEBUG, a sound
    /// not found is written out).
    samples: Vec<f32>,
    /// Wall-clock seconds (Unix) of frame 0.
    wall0: f64,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Records while `during` runs, then `after` longer.
fn listen(d: &Desktop, during: impl FnOnce(), after: Duration) -> Heard {
    let rec = d.record();
    let wall0 = unix_now() - rec.started.elapsed().as_secs_f64();
    during();
    std::thread::sleep(after);
    let samples = rec.finish();
    Heard {
        env: envelope(&samples),
        samples,
        wall0,
    }
}

/// A key press: runs `letdown ARGS` while recording, and `after` longer. Returns when it was
/// pressed (wall clock), what it printed, and what was heard.
fn press(d: &Desktop, args: &[&str], after: Duration) -> (f64, std::process::Output, Heard) {
    let mut pressed = 0.0;
    let mut out = None;
    let heard = listen(
        d,
        || {
            pressed = unix_now();
            out = Some(d.letdown(args));
        },
        after,
    );
    (pressed, out.expect("pressed"), heard)
}

/// What the timeline says about one sound.
struct Event {
    what: String,
    /// Wall-clock seconds it was heard.
    heard: f64,
    /// How well it matched the offline rendering.
    score: f32,
    /// When it should have started, where the test knows.
    should: Option<f64>,
}

impl Heard {
    /// How well `sound`'s first 2 s match what was heard from wall-clock time `at` on.
    fn score_at(&self, sound: &[f32], at: f64) -> f32 {
        let mut want = envelope(sound);
        want.truncate(200);
        let lag = ((at - self.wall0) / FRAME).round().max(0.0) as usize;
        common::desktop::correlation(&self.env, &want, lag)
    }

    /// Finds `sound` starting between wall-clock times `from` and `to`: a clear match, or
    /// the reason there is none.
    fn find(&self, what: &str, sound: &[f32], from: f64, to: f64) -> Result<Event, String> {
        // Its first 2 seconds: enough to tell every sentence of the day apart (each is looked
        // for in a short window), and short enough that samples dropped now and then by the
        // recorder or a busy sound server cannot smear the match.
        let mut want = envelope(sound);
        want.truncate(200);
        let f = |t: f64| ((t - self.wall0) / FRAME).max(0.0) as usize;
        if f(to) + want.len() > self.env.len() {
            return Err(format!(
                "the recording is too short to hold \"{what}\" ({:.1} s)",
                want.len() as f64 * FRAME
            ));
        }
        let (lag, mut score) = best_match(&self.env, &want, f(from), f(to));
        // An earcon lasts under a second: a few milliseconds lost where a stream starts
        // (the first sound after the device opens) weigh more in it than in a sentence, and it
        // has no half seconds to match apart. It must still stand clear of silence and speech.
        let needed = if want.len() < 100 { 0.7 } else { 0.8 };
        if score < 0.8 {
            // A busy machine can drop a few milliseconds of a sound (at a new stream's start,
            // or in the recorder), which smears a long match. Then each half second of it is
            // matched on its own, near where the whole matched best: all but one of them (at
            // least two) must match clearly, and the score is their mean.
            let mut parts: Vec<f32> = want
                .chunks(50)
                .enumerate()
                .map(|(i, part)| {
                    let at = lag + i * 50;
                    best_match(&self.env, part, at.saturating_sub(8), at + 8).1
                })
                .collect();
            parts.sort_by(|a, b| b.total_cmp(a));
            let clear = parts.len().saturating_sub(1);
            if clear >= 2 && parts[clear - 1] >= 0.8 {
                score = parts[..clear].iter().sum::<f32>() / clear as f32;
            }
        }
        if score < needed && std::env::var_os("DAY_DEBUG").is_some() {
            let coarse = |e: &[f32]| {
                e.chunks(10)
                    .map(|c| format!("{:.2}", c.iter().cloned().fold(0.0, f32::max)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            eprintln!(
                "heard from {}: {}",
                f(from),
                coarse(&self.env[f(from)..(f(from) + 600).min(self.env.len())])
            );
            eprintln!("template:    {}", coarse(&want));
            let write = |name: &str, s: &[f32]| {
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: 48_000,
                    bits_per_sample: 32,
                    sample_format: hound::SampleFormat::Float,
                };
                let path = std::env::temp_dir().join(name);
                let mut w = hound::WavWriter::create(&path, spec).unwrap();
                s.iter().for_each(|x| w.write_sample(*x).unwrap());
                w.finalize().unwrap();
                eprintln!("wrote {}", path.display());
            };
            write("day-heard.wav", &self.samples);
            write("day-want.wav", sound);
        }
        if score < needed {
            return Err(format!(
                "\"{what}\" was not heard starting between {:.2} s and {:.2} s of this recording (best match {score:.2} at {:.2} s)",
                from - self.wall0,
                to - self.wall0,
                lag as f64 * FRAME
            ));
        }
        Ok(Event {
            what: what.to_string(),
            heard: self.wall0 + lag as f64 * FRAME,
            score,
            should: None,
        })
    }
}

impl Heard {
    /// Finds the tone `earcon` starting between `from` and `to`: where its envelope matches,
    /// and only if what sounds there is that tone's melody, clearly more than any other
    /// earcon's. (Envelopes alone cannot tell the done tone from the refused one: they matched
    /// at 0.78.)
    fn find_tone(
        &self,
        what: &str,
        earcon: letdown::tones::Earcon,
        from: f64,
        to: f64,
    ) -> Result<Event, String> {
        let sound = tone(earcon);
        let e = self.find(what, &sound, from, to)?;
        let start = (((e.heard - self.wall0) / FRAME).round().max(0.0) as usize) * 480;
        let len = sound.len();
        let heard =
            &self.samples[start.min(self.samples.len())..(start + len).min(self.samples.len())];
        tone_is(heard, earcon).map_err(|why| format!("\"{what}\": {why}"))?;
        Ok(e)
    }
}

/// Whether `heard` (a recording where a tone's envelope matched) is the tone `earcon`: its
/// melody agrees with that tone's at least 0.6, and by 0.25 more than with any other's.
fn tone_is(heard: &[f32], earcon: letdown::tones::Earcon) -> Result<(), String> {
    use letdown::tones::{Earcon, melody, melody_agreement};
    let m = melody(heard);
    let agree = |e: Earcon| melody_agreement(&m, &melody(&tone(e)));
    let want = agree(earcon);
    let (other, best_other) = Earcon::ALL
        .iter()
        .filter(|&&e| e != earcon)
        .map(|&e| (e, agree(e)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    if want >= 0.6 && want - best_other >= 0.25 {
        Ok(())
    } else {
        Err(format!(
            "the tone heard is not {earcon:?}: its melody agrees {want:.2} with it and {best_other:.2} with {other:?}"
        ))
    }
}

/// A process stopped when dropped.
struct Awake(std::process::Child);

impl Drop for Awake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The event, or the test fails with why and the daemon's log.
fn must(d: &Desktop, found: Result<Event, String>) -> Event {
    found.unwrap_or_else(|e| panic!("{e}\n--- letdownd log ---\n{}", d.daemon_log()))
}

/// Within 250 ms of when it should start, or the test fails.
fn on_time(mut e: Event, should: f64) -> Event {
    let off = e.heard - should;
    assert!(
        off.abs() <= 0.25,
        "\"{}\" was heard {:.0} ms from when it should start",
        e.what,
        off * 1000.0
    );
    e.should = Some(should);
    e
}

/// A key's answer: its tone at once (within 250 ms of the press), then its words. An answer
/// that begins with what was done ("Feed logged.", prepared ahead) is heard as that sentence,
/// then the rest once synthesized, after a breath: each is looked for where it should follow.
fn answer(
    d: &Desktop,
    heard: &Heard,
    what: &str,
    pressed: f64,
    earcon: letdown::tones::Earcon,
    words: &str,
) -> Vec<Event> {
    let t = must(
        d,
        heard.find_tone(
            &format!("{what}: tone"),
            earcon,
            pressed - 0.1,
            pressed + 1.0,
        ),
    );
    let t = on_time(t, pressed);
    let parts: Vec<String> = match letdown::feedback::split_answer(words) {
        Some((head, "")) => vec![head],
        Some((head, rest)) => vec![head, rest.to_string()],
        None => vec![words.to_string()],
    };
    // The first words follow the tone as soon as they can: not over it, and not long after.
    // Each later part follows the one before it, after its sound and a breath.
    let (mut from, mut events) = (t.heard + 0.3, vec![t]);
    for part in parts {
        let sound = speech(d, &part);
        let e = must(
            d,
            heard.find(&format!("{what}: \"{part}\""), &sound, from, from + 1.2),
        );
        from = e.heard + sound.len() as f64 / 48_000.0 + 0.1;
        events.push(e);
    }
    events
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_scripted_day_is_heard_in_order_and_on_time() {
    let mut d = Desktop::start();
    // Closer to letdownd's own 512 frames than the tests' usual 2048: a key's tone is heard
    // within 250 ms of the press with room to spare (about 60 ms less than with 2048).
    d.extra_env
        .push(("LETDOWN_DEVICE_BUFFER".into(), "1024".into()));
    d.home.write("config/letdown/config.toml", CONFIG);
    d.home.write("config/letdown/routines/day.toml", ROUTINE);
    // Silence played all day keeps the null sink from suspending between sounds: a sink
    // waking up drops the start of what its monitor records.
    let _awake = Awake(
        d.command("pacat")
            .args([
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
                "/dev/zero",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pacat (pulseaudio-utils)"),
    );
    d.start_daemon(&[]);
    let begun = unix_now();
    let mut timeline: Vec<Event> = Vec::new();

    // A feed plan: every 3 hours, the massage 100 s before the feed is due.
    d.ok(&["--quiet", "feed-plan", "--interval", "3h", "--lead", "100s"]);
    // The night's earlier feed, logged quietly: the routine is already prepared right side
    // first, and the heads-up synthesized, before the day's first key press.
    let log_before = d.daemon_log().len();
    d.ok(&["--quiet", "fed", "--side", "left", "--ago", "5h"]);
    // Ready when the routine prepared for that side and the heads-up are: nothing in flight.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = d.daemon_log()[log_before..].to_string();
        let begun = log.matches("preparing \"day\"").count();
        let ended =
            log.matches("prepared \"day\"").count() + log.matches("could not prepare").count();
        if begun >= 1 && ended == begun && log.contains("heads-up ready ahead") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "the routine and heads-up were not prepared within 30 s:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // 1-2. A feed logged by key (left, 2 h 57 m 55 s ago): the next is due in 125 s, so its
    // session starts in 25 s. The confirmation is said at once.
    let (pressed, out, heard) = press(
        &d,
        &["fed", "--side", "left", "--ago", "2h57m55s"],
        Duration::from_secs(11),
    );
    assert!(out.status.success());
    let said = stdout(&out).lines().last().unwrap().to_string();
    assert!(
        said.starts_with("Feed logged at") && said.contains("the left side"),
        "{said}"
    );
    timeline.extend(answer(
        &d,
        &heard,
        "fed",
        pressed,
        letdown::tones::Earcon::Done,
        &said,
    ));
    let next_session = |d: &Desktop| -> i64 {
        let out = d.property("NextSession");
        stdout(&out)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let session_at = next_session(&d) as f64;
    assert!(
        (session_at - (pressed + 25.0)).abs() < 2.0,
        "the session is not planned 25 s on: {}",
        session_at - pressed
    );

    // 3. The heads-up, 10 s before, with the side that comes next.
    let heads_up_text = format!(
        "{} The right side is next.",
        letdown::phrase::Phrase::StartsIn(1).text()
    );
    let heads_up_at = session_at - 10.0;
    let heard = listen(
        &d,
        || {
            std::thread::sleep(Duration::from_secs_f64(
                (heads_up_at - unix_now() - 0.5).max(0.0),
            ))
        },
        Duration::from_secs(6),
    );
    let e = must(
        &d,
        heard.find(
            "heads-up",
            &speech(&d, &heads_up_text),
            heads_up_at - 0.5,
            heads_up_at + 1.5,
        ),
    );
    timeline.push(on_time(e, heads_up_at));

    // 4. Snoozed by key, 12 s: said with the new time.
    let (pressed, out, heard) = press(&d, &["snooze", "12s"], Duration::from_secs(7));
    assert!(out.status.success());
    let said = stdout(&out);
    timeline.extend(answer(
        &d,
        &heard,
        "snooze",
        pressed,
        letdown::tones::Earcon::Done,
        &said,
    ));
    let session_at = next_session(&d) as f64;

    // 5. The session starts on time, saying first which side is next, then the right side's
    // steps first (the last feed was on the left).
    let heard = listen(
        &d,
        || {
            std::thread::sleep(Duration::from_secs_f64(
                (session_at - unix_now() + 1.0).max(0.0),
            ))
        },
        Duration::from_secs(10),
    );
    let e = must(
        &d,
        heard.find(
            "session: \"The right side is next.\"",
            &speech(&d, "The right side is next."),
            session_at - 0.5,
            session_at + 1.0,
        ),
    );
    let e = on_time(e, session_at);
    let lead_in = e.heard;
    timeline.push(e);
    let e = must(
        &d,
        heard.find_tone(
            "session: start tone",
            letdown::tones::Earcon::StepStart,
            lead_in + 1.0,
            lead_in + 3.0,
        ),
    );
    let start_tone = e.heard;
    timeline.push(e);
    let right = must(
        &d,
        heard.find(
            "session: \"Now the right side.\"",
            &speech(&d, "Now the right side."),
            start_tone,
            start_tone + 2.0,
        ),
    );
    let left = must(
        &d,
        heard.find(
            "session: \"Now the left side.\"",
            &speech(&d, "Now the left side."),
            right.heard + 1.0,
            right.heard + 6.0,
        ),
    );
    assert!(right.heard < left.heard, "the left side came first");
    // Told apart, not only found: each matches its own words better than the other side's.
    let (as_left, as_right) = (
        heard.score_at(&speech(&d, "Now the left side."), right.heard),
        heard.score_at(&speech(&d, "Now the right side."), left.heard),
    );
    println!(
        "right side heard: {:.2} as right, {as_left:.2} as left; left side: {:.2} as left, {as_right:.2} as right",
        right.score, left.score
    );
    assert!(
        right.score > as_left && left.score > as_right,
        "the sides cannot be told apart: right {:.2} vs {as_left:.2}, left {:.2} vs {as_right:.2}",
        right.score,
        left.score
    );
    timeline.push(right);
    timeline.push(left);
    assert!(
        d.wait_state("idle", Duration::from_secs(10)),
        "the session never ended"
    );
    // Its closing tone rings on for a moment after the session is over.
    std::thread::sleep(Duration::from_secs(2));

    // 6. Where am I, while idle: said, and printed in the same words.
    let (pressed, out, heard) = press(&d, &["where"], Duration::from_secs(19));
    let said = stdout(&out);
    assert!(
        said.starts_with("No massage now.") && said.contains("on the left side"),
        "{said}"
    );
    timeline.extend(answer(
        &d,
        &heard,
        "where (idle)",
        pressed,
        letdown::tones::Earcon::Done,
        &said,
    ));

    // 7. An error press, through playerctl's neighbour: pause with no session. A low tone,
    // then the reason.
    let (pressed, out, heard) = press(&d, &["pause"], Duration::from_secs(5));
    assert!(!out.status.success());
    timeline.extend(answer(
        &d,
        &heard,
        "error",
        pressed,
        letdown::tones::Earcon::Refused,
        "No session to pause.",
    ));
    // MPRIS is not there to steal media keys while idle.
    let players = d.run("playerctl", &["-l"]);
    assert!(
        !stdout(&players).contains("letdown"),
        "letdown holds the media keys while idle: {}",
        stdout(&players)
    );

    // 8. A session missed while the machine was off. letdownd comes back in the feed plan's
    // quiet hours, so it keeps the notice to itself, and a press in quiet hours does not take
    // it either; the first press after them tells it. The quiet hours end at the start of a
    // minute at least 25 s away.
    let tz = jiff::tz::TimeZone::system();
    let now = unix_now() as i64;
    let mut quiet_end = (now / 60 + 1) * 60;
    if quiet_end - now < 25 {
        quiet_end += 60;
    }
    let hhmm = |t: i64| {
        jiff::Timestamp::from_second(t)
            .unwrap()
            .to_zoned_datetime(tz.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let quiet = format!("{}-{}", hhmm(quiet_end - 3600), hhmm(quiet_end));
    d.ok(&[
        "--quiet",
        "feed-plan",
        "--interval",
        "3h",
        "--lead",
        "100s",
        "--quiet-hours",
        &quiet,
        "--quiet",
        "quieter",
    ]);
    d.ok(&["--quiet", "schedule", "in", "3s"]);
    d.stop_daemon();
    std::thread::sleep(Duration::from_secs(10));
    // Started without the helper's `letdown status` polls: they are key presses too.
    d.spawn_daemon_silently();
    std::thread::sleep(Duration::from_secs(1));
    let out = d.letdown(&["--quiet", "next"]);
    let notes = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("letdown: note: "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(
        notes(&out).is_empty(),
        "a missed session was told in quiet hours: {:?}",
        notes(&out)
    );
    std::thread::sleep(Duration::from_secs_f64(
        (quiet_end as f64 + 1.0 - unix_now()).max(0.0),
    ));
    // The press after quiet hours: move on, with no session. Refused, then the notice.
    let (pressed, out, heard) = press(&d, &["next"], Duration::from_secs(12));
    let notice = notes(&out).concat();
    assert!(
        notice.contains("was missed"),
        "no missed session noted: {notice:?}\n{}",
        d.daemon_log()
    );
    let said = answer(
        &d,
        &heard,
        "missed: the press",
        pressed,
        letdown::tones::Earcon::Refused,
        "No session to move on.",
    );
    let after = said.last().expect("the press's words").heard + 1.0;
    timeline.extend(said);
    let t = must(
        &d,
        heard.find_tone(
            "missed: tone",
            letdown::tones::Earcon::Done,
            after,
            after + 2.0,
        ),
    );
    let told = letdown::feedback::spoken_notice(&notice);
    let w = must(
        &d,
        heard.find(
            "missed: told",
            &speech(&d, &told),
            t.heard + 0.3,
            t.heard + 1.5,
        ),
    );
    timeline.extend([t, w]);

    // In order, and printed.
    for pair in timeline.windows(2) {
        assert!(
            pair[0].heard <= pair[1].heard,
            "\"{}\" was heard after \"{}\"",
            pair[0].what,
            pair[1].what
        );
    }
    println!("the day, as heard (seconds from the start; how far from its time, where checked):");
    for e in &timeline {
        let off = e
            .should
            .map(|t| format!("{:+5.0} ms", (e.heard - t) * 1000.0))
            .unwrap_or_default();
        println!(
            "  {:7.2}  {:<48} match {:.2}  {off}",
            e.heard - begun,
            e.what,
            e.score
        );
    }
}

/// The tone check can fail: each earcon played through the real sound server is found as
/// itself, and looking for any other earcon where it played fails (the done tone where the
/// refused one played, above all).
#[test]
fn the_tone_check_refuses_the_wrong_tone() {
    use letdown::tones::Earcon;
    let d = Desktop::start();
    let dir = d.home.path("tones");
    d.ok(&["tones", dir.to_str().unwrap()]);
    let mut played = Vec::new();
    let heard = listen(
        &d,
        || {
            for e in Earcon::ALL {
                played.push((e, unix_now()));
                let wav = dir.join(format!("{}.wav", e.name()));
                let out = d.run("paplay", &[wav.to_str().unwrap()]);
                assert!(out.status.success(), "paplay {}", e.name());
                std::thread::sleep(Duration::from_millis(700));
            }
        },
        Duration::from_millis(500),
    );
    // Wrong tones whose envelope alone matched: the melody is what refused them.
    let mut by_envelope = Vec::new();
    for &(e, at) in &played {
        let found = heard.find_tone(e.name(), e, at - 0.05, at + 0.3);
        assert!(
            found.is_ok(),
            "{:?} played, not found: {}",
            e,
            found.err().unwrap()
        );
        for other in Earcon::ALL.into_iter().filter(|&o| o != e) {
            // Where the envelope alone would pass (as it did for done and refused), the
            // melody must refuse it.
            if heard
                .find(other.name(), &tone(other), at - 0.05, at + 0.3)
                .is_ok()
            {
                by_envelope.push((other, e));
            }
            if let Ok(wrong) = heard.find_tone(other.name(), other, at - 0.05, at + 0.3) {
                panic!(
                    "{other:?} was accepted where {e:?} played (at {:.2} s, envelope {:.2})",
                    wrong.heard - heard.wall0,
                    wrong.score
                );
            }
        }
    }
    println!("wrong tones an envelope match accepted, refused by their melody: {by_envelope:?}");
    assert!(
        by_envelope.contains(&(Earcon::Done, Earcon::Refused)),
        "the envelope no longer confuses done with refused: this test no longer shows the melody check at work"
    );
}
