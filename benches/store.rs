//! Benchmark: the state store with years of feeds.
//!
//! Prints figures; asserts nothing. Run with `cargo bench --bench store`.
//! Targets (issue 9): 5 years at 10 feeds a day load in under 50 ms; one change is durable in
//! under 20 ms. For comparison it also times what the JSON store of earlier versions did on
//! every change (serialize everything, write, flush).

use std::io::Write;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use letdown::schedule::store::Store;
use letdown::schedule::{Rule, Side, State};

const FEEDS: i64 = 5 * 365 * 10;

fn years_of_feeds() -> State {
    let mut st = State::default();
    let start = Timestamp::now().as_second() - FEEDS * 8640;
    for i in 0..FEEDS {
        let at = Timestamp::from_second(start + i * 8640).unwrap();
        let side = [Side::Left, Side::Right, Side::Both][i as usize % 3];
        let note = if i % 7 == 0 { "sleepy, short feed" } else { "" };
        st.log_feed(at, at, None, side, note);
    }
    let now = Timestamp::now();
    st.add_schedule(
        now,
        Rule::Daily {
            hour: 6,
            minute: 30,
        },
        "",
    );
    st
}

fn figures(name: &str, mut runs: Vec<Duration>) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<44} median {:>7.2} ms   worst {:>7.2} ms   ({} runs)",
        ms(runs[runs.len() / 2]),
        ms(*runs.last().unwrap()),
        runs.len()
    );
}

fn main() {
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("temp dir");
    let state = years_of_feeds();
    println!(
        "{} feeds (5 years at 10 a day), in {}",
        state.feeds.len(),
        dir.path().display()
    );

    // Migration from the JSON file of earlier versions (once per machine).
    let json = serde_json::to_vec_pretty(&state).unwrap();
    std::fs::write(dir.path().join("state.json"), &json).unwrap();
    let t = Instant::now();
    let (_, loaded) = Store::open(dir.path());
    let migrate = t.elapsed();
    assert_eq!(loaded.state.feeds.len(), state.feeds.len());
    println!(
        "{:<44} {:>7.2} ms (JSON file of {:.1} MB)",
        "migrating state.json (once)",
        migrate.as_secs_f64() * 1000.0,
        json.len() as f64 / 1e6
    );

    let loads = (0..10)
        .map(|_| {
            let t = Instant::now();
            let (_, loaded) = Store::open(dir.path());
            let took = t.elapsed();
            assert_eq!(loaded.state.feeds.len(), state.feeds.len());
            took
        })
        .collect();
    figures("load (target < 50 ms)", loads);

    let (mut store, loaded) = Store::open(dir.path());
    let mut current = loaded.state;
    let mut changes = Vec::new();
    let mut clones = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        let mut next = current.clone();
        clones.push(t.elapsed());
        let now = Timestamp::now();
        next.log_feed(now, now, None, Side::Left, &format!("bench {i}"));
        let t = Instant::now();
        store.save(next.clone()).expect("save");
        changes.push(t.elapsed());
        current = next;
    }
    figures("one feed logged, durable (target < 20 ms)", changes);
    figures("  (the scheduler's copy of the state)", clones);

    let mut old = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let bytes = serde_json::to_vec_pretty(&current).unwrap();
        let mut f = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        f.write_all(&bytes).unwrap();
        f.as_file().sync_all().unwrap();
        f.persist(dir.path().join("old.json")).unwrap();
        std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
        old.push(t.elapsed());
    }
    figures("the JSON store's change, for comparison", old);
    let t = Instant::now();
    let _: State =
        serde_json::from_slice(&std::fs::read(dir.path().join("old.json")).unwrap()).unwrap();
    println!(
        "{:<44} {:>7.2} ms",
        "the JSON store's load, for comparison",
        t.elapsed().as_secs_f64() * 1000.0
    );
}
