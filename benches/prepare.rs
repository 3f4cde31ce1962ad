//! Benchmark: preparing the full routine (cold and warm speech cache) and rendering it.
//!
//! Prints figures; asserts nothing. Run with `cargo bench --bench prepare`.
//! Targets (issue 2): cold under 20 s on 2 cores, warm under 100 ms, render far faster than
//! real time.

use std::time::Instant;

use letdown::config::Config;
use letdown::paths::Paths;
use letdown::prepare::prepare;
use letdown::render::{Levels, render};
use letdown::routine::Library;

fn main() {
    let cache = tempfile::tempdir().expect("temp dir");
    let config = tempfile::tempdir().expect("temp dir");
    let paths = Paths {
        config_dir: config.path().to_path_buf(),
        routines_dir: config.path().join("routines"),
        shared_routines_dirs: Vec::new(),
        cache_dir: cache.path().to_path_buf(),
        audio_dirs: Vec::new(),
        data_dir: config.path().join("data"),
    };
    let cfg = Config::default();
    let lib = Library::new(paths.clone());
    for name in ["lactation-massage", "quick-before-feed"] {
        let routine = lib.find(name).expect("built-in routine");
        let texts = routine.steps.len();
        let cold = prepare(routine.clone(), &cfg, &paths).expect("cold prepare");
        let mut warm_runs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let warm = prepare(routine.clone(), &cfg, &paths).expect("warm prepare");
            assert_eq!(warm.synthesized, 0);
            warm_runs.push(t.elapsed());
        }
        warm_runs.sort();
        let t = Instant::now();
        let out = render(
            &cold,
            Levels {
                volume: 0.8,
                earcons: 0.8,
            },
        )
        .expect("render");
        let render_time = t.elapsed();
        let audio = cold.plan.total();
        println!(
            "{name}: {texts} prompts + phrase bank = {} texts via {}; cold prepare {:.2} s; warm prepare median {:.1} ms; render {:.0} ms for {:.0} s of audio ({:.0}x real time, {} samples)",
            cold.synthesized,
            cfg.voice.engine,
            cold.took.as_secs_f64(),
            warm_runs[2].as_secs_f64() * 1000.0,
            render_time.as_secs_f64() * 1000.0,
            audio.as_secs_f64(),
            audio.as_secs_f64() / render_time.as_secs_f64(),
            out.samples.len()
        );
    }
}
