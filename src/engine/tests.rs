use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::plan::tests::{FixedLengths, routine};
use crate::plan::{Plan, Sound};
use crate::tones::Earcon;

const S: fn(u64) -> Duration = Duration::from_millis;

fn plan(text: &str) -> Arc<Plan> {
    Arc::new(Plan::new(&routine(text), &FixedLengths))
}

const TWO: &str = "title = \"T\"\n[defaults]\ncountdown = \"ticks\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"10s\"\n[[steps]]\ntitle = \"B\"\nsay = \"b\"\nduration = \"20s\"\n";

/// Drives `s` until `until`, waking at every deadline, and returns the events.
fn run_until(s: &mut Session, until: Duration) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        while let Some(e) = s.poll_event() {
            out.push(e);
        }
        match s.poll_timeout() {
            Some(t) if t <= until => s.handle_timeout(t),
            _ => break,
        }
    }
    s.handle_timeout(until);
    while let Some(e) = s.poll_event() {
        out.push(e);
    }
    out
}

/// The events a session of `p` emits on its own, computed from the plan alone.
fn expected(p: &Plan, origin: Duration) -> Vec<Event> {
    let mut v = vec![Event {
        at: origin,
        kind: EventKind::SessionStarted,
    }];
    for (i, s) in p.steps.iter().enumerate() {
        let start = origin + p.step_start(i);
        v.push(Event {
            at: start,
            kind: EventKind::StepStarted(i),
        });
        v.extend(s.cues.iter().map(|c| Event {
            at: start + c.at,
            kind: EventKind::Play(c.sound),
        }));
    }
    v.push(Event {
        at: origin + p.total(),
        kind: EventKind::SessionFinished { completed: true },
    });
    v
}

#[test]
fn an_untouched_session_follows_the_plan_exactly() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(1000)).unwrap();
    let events = run_until(&mut s, S(1000) + p.total() + S(5000));
    assert_eq!(events, expected(&p, S(1000)));
    assert_eq!(s.state(), State::Finished);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_late_driver_still_gets_exact_times() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    // wake only once, long after everything was due
    let events = run_until(&mut s, S(0));
    s.handle_timeout(p.total() + S(60_000));
    let mut all = events;
    while let Some(e) = s.poll_event() {
        all.push(e);
    }
    assert_eq!(all, expected(&p, S(0)));
}

#[test]
fn pause_shifts_everything_after_it_by_the_pause() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    let mut events = run_until(&mut s, S(12_000));
    s.pause(S(12_000)).unwrap();
    assert_eq!(s.poll_timeout(), None, "a paused session needs no timer");
    let st = s.status(S(50_000));
    assert_eq!(st.state, State::Paused);
    assert_eq!(st.step_elapsed, S(12_000), "paused time is not counted");
    s.resume(S(42_000)).unwrap();
    events.extend(run_until(&mut s, S(200_000)));
    let unpaused = expected(&p, S(0));
    let mut want: Vec<Event> = Vec::new();
    for e in unpaused {
        if e.at < S(12_000) || (e.at == S(12_000) && !matches!(e.kind, EventKind::Play(_))) {
            want.push(e);
        } else {
            want.push(Event {
                at: e.at + S(30_000),
                ..e
            });
        }
    }
    want.insert(
        want.iter().position(|e| e.at >= S(12_000)).unwrap(),
        Event {
            at: S(12_000),
            kind: EventKind::Paused,
        },
    );
    want.insert(
        want.iter().position(|e| e.at >= S(42_000)).unwrap(),
        Event {
            at: S(42_000),
            kind: EventKind::Resumed,
        },
    );
    assert_eq!(events, want);
}

#[test]
fn next_and_previous_stay_in_bounds() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    s.previous(S(100)).unwrap();
    assert_eq!(s.status(S(100)).step, Some(0));
    s.next(S(200)).unwrap();
    assert_eq!(s.status(S(200)).step, Some(1));
    let ev = run_until(&mut s, S(200));
    assert!(ev.contains(&Event {
        at: S(200),
        kind: EventKind::Interrupt
    }));
    assert!(ev.contains(&Event {
        at: S(200),
        kind: EventKind::StepStarted(1)
    }));
    assert!(ev.contains(&Event {
        at: S(200),
        kind: EventKind::Play(Sound::Tone(Earcon::StepStart))
    }));
    s.next(S(300)).unwrap();
    assert_eq!(s.state(), State::Finished);
    assert_eq!(s.next(S(400)), Err(CommandError::NotRunning));
}

#[test]
fn repeat_in_hands_on_time_loses_no_hands_on_time() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    let a = &p.steps[0];
    let t = a.hands_on_start + S(2000);
    run_until(&mut s, t);
    s.repeat(t).unwrap();
    let ev = run_until(&mut s, S(100_000));
    assert_eq!(
        ev[0],
        Event {
            at: t,
            kind: EventKind::Interrupt
        }
    );
    assert_eq!(
        ev[1],
        Event {
            at: t,
            kind: EventKind::Play(Sound::Prompt(0))
        }
    );
    let next_step = ev
        .iter()
        .find(|e| e.kind == EventKind::StepStarted(1))
        .unwrap();
    assert_eq!(next_step.at, a.length + a.prompt_len);
}

#[test]
fn repeat_during_the_prompt_restarts_it() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    let a = &p.steps[0];
    let t = a.prompt_at + S(1000);
    run_until(&mut s, t);
    s.repeat(t).unwrap();
    let ev = run_until(&mut s, S(100_000));
    assert_eq!(
        ev[0],
        Event {
            at: t,
            kind: EventKind::Interrupt
        }
    );
    assert_eq!(
        ev[1],
        Event {
            at: t,
            kind: EventKind::Play(Sound::Prompt(0))
        }
    );
    let next_step = ev
        .iter()
        .find(|e| e.kind == EventKind::StepStarted(1))
        .unwrap();
    assert_eq!(next_step.at, a.length + S(1000));
}

#[test]
fn repeat_during_the_start_tone_at_time_zero_lets_the_prompt_come_as_planned() {
    let p = plan(TWO);
    let a = &p.steps[0];
    assert!(a.prompt_at > S(0), "the first step opens with a tone");
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    run_until(&mut s, S(0));
    // The prompt has not begun: there is nothing to restart, and nothing is cut.
    s.repeat(S(0)).unwrap();
    let ev = run_until(&mut s, p.total() + S(5000));
    assert!(!ev.iter().any(|e| e.kind == EventKind::Interrupt));
    let prompt = ev
        .iter()
        .find(|e| e.kind == EventKind::Play(Sound::Prompt(0)))
        .unwrap();
    assert_eq!(prompt.at, a.prompt_at);
    let next = ev
        .iter()
        .find(|e| e.kind == EventKind::StepStarted(1))
        .unwrap();
    assert_eq!(next.at, a.length);
}

#[test]
fn extend_moves_the_countdown_and_the_end() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    s.extend(S(1000), S(30_000)).unwrap();
    let ev = run_until(&mut s, S(200_000));
    let a = &p.steps[0];
    let ticks: Vec<Duration> = ev
        .iter()
        .take_while(|e| e.kind != EventKind::StepStarted(1))
        .filter(|e| e.kind == EventKind::Play(Sound::Tone(Earcon::Tick)))
        .map(|e| e.at)
        .collect();
    let end = a.hands_on_end() + S(30_000);
    assert_eq!(ticks, [end - S(3000), end - S(2000), end - S(1000)]);
    assert!(ev.contains(&Event {
        at: a.length + S(30_000),
        kind: EventKind::StepStarted(1)
    }));
    assert_eq!(s.extend(S(300_000), S(1000)), Err(CommandError::NotRunning));
}

#[test]
fn refused_commands_change_nothing() {
    let p = plan(TWO);
    let mut s = Session::new(p.clone());
    assert_eq!(s.pause(S(0)), Err(CommandError::NotRunning));
    assert_eq!(s.resume(S(0)), Err(CommandError::NotRunning));
    assert_eq!(s.stop(S(0)), Err(CommandError::NotRunning));
    assert_eq!(s.repeat(S(0)), Err(CommandError::NotRunning));
    assert!(s.poll_event().is_none());
    s.start(S(0)).unwrap();
    assert_eq!(s.start(S(1)), Err(CommandError::AlreadyRunning));
    assert_eq!(s.resume(S(2)), Err(CommandError::NotPaused));
    assert_eq!(s.extend(S(3), S(0)), Err(CommandError::BadExtension));
    assert_eq!(
        s.extend(S(3), MAX_EXTENSION + S(1)),
        Err(CommandError::BadExtension)
    );
    s.pause(S(4)).unwrap();
    assert_eq!(s.pause(S(5)), Err(CommandError::AlreadyPaused));
    s.toggle_pause(S(6)).unwrap();
    assert_eq!(s.state(), State::Running);
    s.stop(S(7)).unwrap();
    assert_eq!(s.state(), State::Idle);
    let last = run_until(&mut s, S(8)).pop().unwrap();
    assert_eq!(
        last,
        Event {
            at: S(7),
            kind: EventKind::SessionFinished { completed: false }
        }
    );
}

#[derive(Debug, Clone)]
enum Cmd {
    Start,
    Stop,
    Pause,
    Resume,
    Toggle,
    Next,
    Previous,
    Repeat,
    Extend(u64),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        Just(Cmd::Start),
        Just(Cmd::Stop),
        Just(Cmd::Pause),
        Just(Cmd::Resume),
        Just(Cmd::Toggle),
        Just(Cmd::Next),
        Just(Cmd::Previous),
        Just(Cmd::Repeat),
        (0u64..40_000).prop_map(Cmd::Extend),
    ]
}

/// How long the property test's driver waits before a command.
#[derive(Debug, Clone)]
enum Wait {
    For(u64),
    NextDeadline,
}

/// Commands at time zero, within the first cues, at any time, and exactly at a cue.
fn wait() -> impl Strategy<Value = Wait> {
    prop_oneof![
        Just(Wait::For(0)),
        (0u64..1_000).prop_map(Wait::For),
        (0u64..30_000).prop_map(Wait::For),
        Just(Wait::NextDeadline),
    ]
}

fn routine_text() -> impl Strategy<Value = String> {
    prop::collection::vec((1u64..40, any::<bool>(), 0u8..3, 0u8..3, prop::option::of(10u64..30)), 1..5).prop_map(|steps| {
        let mut t = String::from("title = \"T\"\n");
        for (i, (secs, tone, cd, half, remind)) in steps.into_iter().enumerate() {
            t += &format!("[[steps]]\ntitle = \"S{i}\"\nsay = \"s\"\nduration = \"{secs}s\"\nstart_tone = {tone}\nend_tone = {}\n", !tone);
            t += &format!("countdown = \"{}\"\n", ["none", "ticks", "spoken"][cd as usize]);
            t += &format!("halfway = \"{}\"\n", ["none", "tone", "spoken"][half as usize]);
            if let Some(r) = remind {
                t += &format!("remind_every = \"{r}s\"\n");
            }
        }
        t
    })
}

/// Per-step bookkeeping of the property test's driver.
#[derive(Default)]
struct StepWatch {
    index: Option<usize>,
    running_since: Option<Duration>,
    running: Duration,
    extended: Duration,
    /// A command that legitimately changes the step's length (repeat) happened.
    reshaped: bool,
}

/// Watches a session's events and checks the invariants as they come.
struct Watcher {
    plan: Arc<Plan>,
    last_at: Duration,
    step: StepWatch,
}

impl Watcher {
    fn close_step(&mut self, at: Duration, natural: bool) -> Result<(), TestCaseError> {
        if let Some(since) = self.step.running_since.take() {
            self.step.running += at - since;
        }
        if let (true, false, Some(k)) = (natural, self.step.reshaped, self.step.index) {
            prop_assert_eq!(
                self.step.running,
                self.plan.steps[k].length + self.step.extended,
                "step {} length",
                k
            );
        }
        self.step = StepWatch::default();
        Ok(())
    }

    fn check(
        &mut self,
        s: &mut Session,
        now: Duration,
        commanded: bool,
    ) -> Result<(), TestCaseError> {
        let n = self.plan.steps.len();
        while let Some(e) = s.poll_event() {
            prop_assert!(
                e.at >= self.last_at,
                "event {:?} before {:?}",
                e,
                self.last_at
            );
            self.last_at = e.at;
            match e.kind {
                EventKind::StepStarted(i) => {
                    prop_assert!(i < n);
                    let natural = !commanded && self.step.index.map(|k| k + 1) == Some(i);
                    self.close_step(e.at, natural)?;
                    self.step.index = Some(i);
                    self.step.running_since = Some(e.at);
                }
                EventKind::SessionFinished { completed } => {
                    self.close_step(e.at, completed && !commanded)?;
                }
                EventKind::Paused => {
                    if let Some(since) = self.step.running_since.take() {
                        self.step.running += e.at - since;
                    }
                }
                EventKind::Resumed => self.step.running_since = Some(e.at),
                EventKind::Play(Sound::Prompt(i)) => {
                    prop_assert_eq!(Some(i), self.step.index, "prompt of another step")
                }
                _ => {}
            }
        }
        let st = s.status(now);
        if let Some(i) = st.step {
            prop_assert!(i < n);
            prop_assert_eq!(
                Some(i),
                self.step.index,
                "status and events disagree on the step"
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any commands at any times: no panic, events in time order, one step at a time, indices in
    /// bounds, refused commands change nothing, and a step that runs out by itself has run
    /// exactly its planned length plus its extensions, pauses not counted.
    #[test]
    fn any_command_sequence_keeps_the_invariants(
        text in routine_text(),
        cmds in prop::collection::vec((wait(), cmd()), 0..40),
    ) {
        let p = plan(&text);
        let mut s = Session::new(p.clone());
        let mut now = Duration::ZERO;
        let mut w = Watcher { plan: p.clone(), last_at: Duration::ZERO, step: StepWatch::default() };
        for (wait, c) in cmds {
            let target = match wait {
                Wait::For(ms) => now + Duration::from_millis(ms),
                // Exactly when the next cue or boundary is due (or now, when none is).
                Wait::NextDeadline => s.poll_timeout().unwrap_or(now).max(now),
            };
            while let Some(t) = s.poll_timeout() {
                prop_assert!(t >= now, "deadline {:?} in the past of {:?}", t, now);
                if t > target { break; }
                now = t;
                s.handle_timeout(t);
                w.check(&mut s, now, false)?;
            }
            now = target;
            s.handle_timeout(now);
            w.check(&mut s, now, false)?;
            let before = s.state();
            let r = match c {
                Cmd::Start => s.start(now),
                Cmd::Stop => s.stop(now),
                Cmd::Pause => s.pause(now),
                Cmd::Resume => s.resume(now),
                Cmd::Toggle => s.toggle_pause(now),
                Cmd::Next => s.next(now),
                Cmd::Previous => s.previous(now),
                Cmd::Repeat => {
                    let r = s.repeat(now);
                    // Only an accepted repeat may change the step's length.
                    if r.is_ok() { w.step.reshaped = true; }
                    r
                }
                Cmd::Extend(ms) => {
                    let r = s.extend(now, Duration::from_millis(ms));
                    if r.is_ok() { w.step.extended += Duration::from_millis(ms); }
                    r
                }
            };
            if r.is_err() {
                prop_assert_eq!(s.state(), before, "a refused command changed the state");
                prop_assert!(s.poll_event().is_none(), "a refused command emitted events");
            }
            w.check(&mut s, now, true)?;
        }
        // let it run out
        while let Some(t) = s.poll_timeout() {
            prop_assert!(t >= now);
            now = t;
            s.handle_timeout(t);
            w.check(&mut s, now, false)?;
        }
        prop_assert!(matches!(s.state(), State::Idle | State::Finished | State::Paused));
    }
}

const OPEN: &str = "title = \"T\"\n[[steps]]\ntitle = \"Massage\"\nsay = \"a\"\nduration = \"10s\"\n[[steps]]\ntitle = \"Pump\"\nsay = \"b\"\nuntil = \"next\"\nevery = \"30s\"\nevery_say = \"Squeeze.\"\nremind_every = \"2m\"\n[[steps]]\ntitle = \"After\"\nsay = \"c\"\nduration = \"10s\"\n";

#[test]
fn a_step_that_lasts_until_next_never_ends_by_itself_and_says_how_long_it_has_lasted() {
    let p = plan(OPEN);
    assert!(p.steps[1].open);
    let mut s = Session::new(p.clone());
    s.start(S(0)).unwrap();
    let pump_start = p.step_start(1);
    let hands_on = pump_start + p.steps[1].hands_on_start;
    // Two hours on: still in the pump step, cues went on to the horizon and then stopped.
    let events = run_until(&mut s, Duration::from_secs(7200));
    assert_eq!(s.status(Duration::from_secs(7200)).step, Some(1));
    assert!(s.status(Duration::from_secs(7200)).open);
    let squeezes: Vec<Duration> = events
        .iter()
        .filter(|e| e.kind == EventKind::Play(Sound::Repeated(1)))
        .map(|e| e.at - hands_on)
        .collect();
    assert!(squeezes.len() > 60, "{}", squeezes.len());
    assert!(
        squeezes.iter().all(|d| d.as_millis() % 30_000 == 0),
        "{squeezes:?}"
    );
    let said: Vec<(Duration, u32)> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Play(Sound::Phrase(crate::phrase::Phrase::Elapsed(secs))) => {
                Some((e.at - hands_on, secs))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        said[0],
        (Duration::from_secs(120), 120),
        "two minutes in: \"Two minutes.\""
    );
    assert!(said.iter().all(|(at, secs)| at.as_secs() == *secs as u64));
    assert_eq!(
        s.extend(Duration::from_secs(7200), S(5000)),
        Err(CommandError::OpenStep)
    );
    // Next ends it and the routine goes on.
    s.next(Duration::from_secs(7200)).unwrap();
    assert_eq!(s.status(Duration::from_secs(7200)).step, Some(2));
    // A render closes it at its shown length instead: the plan's total.
    let mut r = Session::new(p.clone()).closing_open_steps();
    r.start(S(0)).unwrap();
    let events = run_until(&mut r, Duration::from_secs(7200));
    let finished = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::SessionFinished { .. }))
        .unwrap();
    assert_eq!(finished.at, p.total());
    assert_eq!(events, expected(&p, S(0)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// An open step under any pauses, repeats and waits: it never ends by itself, its elapsed
    /// time is exactly the running time, no cue is lost (every cue due by the step's clock has
    /// played) and no two cues start at once.
    #[test]
    fn an_open_step_keeps_its_clock_and_its_cues(
        cmds in prop::collection::vec((1u64..200_000, 0u8..4), 0..30),
    ) {
        let p = plan(OPEN);
        let mut s = Session::new(p.clone());
        s.start(S(0)).unwrap();
        let pump_start = p.step_start(1);
        let mut now = pump_start + S(1);
        let _ = run_until(&mut s, now);
        prop_assert_eq!(s.status(now).step, Some(1));
        let mut running = S(1);
        let mut delay = Duration::ZERO;
        // When each cue that was heard began: one cut by an Interrupt at the instant it began
        // (a repeat just as the prompt starts) was never heard.
        let mut plays: Vec<Duration> = Vec::new();
        let heard = |plays: &mut Vec<Duration>, e: Event| match e.kind {
            EventKind::Play(_) => plays.push(e.at),
            EventKind::Interrupt => plays.retain(|&p| p != e.at),
            _ => {}
        };
        for (wait, c) in cmds {
            let paused = s.state() == State::Paused;
            let to = now + Duration::from_millis(wait);
            for e in run_until(&mut s, to) {
                heard(&mut plays, e);
            }
            if !paused {
                running += to - now;
            }
            now = to;
            let st = s.status(now);
            prop_assert_eq!(st.step, Some(1), "the open step ended by itself");
            prop_assert_eq!(st.step_elapsed, running, "its clock drifted");
            let r = match c {
                0 => s.pause(now),
                1 => s.resume(now),
                2 => {
                    let hands_on = p.steps[1].hands_on_start;
                    let r = s.repeat(now);
                    if r.is_ok() && (st.step_elapsed >= hands_on || !delay.is_zero()) {
                        delay += p.steps[1].prompt_len;
                    }
                    r
                }
                _ => s.extend(now, S(1000)).map(|_| ()),
            };
            if c == 3 {
                prop_assert_eq!(r, Err(CommandError::OpenStep));
            }
            let step = &p.steps[1];
            if c == 2
                && r.is_ok()
                && delay.is_zero()
                && (step.prompt_at..step.hands_on_start).contains(&st.step_elapsed)
            {
                // (back to the start of the prompt: the step's clock restarts there; during the
                // start tone a repeat changes nothing, the prompt is coming anyway)
                running = step.prompt_at;
            }
            while let Some(e) = s.poll_event() {
                heard(&mut plays, e);
            }
        }
        // Nothing lost: every cue whose time (on the step's clock, shifted by repeats) has come
        // has played.
        let st = s.status(now);
        let due = p.steps[1]
            .cues
            .iter()
            .chain(&p.steps[1].beyond)
            .filter(|c| c.at >= p.steps[1].hands_on_start && c.at + delay < st.step_elapsed)
            .count();
        let hands_on_plays = plays.len();
        prop_assert!(hands_on_plays >= due, "{} plays for {} due cues", hands_on_plays, due);
        let mut sorted = plays.clone();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), plays.len(), "two cues at once");
    }
}
