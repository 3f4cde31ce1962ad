//! The coach without D-Bus: requests go in over its channel, a WAV file stands in for the
//! sound device, and speech comes from espeak-ng (fast) into a temporary cache.

use super::*;

/// A coach in a temporary home, with `config` as its config file text.
fn coach(config: &str) -> (Coach, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_dir: dir.path().join("config"),
        routines_dir: dir.path().join("config/routines"),
        cache_dir: dir.path().join("cache"),
        audio_dirs: vec![],
        data_dir: dir.path().join("data"),
    };
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
    (Coach::new(paths, cfg, output, snap, sig), dir)
}

const ESPEAK: &str = "default_routine = \"short\"\nvolume = 0.8\n[schedule]\nquiet_volume = 0.3\n[voice]\nengine = \"espeak-ng\"\nfallback = []\n";

/// Prepares `short` and returns it, as a preparation beside the coach would.
fn ready(c: &Coach) -> Arc<Ready> {
    let routine = c.find_routine("short").unwrap();
    Arc::new(prepare(routine, &c.cfg, &c.paths).unwrap())
}

#[tokio::test]
async fn a_volume_set_during_a_quiet_session_is_kept_after_it() {
    let (mut c, _dir) = coach(ESPEAK);
    let r = ready(&c);
    c.begin(r, Starter::Scheduled { quiet: true });
    assert!(c.live.is_some(), "the session did not start");
    assert_eq!(c.mix.lock().unwrap().volume(), 0.3, "quiet volume");
    c.handle(Command::SetVolume(0.9)).await.unwrap();
    assert_eq!(c.mix.lock().unwrap().volume(), 0.9);
    c.handle(Command::Stop).await.unwrap();
    assert!(c.drain_events(), "the session ended");
    assert_eq!(
        c.mix.lock().unwrap().volume(),
        0.9,
        "the end of the quiet session undid the user's volume"
    );
}

#[tokio::test]
async fn a_quiet_session_goes_back_to_the_users_volume() {
    let (mut c, _dir) = coach(ESPEAK);
    let r = ready(&c);
    c.begin(r, Starter::Scheduled { quiet: true });
    c.handle(Command::Stop).await.unwrap();
    c.drain_events();
    assert_eq!(c.mix.lock().unwrap().volume(), 0.8);
}

#[tokio::test]
async fn where_am_i_past_the_phrase_bank_is_still_spoken() {
    let (mut c, _dir) = coach(ESPEAK);
    let r = ready(&c);
    c.begin(r, Starter::Client(oneshot::channel().0));
    assert!(c.live.is_some());
    // 30 s planned, 10 minutes more: no "ten minutes left" was prepared.
    c.handle(Command::Extend(600)).await.unwrap();
    let text = match c.handle(Command::WhereAmI).await.unwrap() {
        Reply::Text(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(text.contains("ten minutes"), "{text}");
    let late = tokio::time::timeout(Duration::from_secs(20), c.spoken_rx.recv())
        .await
        .expect("the missing phrase was never synthesized")
        .expect("a clip");
    assert!(late.1.duration() > Duration::from_millis(500));
    c.mix.lock().unwrap().interrupt();
    c.play_late_phrase(late.0, late.1);
    assert!(
        !c.mix.lock().unwrap().is_silent(),
        "the phrase was not played"
    );
}
