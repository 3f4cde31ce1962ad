//! `letdown`: the command-line tool. Checks, plans and renders routines; later also the remote
//! control of the daemon.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use letdown::clip::{to_samples, write_wav};
use letdown::config::Config;
use letdown::duration::{clock, show};
use letdown::paths::Paths;
use letdown::plan::{Plan, Sound};
use letdown::prepare::{Ready, prepare};
use letdown::render::{Levels, render};
use letdown::routine::{Library, RoutineSource};
use letdown::tones::Earcon;

/// A calm voice that walks you through a timed routine, step by step, with soft tones between.
///
/// Routines are TOML files: built-in ones (`letdown routines` lists them) and your own in
/// ~/.config/letdown/routines/. Settings live in ~/.config/letdown/config.toml.
#[derive(Parser)]
#[command(name = "letdown", version, about, long_about, after_help = EXAMPLES)]
struct Cli {
    /// Read settings from this file instead of ~/.config/letdown/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  letdown routines                          list the routines you can run
  letdown plan lactation-massage            show when each step starts
  letdown render lactation-massage -o s.wav put a whole session in a WAV file
  letdown check ~/.config/letdown/routines/*.toml
                                            find every mistake in your routines";

#[derive(Subcommand)]
enum Command {
    /// List the routines you can run (your own replace built-in ones of the same name).
    Routines,
    /// Check routine files and report every problem with its file, line and column.
    ///
    /// Exits with status 1 if any file has a problem. With no FILE, checks your config and every
    /// routine in ~/.config/letdown/routines/.
    Check {
        /// Routine files to check.
        files: Vec<PathBuf>,
    },
    /// Print a routine's timeline: when each step starts, how long its prompt and hands-on
    /// time are, and the total.
    ///
    /// Prompts are synthesized first (or taken from the cache) since their lengths set the
    /// timeline.
    Plan {
        /// A routine name or a path to a .toml file.
        routine: String,
        /// Print the full plan, every cue included, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Render a whole session into a WAV file (48 kHz mono), every sound at its exact time.
    Render {
        /// A routine name or a path to a .toml file.
        routine: String,
        /// The WAV file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Synthesize and cache every prompt of a routine now, so it starts without delay later.
    Prepare {
        /// A routine name or a path to a .toml file.
        routine: String,
    },
    /// Write the earcons (tones) as WAV files into a directory, to listen to or reuse.
    Tones {
        /// Directory to write into (created if missing).
        dir: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::from_env();
    match run(cli, &paths) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("letdown: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli_path: &Option<PathBuf>, paths: &Paths) -> anyhow::Result<Config> {
    let path = cli_path.clone().unwrap_or_else(|| paths.config_file());
    if cli_path.is_some() && !path.exists() {
        anyhow::bail!("config file {} does not exist", path.display());
    }
    Config::load(&path).map_err(|e| anyhow::anyhow!("problems in the config file:\n{e}"))
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

fn run(cli: Cli, paths: &Paths) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Routines => {
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { files } => check(files, &cli.config, paths),
        Command::Plan { routine, json } => {
            let cfg = load_config(&cli.config, paths)?;
            let r = ready(&routine, &cfg, paths)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan_json(&r))?);
            } else {
                print_plan(&r.plan, &r);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { routine, output } => {
            let cfg = load_config(&cli.config, paths)?;
            let r = ready(&routine, &cfg, paths)?;
            let started = std::time::Instant::now();
            let out = render(
                &r,
                Levels {
                    volume: cfg.volume as f32,
                    earcons: cfg.earcon_volume as f32,
                },
            );
            write_wav(&output, &out.samples).map_err(anyhow::Error::msg)?;
            eprintln!(
                "letdown: wrote {} ({} of audio, {} steps) in {}",
                output.display(),
                show(r.plan.total()),
                r.plan.steps.len(),
                show(started.elapsed())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Prepare { routine } => {
            let cfg = load_config(&cli.config, paths)?;
            let r = ready(&routine, &cfg, paths)?;
            println!(
                "{}: ready ({} texts synthesized, the rest cached) in {}",
                r.routine.name,
                r.synthesized,
                show(r.took)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tones { dir } => {
            let cfg = load_config(&cli.config, paths)?;
            std::fs::create_dir_all(&dir)?;
            for e in Earcon::ALL {
                let path = dir.join(format!("{}.wav", e.name()));
                cfg.earcons
                    .render(e)
                    .write_wav(&path)
                    .map_err(anyhow::Error::msg)?;
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "letdown",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
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

fn sound_name(sound: Sound, r: &Ready) -> String {
    match sound {
        Sound::Tone(e) => format!("tone:{}", e.name()),
        Sound::Prompt(i) => format!("prompt:{}", i + 1),
        Sound::Phrase(p) => {
            let _ = r;
            format!("phrase:{}", p.text())
        }
    }
}

fn print_plan(plan: &Plan, r: &Ready) {
    println!("{} ({})", plan.title, plan.routine);
    println!(
        "{:>3}  {:<32} {:>10} {:>8} {:>9}",
        "#", "step", "starts", "prompt", "hands-on"
    );
    let mut start = std::time::Duration::ZERO;
    for (i, s) in plan.steps.iter().enumerate() {
        let side = r.routine.steps[i]
            .side
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        let _ = side;
        println!(
            "{:>3}  {:<32} {:>10} {:>8} {:>9}",
            i + 1,
            s.title,
            clock(start),
            show(s.prompt_len),
            show(s.hands_on)
        );
        start += s.length;
    }
    println!(
        "total {} ({} hands-on)",
        clock(plan.total()),
        show(r.routine.hands_on_total())
    );
}

fn plan_json(r: &Ready) -> serde_json::Value {
    let plan = &r.plan;
    let mut start = std::time::Duration::ZERO;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let steps: Vec<serde_json::Value> = plan
        .steps
        .iter()
        .map(|s| {
            let cues: Vec<serde_json::Value> = s
                .cues
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "sound": sound_name(c.sound, r),
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
                "hands_on_start_ms": ms(start + s.hands_on_start),
                "hands_on_ms": ms(s.hands_on),
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
