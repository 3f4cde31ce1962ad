//! The coach without D-Bus: requests go straight in, a WAV file stands in for the sound
//! device, and speech comes from espeak-ng (fast) into a temporary cache.

use super::*;
use crate::prepare::{Ready, prepare};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// A coach in a temporary home, with `config` as its config file text, its routines read.
pub(super) async fn coach(config: &str) -> (Coach, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    std::fs::create_dir_all(&paths.routines_dir).unwrap();
    std::fs::write(
        paths.routines_dir.join("short.toml"),
        "name = \"short\"\ntitle = \"Short\"\n[[steps]]\ntitle = \"One\"\nsay = \"Breathe in.\"\nduration = \"30s\"\n",
    )
    .unwrap();
    let cfg = Config::parse(std::path::Path::new("config.toml"), config).unwrap();
    let output =
        crate::output::from_spec(&format!("wav:{}", dir.path().join("out.wav").display())).unwrap();
    let (snap, _) = watch::channel(Snapshot::idle(cfg.volume));
    let (sig, _) = mpsc::unbounded_channel();
    let mut c = Coach::new(paths, cfg, output, snap, sig);
    read_routines(&mut c).await;
    (c, dir)
}

pub(super) const ESPEAK: &str = "default_routine = \"short\"\nvolume = 0.8\n[schedule]\nquiet_volume = 0.3\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n";

/// Waits until the coach has read its routines (beside it) and acted on the reading.
async fn read_routines(c: &mut Coach) {
    while !c.routines.current() {
        let e = tokio::time::timeout(Duration::from_secs(10), c.routines.next())
            .await
            .expect("the routines were never read");
        if c.routines.on_event(e) {
            c.on_routines_read();
        }
    }
}

/// Prepares `short` and returns it, as a preparation beside the coach would.
async fn ready(c: &mut Coach) -> Arc<Ready> {
    read_routines(c).await;
    let routine = c.find_routine("short").unwrap();
    Arc::new(prepare(routine, &c.cfg, &c.paths).unwrap())
}

/// Sends `make`'s request to the coach and returns the answer it gave at once (once its
/// routines are read: see [`read_routines`]).
fn ask<T: std::fmt::Debug>(
    c: &mut Coach,
    make: impl FnOnce(Answer<T>) -> Request,
) -> Result<T, CoachError> {
    let (tx, mut rx) = oneshot::channel();
    c.handle(make(tx));
    rx.try_recv().expect("answered at once")
}

/// Sends a schedule request that changes the state and returns its answer, given once the
/// change is on disk.
pub(super) async fn ask_written<T: std::fmt::Debug>(
    c: &mut Coach,
    make: impl FnOnce(Answer<T>) -> Request,
) -> Result<T, CoachError> {
    let (tx, mut rx) = oneshot::channel();
    c.handle(make(tx));
    // Held while a folder on the way to the routines' was made (the state's, at its first
    // write): handled once they are read again.
    read_routines(c).await;
    if let Ok(answer) = rx.try_recv() {
        return answer;
    }
    loop {
        let happened = tokio::time::timeout(Duration::from_secs(10), c.agenda.next())
            .await
            .expect("never written");
        if let agenda::Happened::Written(w) = happened {
            c.on_written(*w);
            break;
        }
    }
    rx.try_recv().expect("answered once written")
}

/// Waits for `name`'s preparation, handing it and everything synthesized before it to the
/// coach (the routines prepared ahead among them).
async fn finish_preparation(c: &mut Coach, name: &str) {
    loop {
        let done = tokio::time::timeout(Duration::from_secs(30), c.preparer.next())
            .await
            .expect("the preparation never finished")
            .unwrap();
        let last = matches!(&done, Done::Prepared(p) if p.name == name);
        c.on_done(done);
        if last {
            return;
        }
    }
}

/// Waits for the next phrase synthesized beside the coach, handing preparations that finish
/// before it to the coach.
pub(super) async fn next_phrase(c: &mut Coach) -> (PhraseFor, Clip) {
    loop {
        let done = tokio::time::timeout(Duration::from_secs(20), c.preparer.next())
            .await
            .expect("no phrase was synthesized")
            .unwrap();
        match done {
            Done::Spoken(what, clip) => return (what, clip),
            other => c.on_done(other),
        }
    }
}

/// Begins a session and lets its first sounds be read and the output opened beside the coach.
async fn begin_now(c: &mut Coach, r: Arc<Ready>, starter: Starter) {
    c.starting.open(r, starter, &mut c.audio);
    settle_start(c).await;
}

/// Waits for a starting session's sounds and output to come back, and goes on with it.
async fn settle_start(c: &mut Coach) {
    let readied = tokio::time::timeout(Duration::from_secs(10), c.starting.readied())
        .await
        .expect("the first sounds were never read");
    let next = c.starting.on_readied(readied, &mut c.audio);
    c.go_on(next);
}

fn volume(c: &Coach) -> f32 {
    c.audio.mix().volume()
}

#[tokio::test]
async fn a_volume_set_during_a_quiet_session_is_kept_after_it() {
    let (mut c, _dir) = coach(ESPEAK).await;
    let r = ready(&mut c).await;
    begin_now(&mut c, r, Starter::Scheduled { quiet: true }).await;
    assert!(c.on_air.is_live(), "the session did not start");
    assert_eq!(volume(&c), 0.3, "quiet volume");
    ask(&mut c, |a| Request::SetVolume(0.9, a)).unwrap();
    assert_eq!(volume(&c), 0.9);
    ask(&mut c, |a| Request::Session(SessionCommand::Stop, a)).unwrap();
    // A stop is acted on at once (its tone follows the cleared mix).
    assert!(!c.on_air.is_live(), "the session did not end");
    assert_eq!(
        volume(&c),
        0.9,
        "the end of the quiet session undid the user's volume"
    );
}

#[tokio::test]
async fn a_quiet_session_goes_back_to_the_users_volume() {
    let (mut c, _dir) = coach(ESPEAK).await;
    let r = ready(&mut c).await;
    begin_now(&mut c, r, Starter::Scheduled { quiet: true }).await;
    ask(&mut c, |a| Request::Session(SessionCommand::Stop, a)).unwrap();
    assert_eq!(volume(&c), 0.8);
}

#[tokio::test]
async fn where_am_i_past_the_phrase_bank_is_still_spoken() {
    let (mut c, _dir) = coach(ESPEAK).await;
    let r = ready(&mut c).await;
    begin_now(&mut c, r, Starter::Client(oneshot::channel().0)).await;
    assert!(c.on_air.is_live());
    // 30 s planned, 10 minutes more: no "ten minutes left" was prepared.
    ask(&mut c, |a| Request::Session(SessionCommand::Extend(600), a)).unwrap();
    let text = ask(&mut c, Request::WhereAmI).unwrap();
    assert!(text.contains("ten minutes"), "{text}");
    let (what, clip) = next_phrase(&mut c).await;
    assert!(clip.duration() > Duration::from_millis(500));
    c.audio.mix().interrupt();
    c.on_done(Done::Spoken(what, clip));
    assert!(!c.audio.mix().is_silent(), "the phrase was not played");
}

#[tokio::test]
async fn a_start_waits_for_its_preparation_and_other_calls_do_not() {
    let (mut c, _dir) = coach(ESPEAK).await;
    let (tx, mut started) = oneshot::channel();
    c.handle(Request::Start("short".into(), tx));
    assert!(c.starting.routine().is_some(), "not waiting for its speech");
    assert!(started.try_recv().is_err(), "answered before it started");
    // Meanwhile every other call is answered at once.
    let routines = ask(&mut c, Request::ListRoutines).unwrap();
    assert!(routines.iter().any(|r| r.0 == "short"));
    let err = ask(&mut c, |a| Request::Start(String::new(), a)).unwrap_err();
    assert!(matches!(err, CoachError::AlreadyRunning(_)), "{err:?}");
    finish_preparation(&mut c, "short").await;
    assert!(
        started.try_recv().is_err(),
        "answered before its output was open"
    );
    settle_start(&mut c).await;
    started.try_recv().unwrap().unwrap();
    assert!(c.on_air.is_live() && c.starting.routine().is_none());
}

#[tokio::test]
async fn typed_answers_carry_named_errors() {
    let (mut c, _dir) = coach(ESPEAK).await;
    let err = ask(&mut c, |a| Request::Session(SessionCommand::Pause, a)).unwrap_err();
    assert!(matches!(err, CoachError::NotRunning(_)), "{err:?}");
    let err = ask(&mut c, |a| Request::SetVolume(2.0, a)).unwrap_err();
    assert!(matches!(err, CoachError::InvalidArgument(_)), "{err:?}");
    let err = ask(&mut c, |answer| {
        Request::Schedule(ScheduleRequest::Add {
            when: "in 5m".into(),
            routine: "nonesuch".into(),
            answer,
        })
    })
    .unwrap_err();
    assert!(matches!(err, CoachError::UnknownRoutine(_)), "{err:?}");
    let id = ask_written(&mut c, |answer| {
        Request::Schedule(ScheduleRequest::Add {
            when: "in 5m".into(),
            routine: "short".into(),
            answer,
        })
    })
    .await
    .unwrap();
    let up = ask(&mut c, |a| Request::Schedule(ScheduleRequest::Upcoming(a))).unwrap();
    assert_eq!(up[0].0, id.to_string());
    assert_eq!(up[0].3, "short");
}

#[tokio::test]
async fn a_feed_plan_whose_lead_is_shorter_than_its_routine_is_set_with_a_warning() {
    let (mut c, dir) = coach(ESPEAK).await;
    std::fs::write(
        dir.path().join("config/routines/long.toml"),
        "name = \"long\"\ntitle = \"Long\"\n[[steps]]\ntitle = \"One\"\nsay = \"Slowly.\"\nduration = \"3m\"\n",
    )
    .unwrap();
    read_routines(&mut c).await;
    let routine = c.find_routine("long").unwrap();
    c.preparer.prepare(routine);
    finish_preparation(&mut c, "long").await;
    let plan = |lead: &str| -> HashMap<String, String> {
        [("interval", "3h"), ("lead", lead), ("routine", "long")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let warnings = ask_written(&mut c, |a| {
        Request::Schedule(ScheduleRequest::SetFeedPlan(plan("1m"), a))
    })
    .await
    .unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("shorter than \"long\""),
        "{warnings:?}"
    );
    let warnings = ask_written(&mut c, |a| {
        Request::Schedule(ScheduleRequest::SetFeedPlan(plan("10m"), a))
    })
    .await
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// The most a cue may be handed to the mix late while the state is written to a slow disk;
/// docs/ARCHITECTURE.md states it (a test below keeps the two alike).
const CUE_LATENESS_LIMIT_MS: u64 = 50;

#[test]
fn the_architecture_doc_states_the_cue_lateness_limit() {
    let doc = include_str!("../../../docs/ARCHITECTURE.md");
    assert!(
        doc.contains(&format!("holds it under {CUE_LATENESS_LIMIT_MS} ms")),
        "docs/ARCHITECTURE.md does not say the cue test's limit ({CUE_LATENESS_LIMIT_MS} ms)"
    );
}

/// A slow disk (every write of the state takes 250 ms) while a session plays: feeds logged all
/// through it are written beside the coach, and no cue is handed to the mix more than 50 ms
/// late (with the writes inline, one was 455 ms late).
#[tokio::test]
async fn cues_keep_their_time_while_the_state_is_written_to_a_slow_disk() {
    let (mut c, dir) = coach(ESPEAK).await;
    let steps: String = (1..=4)
        .map(|i| {
            format!("[[steps]]\ntitle = \"Step {i}\"\nsay = \"Part {i}.\"\nduration = \"2s\"\n")
        })
        .collect();
    std::fs::write(
        dir.path().join("config/routines/cues.toml"),
        format!("name = \"cues\"\ntitle = \"Cues\"\n{steps}"),
    )
    .unwrap();
    let (mut store, loaded) = crate::schedule::store::Store::open(&c.paths.data_dir);
    store.slow_for_tests = Some(Duration::from_millis(250));
    let (scheduler, written) = Scheduler::with_store(&c.cfg, store, loaded.state);
    c.agenda = Agenda::new(scheduler, written, c.paths.data_dir.clone());
    let timing = c.cue_timing();
    let (tx, rx) = mpsc::channel(64);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(c.run(rx, stopped));
    let (a, started) = oneshot::channel();
    tx.send(Request::Start("cues".into(), a)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), started)
        .await
        .expect("the session never started")
        .unwrap()
        .unwrap();
    // Log feeds all through the session: the writer is never idle.
    let mut answers = Vec::new();
    let until = Instant::now() + Duration::from_secs(9);
    while Instant::now() < until {
        let (a, r) = oneshot::channel();
        tx.send(Request::Schedule(ScheduleRequest::LogFeed {
            start: jiff::Timestamp::now().as_second() - 60,
            end: None,
            side: "left".into(),
            note: String::new(),
            answer: a,
        }))
        .await
        .unwrap();
        answers.push(r);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    let written = answers
        .into_iter()
        .filter_map(|mut r| r.try_recv().ok())
        .filter(|r| r.is_ok())
        .count();
    use std::sync::atomic::Ordering::Relaxed;
    let played = timing.played.load(Relaxed);
    let worst = timing.worst_us.load(Relaxed);
    eprintln!(
        "{written} slow writes during the session; {played} cues, the latest {worst} µs late"
    );
    assert!(
        written >= 20,
        "only {written} writes were made: the disk was not busy"
    );
    assert!(played >= 6, "only {played} cues played");
    // Inline writes made a cue 455 ms late; on a busy machine a cue can be a few ms late
    // for other reasons (5.4 ms was seen once under CI), so the line is drawn at 50 ms.
    assert!(
        worst <= CUE_LATENESS_LIMIT_MS * 1000,
        "a cue was {worst} µs late"
    );
}

/// Opening the sound device (at a start, and again and again while it is broken) happens
/// beside the coach: every call is answered at once meanwhile, and the start is answered when
/// the output is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sound_device_never_holds_up_an_answer() {
    let (mut c, _dir) = coach(ESPEAK).await;
    let opens = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let open_takes = Duration::from_millis(1500);
    c.audio = Audio::new(
        Box::new(crate::output::TestOutput {
            open_takes,
            opens: Arc::clone(&opens),
            broken: Arc::clone(&broken),
            ..Default::default()
        }),
        0.8,
    );
    let (tx, rx) = mpsc::channel(64);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(c.run(rx, stopped));
    let call = |tx: mpsc::Sender<Request>| async move {
        let asked = Instant::now();
        let (a, r) = oneshot::channel();
        tx.send(Request::ListRoutines(a)).await.unwrap();
        r.await.unwrap().unwrap();
        asked.elapsed()
    };
    let mut worst = Duration::ZERO;
    let asked = Instant::now();
    let (a, mut started) = oneshot::channel();
    tx.send(Request::Start("short".into(), a)).await.unwrap();
    while started.try_recv().is_err() {
        worst = worst.max(call(tx.clone()).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(asked.elapsed() < Duration::from_secs(10), "never started");
    }
    let start_took = asked.elapsed();
    // The sound server goes away mid-session: reopening (slow again) is beside the coach too.
    broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        worst = worst.max(call(tx.clone()).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    let opened = opens.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("start answered after {start_took:?}; {opened} opens; slowest answer {worst:?}");
    assert!(
        start_took >= open_takes,
        "answered before the output was open"
    );
    assert!(opened >= 2, "the broken output was never reopened");
    assert!(
        worst < Duration::from_millis(100),
        "an answer took {worst:?}"
    );
}

/// The bus takes routine names, never paths: a path is not read (before, its parse error came
/// back, with a line of the file), and a stored note has a bound.
#[tokio::test]
async fn routine_paths_are_not_read_and_notes_are_bounded() {
    let (mut c, dir) = coach(ESPEAK).await;
    let secret = dir.path().join("secret.toml");
    std::fs::write(&secret, "name = \"secret\"\ntitle = \"Secret\"\n[[steps]]\ntitle = \"One\"\nsay = \"Hi.\"\nduration = \"3s\"\n").unwrap();
    for name in [
        "../../../../etc/passwd".to_string(),
        secret.display().to_string(),
        "../secret.toml".to_string(),
    ] {
        let err = ask(&mut c, |a| Request::Start(name.clone(), a)).unwrap_err();
        assert!(
            matches!(err, CoachError::UnknownRoutine(_)),
            "{name}: {err:?}"
        );
        assert!(!format!("{err:?}").contains("root:"), "{err:?}");
        let err = ask(&mut c, |answer| {
            Request::Schedule(ScheduleRequest::Add {
                when: "in 10h".into(),
                routine: name.clone(),
                answer,
            })
        })
        .unwrap_err();
        assert!(
            matches!(err, CoachError::UnknownRoutine(_)),
            "{name}: {err:?}"
        );
    }
    let note = "x".repeat(crate::schedule::MAX_NOTE_CHARS + 1);
    let err = ask(&mut c, |answer| {
        Request::Schedule(ScheduleRequest::LogFeed {
            start: jiff::Timestamp::now().as_second(),
            end: None,
            side: "left".into(),
            note,
            answer,
        })
    })
    .unwrap_err();
    assert!(matches!(err, CoachError::InvalidArgument(_)), "{err:?}");
    let note = "x".repeat(crate::schedule::MAX_NOTE_CHARS);
    ask_written(&mut c, |answer| {
        Request::Schedule(ScheduleRequest::LogFeed {
            start: jiff::Timestamp::now().as_second(),
            end: None,
            side: "left".into(),
            note,
            answer,
        })
    })
    .await
    .unwrap();
}

/// A reload reads the config and routines beside the coach: the request is not answered on
/// the coach's task, but once the reading comes back, with the problems found.
#[tokio::test]
async fn a_reload_reads_its_files_beside_the_coach() {
    let (mut c, _dir) = coach(ESPEAK).await;
    std::fs::write(
        c.paths.routines_dir.join("broken.toml"),
        "name = \"broken\"\ntitle = \"B\"\n[[steps]]\ntitle = \"A\"\nsay = \"a\"\nduration = \"0s\"\n",
    )
    .unwrap();
    std::fs::write(c.paths.config_file(), "default_routine = \"short\"\nvolume = 0.5\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n").unwrap();
    let (tx, mut rx) = oneshot::channel();
    c.handle(Request::Reload(tx));
    assert!(rx.try_recv().is_err(), "answered on the coach's task");
    let read = tokio::time::timeout(Duration::from_secs(10), c.reloading.next())
        .await
        .expect("the reading never came back");
    c.on_reloaded(read);
    let problems = rx.try_recv().unwrap().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("broken.toml") && p.contains("duration")),
        "{problems:?}"
    );
    assert_eq!(c.cfg.volume, 0.5, "the new config is in force");
}

/// A routine file written the moment before a start is the one started: the start waits for
/// the routines to be read again beside the coach (it is not answered on the coach's task),
/// then goes on.
#[tokio::test]
async fn a_routine_written_just_before_its_start_is_started() {
    let (mut c, dir) = coach(ESPEAK).await;
    std::fs::write(
        dir.path().join("config/routines/new.toml"),
        "name = \"new\"\ntitle = \"New\"\n[[steps]]\ntitle = \"One\"\nsay = \"Just now.\"\nduration = \"3s\"\n",
    )
    .unwrap();
    let (tx, mut started) = oneshot::channel();
    c.handle(Request::Start("new".into(), tx));
    assert!(
        c.starting.routine().is_none() && !c.deferred.is_empty(),
        "the start did not wait for the routines to be read"
    );
    read_routines(&mut c).await;
    assert_eq!(
        c.starting.routine(),
        Some("new"),
        "the new routine is not starting"
    );
    finish_preparation(&mut c, "new").await;
    settle_start(&mut c).await;
    started.try_recv().unwrap().unwrap();
    assert_eq!(c.on_air.routine(), Some("new"));
}

/// A routine whose cached speech was deleted since it was prepared is prepared again at its
/// start (the check is made beside the coach, with the first sounds' reading), then starts.
#[tokio::test]
async fn a_start_whose_cached_speech_is_gone_prepares_it_again() {
    let (mut c, _dir) = coach(ESPEAK).await;
    finish_preparation(&mut c, "short").await;
    std::fs::remove_dir_all(&c.paths.cache_dir).unwrap();
    let (tx, mut started) = oneshot::channel();
    c.handle(Request::Start("short".into(), tx));
    settle_start(&mut c).await;
    assert!(
        c.starting.waits_for("short"),
        "the start did not go back to preparing its speech"
    );
    finish_preparation(&mut c, "short").await;
    settle_start(&mut c).await;
    started.try_recv().unwrap().unwrap();
    assert!(c.on_air.is_live());
}
