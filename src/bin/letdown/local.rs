//! The commands run here, without letdownd: routines, checks, plans, rendering, preparing,
//! tones, shortcuts and completions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;

use letdown::clip::{to_samples, write_wav};
use letdown::config::Config;
use letdown::duration::{clock, show};
use letdown::paths::Paths;
use letdown::plan::{Plan, Sound};
use letdown::prepare::{Ready, prepare};
use letdown::render::{Levels, render};
use letdown::routine::{Library, RoutineSource};
use letdown::tones::Earcon;

use crate::cli::{Cli, Local};

/// The least time `voices try` waits: a voice tried for the first time may load a model.
const VOICE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a local command; `config` is `--config`, `timeout` is `--timeout` (for the few that
/// ask letdownd something: voices, record).
pub fn run(
    command: Local,
    config: &Option<PathBuf>,
    paths: &Paths,
    timeout: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    match command {
        Local::BabyBuddy { action } => crate::babybuddy::run(action, config, paths, timeout)?,
        Local::Shortcuts { remove: true, .. } => letdown::shortcuts::remove()?,
        Local::Shortcuts {
            desktop, install, ..
        } => letdown::shortcuts::run(desktop, install)?,
        Local::Routines => routines(paths),
        Local::Check { files } => return check(files, config, paths),
        Local::Plan { routine, json } => plan(&routine, json, config, paths)?,
        Local::Render { routine, output } => render_wav(&routine, &output, config, paths)?,
        Local::Prepare { routine } => prepare_now(&routine, config, paths)?,
        Local::Tones { dir } => tones(&dir, config, paths)?,
        Local::Voices { action, all } => {
            crate::voices::run(action, all, config, paths, timeout.max(VOICE_TIMEOUT))?
        }
        Local::Record {
            routine,
            redo,
            count_in,
            source,
            max,
        } => crate::record::run(
            &routine,
            crate::record::Takes {
                redo,
                count_in,
                source,
                max,
            },
            config,
            paths,
            timeout,
        )?,
        Local::Completions { shell } => clap_complete::generate(
            shell,
            &mut Cli::command(),
            "letdown",
            &mut std::io::stdout(),
        ),
        Local::Man { dir } => man_pages(&dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes letdown(1), letdown-COMMAND(1) for every command and letdownd(1) into `dir`.
fn man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let written =
        |e: std::io::Error| anyhow::anyhow!("writing the manual pages into {}: {e}", dir.display());
    clap_mangen::generate_to(Cli::command(), dir).map_err(written)?;
    clap_mangen::Man::new(letdown::daemon::args::Args::command())
        .generate_to(dir)
        .map_err(written)?;
    Ok(())
}

fn routines(paths: &Paths) {
    let lib = Library::new(paths.clone());
    for e in lib.list() {
        let from = match &e.source {
            RoutineSource::BuiltIn => "built-in".to_string(),
            RoutineSource::File(p) => p.display().to_string(),
        };
        match &e.routine {
            Ok(r) => println!(
                "{:<22} {:<34} {:>3} steps, {:>6} hands-on  ({from})",
                r.name,
                r.title,
                r.steps.len(),
                show(r.hands_on_total())
            ),
            Err(errs) => println!(
                "{:<22} BROKEN: {} problem(s); run `letdown check {from}`",
                e.name,
                errs.len()
            ),
        }
    }
}

fn plan(routine: &str, json: bool, config: &Option<PathBuf>, paths: &Paths) -> anyhow::Result<()> {
    let cfg = load_config(config, paths)?;
    let r = ready(routine, &cfg, paths)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan_json(&r, &paths.data_dir))?
        );
    } else {
        print_plan(&r.plan, &r, &paths.data_dir);
    }
    Ok(())
}

fn render_wav(
    routine: &str,
    output: &std::path::Path,
    config: &Option<PathBuf>,
    paths: &Paths,
) -> anyhow::Result<()> {
    let cfg = load_config(config, paths)?;
    let r = ready(routine, &cfg, paths)?;
    let started = std::time::Instant::now();
    let levels = Levels {
        volume: cfg.volume as f32,
        earcons: cfg.earcon_volume as f32,
    };
    let out = render(&r, levels).map_err(anyhow::Error::msg)?;
    write_wav(output, &out.samples).map_err(anyhow::Error::msg)?;
    eprintln!(
        "letdown: wrote {} ({} of audio, {} steps) in {}",
        output.display(),
        show(r.plan.total()),
        r.plan.steps.len(),
        show(started.elapsed())
    );
    Ok(())
}

fn prepare_now(routine: &str, config: &Option<PathBuf>, paths: &Paths) -> anyhow::Result<()> {
    let cfg = load_config(config, paths)?;
    let r = ready(routine, &cfg, paths)?;
    println!(
        "{}: ready ({} texts synthesized, the rest cached) in {}",
        r.routine.name,
        r.synthesized,
        show(r.took)
    );
    Ok(())
}

fn tones(dir: &std::path::Path, config: &Option<PathBuf>, paths: &Paths) -> anyhow::Result<()> {
    let cfg = load_config(config, paths)?;
    std::fs::create_dir_all(dir)?;
    for e in Earcon::ALL {
        let path = dir.join(format!("{}.wav", e.name()));
        cfg.earcons
            .render(e)
            .write_wav(&path)
            .map_err(anyhow::Error::msg)?;
        println!("{}", path.display());
    }
    Ok(())
}

pub fn load_config(cli_path: &Option<PathBuf>, paths: &Paths) -> anyhow::Result<Config> {
    let path = cli_path.clone().unwrap_or_else(|| paths.config_file());
    if cli_path.is_some() && !path.exists() {
        anyhow::bail!("config file {} does not exist", path.display());
    }
    Config::load(&path)
        .map(|c| c.on_this_machine(paths))
        .map_err(|e| anyhow::anyhow!("problems in the config file:\n{e}"))
}

fn ready(name: &str, cfg: &Config, paths: &Paths) -> anyhow::Result<Ready> {
    let lib = Library::new(paths.clone());
    let routine = lib.find(name)?;
    let ready = prepare(routine, cfg, paths)?;
    for w in &ready.warnings {
        eprintln!("letdown: warning: {w}");
    }
    Ok(ready)
}

/// Says so when a routine asks for a Festival voice that is not installed here (another
/// voice will speak it); not an error, since the file may be right for another machine.
fn warn_if_not_installed(file: &std::path::Path, r: &letdown::routine::Routine) {
    let (Some(letdown::voice::EngineKind::Festival), Some(voice)) =
        (r.voice.engine, &r.voice.voice)
    else {
        return;
    };
    if let Some(installed) = letdown::voice::festival::installed_voices()
        && !installed.contains(voice)
    {
        println!(
            "{}: voice.voice: warning: the Festival voice \"{voice}\" is not installed here (installed: {}); the fallback voice will speak",
            file.display(),
            if installed.is_empty() {
                "none".to_string()
            } else {
                installed.join(", ")
            }
        );
    }
}

fn check(files: Vec<PathBuf>, config: &Option<PathBuf>, paths: &Paths) -> anyhow::Result<ExitCode> {
    let lib = Library::new(paths.clone());
    let mut problems = 0usize;
    let files = if files.is_empty() {
        let cfg_path = config.clone().unwrap_or_else(|| paths.config_file());
        if let Err(e) = Config::load(&cfg_path) {
            problems += e.0.len();
            println!("{e}");
        }
        let mut v: Vec<PathBuf> = std::fs::read_dir(&paths.routines_dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    } else {
        files
    };
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    let mut ok = 0usize;
    for f in &files {
        let entry = lib.load_file(f);
        match entry.routine {
            Ok(r) => {
                warn_if_not_installed(f, &r);
                if let Some(first) = names.get(&r.name) {
                    problems += 1;
                    println!(
                        "{}:1:1: name: duplicate routine name \"{}\", also used by {}",
                        f.display(),
                        r.name,
                        first.display()
                    );
                } else {
                    names.insert(r.name.clone(), f.clone());
                    ok += 1;
                }
            }
            Err(errs) => {
                problems += errs.len();
                for e in errs {
                    println!("{e}");
                }
            }
        }
    }
    if problems > 0 {
        eprintln!(
            "letdown: {problems} problem(s) found; {ok} of {} routine file(s) are fine",
            files.len()
        );
        Ok(ExitCode::FAILURE)
    } else {
        eprintln!(
            "letdown: {} routine file(s) checked, no problems",
            files.len()
        );
        Ok(ExitCode::SUCCESS)
    }
}

fn sound_name(sound: Sound) -> String {
    match sound {
        Sound::Tone(e) => format!("tone:{}", e.name()),
        Sound::Prompt(i) => format!("prompt:{}", i + 1),
        Sound::Phrase(p) => format!("phrase:{}", p.text()),
        Sound::Repeated(i) => format!("repeated:{}", i + 1),
    }
}

/// Where a step's prompt comes from: `recorded` (by `letdown record`), `audio` (the
/// routine's own file) or `speech` (synthesized).
fn prompt_source(r: &Ready, i: usize, data_dir: &std::path::Path) -> &'static str {
    match r.routine.steps.get(i).and_then(|s| s.audio.as_deref()) {
        Some(a) if letdown::recordings::is_recording(data_dir, a) => "recorded",
        Some(_) => "audio",
        None => "speech",
    }
}

fn print_plan(plan: &Plan, r: &Ready, data_dir: &std::path::Path) {
    println!("{} ({})", plan.title, plan.routine);
    println!(
        "{:>3}  {:<32} {:>10} {:>8} {:>9}  voice",
        "#", "step", "starts", "prompt", "hands-on"
    );
    let mut start = std::time::Duration::ZERO;
    for (i, s) in plan.steps.iter().enumerate() {
        let hands_on = if s.open {
            format!("{}+", show(s.hands_on))
        } else {
            show(s.hands_on)
        };
        println!(
            "{:>3}  {:<32} {:>10} {:>8} {:>9}  {}",
            i + 1,
            s.title,
            clock(start),
            show(s.prompt_len),
            hands_on,
            prompt_source(r, i, data_dir)
        );
        start += s.length;
    }
    println!(
        "total {} ({} hands-on)",
        clock(plan.total()),
        show(r.routine.hands_on_total())
    );
    if plan.steps.iter().any(|s| s.open) {
        println!(
            "(+ a step that lasts until you say next: no fixed length; shown and rendered at {})",
            show(letdown::routine::OPEN_STEP_SHOWN)
        );
    }
}

fn plan_json(r: &Ready, data_dir: &std::path::Path) -> serde_json::Value {
    let plan = &r.plan;
    let mut start = std::time::Duration::ZERO;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let steps: Vec<serde_json::Value> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let cues: Vec<serde_json::Value> = s
                .cues
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "sound": sound_name(c.sound),
                        "at_ms": ms(start + c.at),
                        "at_sample": to_samples(start + c.at),
                        "len_ms": ms(c.len),
                        "len_samples": to_samples(c.len),
                    })
                })
                .collect();
            let v = serde_json::json!({
                "title": s.title,
                "start_ms": ms(start),
                "start_sample": to_samples(start),
                "prompt_ms": ms(s.prompt_len),
                "prompt_source": prompt_source(r, i, data_dir),
                "hands_on_start_ms": ms(start + s.hands_on_start),
                "hands_on_ms": ms(s.hands_on),
                "open": s.open,
                "length_ms": ms(s.length),
                "cues": cues,
            });
            start += s.length;
            v
        })
        .collect();
    serde_json::json!({
        "routine": plan.routine,
        "title": plan.title,
        "total_ms": ms(plan.total()),
        "total_samples": to_samples(plan.total()),
        "sample_rate": letdown::clip::SAMPLE_RATE,
        "steps": steps,
    })
}
