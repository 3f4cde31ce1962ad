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

    /// How long a command waits for letdownd to answer, starting it included (e.g. 5s, 1m).
    /// A `start` whose routine's speech is still being synthesized waits for that too.
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s",
          value_parser = parse_timeout)]
    timeout: std::time::Duration,

    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  letdown start                             start the default routine (letdownd speaks it)
  letdown toggle                            pause or resume: bind this to a key
  letdown next / previous / repeat          move between steps, or hear the step again
  letdown status --follow                   watch the session's progress
  letdown routines                          list the routines you can run
  letdown plan lactation-massage            show when each step starts
  letdown render lactation-massage -o s.wav put a whole session in a WAV file
  letdown check ~/.config/letdown/routines/*.toml
                                            find every mistake in your routines";

#[derive(Subcommand)]
enum Command {
    /// Start a routine in letdownd (the configured default when no ROUTINE is given).
    Start {
        /// A routine name (see `letdown routines`).
        routine: Option<String>,
    },
    /// Stop the session.
    Stop,
    /// Pause the session; sound stops at once and the step's clock holds.
    Pause,
    /// Resume a paused session where it left off.
    Resume,
    /// Pause if running, resume if paused: the one key to bind.
    Toggle,
    /// Skip to the next step.
    Next,
    /// Go back to the previous step.
    Previous,
    /// Say the current step's instruction again (no hands-on time is lost).
    Repeat,
    /// Give the current step more time, e.g. `letdown extend 30s`.
    Extend {
        /// How much longer: 30s, 1m, 1m30s (up to 30 minutes).
        by: String,
    },
    /// Say (and print) which step this is and how much time is left.
    Where,
    /// Show the session's state in one line.
    Status {
        /// Keep showing live progress with a progress bar until the session ends.
        #[arg(long)]
        follow: bool,
        /// Print JSON, for scripts.
        #[arg(long, conflicts_with = "follow")]
        json: bool,
    },
    /// Show or set letdownd's volume (0 to 100).
    Volume {
        /// New volume in percent.
        percent: Option<u32>,
    },
    /// Make letdownd re-read its config and routines.
    Reload,
    /// Log that a feed started (now, or --at / --ago), so the feed plan can predict the next.
    Fed {
        /// When it started, local time HH:MM (today, or yesterday if that is later than now).
        #[arg(long, value_name = "HH:MM", conflicts_with = "ago")]
        at: Option<String>,
        /// How long ago it started, e.g. 20m.
        #[arg(long, value_name = "DURATION")]
        ago: Option<String>,
        /// Which side: left, right or both.
        #[arg(long)]
        side: Option<String>,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// List logged feeds; `feeds delete ID` and `feeds fix ID --at HH:MM` correct mistakes.
    Feeds {
        #[command(subcommand)]
        action: Option<FeedsAction>,
        /// How many recent feeds to show (0 = all).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Print CSV (id,start,side,note) instead.
        #[arg(long)]
        csv: bool,
    },
    /// Show the feed plan, or set it: `feed-plan --interval 3h --lead 10m`.
    FeedPlan {
        /// Start-to-start interval between feeds, e.g. 3h.
        #[arg(long)]
        interval: Option<String>,
        /// Fixed feed times instead, e.g. 06:00,09:30,13:00.
        #[arg(long, value_name = "HH:MM,...")]
        times: Option<String>,
        /// How long before the feed the session starts, e.g. 10m.
        #[arg(long)]
        lead: Option<String>,
        /// The routine (default: the configured default routine).
        #[arg(long)]
        routine: Option<String>,
        /// Quiet hours, e.g. 22:00-06:00.
        #[arg(long, value_name = "HH:MM-HH:MM")]
        quiet_hours: Option<String>,
        /// In quiet hours: skip (default) or quieter.
        #[arg(long)]
        quiet: Option<String>,
        /// Remove the feed plan.
        #[arg(long)]
        clear: bool,
    },
    /// Schedule a session: `schedule at 16:40`, `schedule in 25m`, `schedule daily 06:30`.
    Schedule {
        /// at, in or daily.
        kind: String,
        /// The time (HH:MM) or the delay (25m).
        when: String,
        /// The routine (default: the configured default routine).
        routine: Option<String>,
    },
    /// List what will fire, and why, with ids.
    Upcoming,
    /// Cancel a schedule by id (see `letdown upcoming`), or the feed plan with `plan`.
    Cancel {
        /// The id, or `plan`.
        id: String,
    },
    /// Move the next scheduled session later, e.g. `letdown snooze 5m`.
    Snooze {
        /// How much later.
        by: String,
    },
    /// Skip the next scheduled session.
    Skip,
    /// Print (or install) keyboard shortcuts for your desktop.
    Shortcuts {
        /// gnome, kde, sway, i3 or hyprland (default: detected from XDG_CURRENT_DESKTOP).
        #[arg(long)]
        desktop: Option<String>,
        /// Install them (GNOME: through gsettings); otherwise they are printed.
        #[arg(long, conflicts_with = "remove")]
        install: bool,
        /// Remove letdown's GNOME shortcuts again (scripts/uninstall does this).
        #[arg(long)]
        remove: bool,
    },
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

#[derive(Subcommand)]
enum FeedsAction {
    /// Delete a mistaken feed.
    Delete {
        /// Its id (see `letdown feeds`).
        id: u64,
    },
    /// Correct a feed's start time (and side).
    Fix {
        /// Its id.
        id: u64,
        /// The right start, local HH:MM.
        #[arg(long)]
        at: String,
        /// The right side.
        #[arg(long)]
        side: Option<String>,
    },
}

fn local_time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%a %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| unix.to_string())
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

/// Reads `--timeout`: a duration from 100 ms to an hour.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let d = letdown::duration::parse_duration(text)?;
    if d < std::time::Duration::from_millis(100) || d > std::time::Duration::from_secs(3600) {
        return Err(format!("{text} is outside 100ms to 1h"));
    }
    Ok(d)
}

/// How long a `start` may wait, once letdownd has answered, for its routine's speech.
const PREPARE_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(120);

/// What to say when letdownd did not answer in time.
fn no_answer(timeout: std::time::Duration) -> anyhow::Error {
    anyhow::anyhow!(
        "letdownd did not answer within {}. See why with `systemctl --user status letdownd` \
         and `journalctl --user -u letdownd` (or wait longer with --timeout)",
        show(timeout)
    )
}

/// Starts a routine: the daemon must answer within `timeout` (activation included); then the
/// start may wait longer while the routine's speech is being prepared, saying so.
async fn start_routine(
    p: &letdown::client::CoachProxy<'_>,
    routine: &str,
    timeout: std::time::Duration,
) -> zbus::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let late = || zbus::Error::Failure(no_answer(timeout).to_string());
    // Reaching the daemon (and D-Bus activating it) first, within the timeout.
    tokio::time::timeout_at(deadline, p.state())
        .await
        .map_err(|_| late())??;
    let call = p.start(routine);
    tokio::pin!(call);
    tokio::select! {
        r = &mut call => return r,
        _ = tokio::time::sleep_until(deadline) => {}
    }
    let state = tokio::time::timeout(std::time::Duration::from_millis(250), p.state()).await;
    if !matches!(state, Ok(Ok(ref s)) if s == "preparing") {
        return Err(late());
    }
    eprintln!("letdown: letdownd is preparing the routine's speech; it starts when ready...");
    match tokio::time::timeout(PREPARE_ALLOWANCE, call).await {
        Ok(r) => r,
        Err(_) => Err(zbus::Error::Failure(format!(
            "the routine's speech was not ready within {}; see `journalctl --user -u letdownd`",
            show(PREPARE_ALLOWANCE)
        ))),
    }
}

fn remote(command: Command, timeout: std::time::Duration) -> anyhow::Result<ExitCode> {
    use letdown::client::{CoachProxy, bar, explain, status};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Every call is bounded: a daemon that cannot start (D-Bus activation waits for it for
        // up to two minutes) or hangs never leaves a key press waiting.
        let bounded = !matches!(
            command,
            Command::Start { .. } | Command::Status { follow: true, .. }
        );
        let connect = async {
            let conn = zbus::Connection::session()
                .await
                .map_err(|e| anyhow::anyhow!(explain(&e)))?;
            let p = CoachProxy::new(&conn)
                .await
                .map_err(|e| anyhow::anyhow!(explain(&e)))?;
            anyhow::Ok((conn, p))
        };
        let (_conn, p) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| no_answer(timeout))??;
        let call = async {
            match command {
                Command::Start { routine } => {
                    start_routine(&p, routine.as_deref().unwrap_or(""), timeout).await
                }
                Command::Stop => p.stop().await,
                Command::Pause => p.pause().await,
                Command::Resume => p.resume().await,
                Command::Toggle => p.toggle_pause().await,
                Command::Next => p.next().await,
                Command::Previous => p.previous().await,
                Command::Repeat => p.repeat().await,
                Command::Extend { by } => {
                    let d = letdown::duration::parse_duration(&by)
                        .map_err(|e| zbus::Error::Failure(format!("extend: {e}")))?;
                    p.extend(d.as_secs().min(u32::MAX as u64) as u32).await
                }
                Command::Where => {
                    println!("{}", p.where_am_i().await?);
                    Ok(())
                }
                Command::Status {
                    follow: false,
                    json,
                } => {
                    let s = status(&p).await?;
                    if json {
                        println!("{}", serde_json::to_string(&s).expect("status serializes"));
                    } else {
                        println!("{}", s.line());
                    }
                    Ok(())
                }
                Command::Status { follow: true, .. } => loop {
                    let s = tokio::time::timeout(timeout, status(&p))
                        .await
                        .map_err(|_| zbus::Error::Failure(no_answer(timeout).to_string()))??;
                    if s.state == "idle" {
                        println!("\r\x1b[2Kidle");
                        return Ok(());
                    }
                    let elapsed = std::time::Duration::from_millis(
                        s.length_ms.saturating_sub(s.remaining_ms),
                    );
                    let b = bar(elapsed, std::time::Duration::from_millis(s.length_ms), 20);
                    print!(
                        "\r\x1b[2K{} {}",
                        if s.state == "idle" { "" } else { &b },
                        s.line()
                    );
                    use std::io::Write;
                    let _ = std::io::stdout().flush();
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                },
                Command::Volume { percent: None } => {
                    println!("{}%", (p.volume().await? * 100.0).round());
                    Ok(())
                }
                Command::Volume { percent: Some(v) } => {
                    if v > 100 {
                        return Err(zbus::Error::Failure("volume: give 0 to 100".into()));
                    }
                    p.set_volume(v as f64 / 100.0).await
                }
                Command::Reload => {
                    let problems = p.reload().await?;
                    for pr in &problems {
                        println!("{pr}");
                    }
                    if problems.is_empty() {
                        eprintln!("letdown: reloaded; no problems");
                    }
                    Ok(())
                }
                Command::Fed { at, ago, side, note } => {
                    let now = jiff::Timestamp::now();
                    let fail = |e: String| zbus::Error::Failure(e);
                    let start = match (at, ago) {
                        (Some(hm), _) => letdown::schedule::last_local(now, &jiff::tz::TimeZone::system(), letdown::schedule::parse_hm(&hm).map_err(fail)?),
                        (None, Some(a)) => now - jiff::SignedDuration::from_secs(letdown::duration::parse_duration(&a).map_err(fail)?.as_secs() as i64),
                        (None, None) => now,
                    };
                    let id = p.log_feed(start.as_second(), side.as_deref().unwrap_or(""), note.as_deref().unwrap_or("")).await?;
                    println!("feed {id} logged at {}", local_time(start.as_second()));
                    Ok(())
                }
                Command::Feeds { action: Some(FeedsAction::Delete { id }), .. } => p.delete_feed(id).await,
                Command::Feeds { action: Some(FeedsAction::Fix { id, at, side }), .. } => {
                    let now = jiff::Timestamp::now();
                    let hm = letdown::schedule::parse_hm(&at).map_err(zbus::Error::Failure)?;
                    let start = letdown::schedule::last_local(now, &jiff::tz::TimeZone::system(), hm);
                    p.correct_feed(id, start.as_second(), side.as_deref().unwrap_or("")).await
                }
                Command::Feeds { action: None, limit, csv } => {
                    let feeds = p.list_feeds(limit).await?;
                    if csv {
                        println!("id,start,side,note");
                        for (id, at, side, note) in feeds {
                            let start = jiff::Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default();
                            println!("{id},{start},{side},\"{}\"", note.replace('"', "\"\""));
                        }
                    } else if feeds.is_empty() {
                        println!("no feeds logged yet; `letdown fed` logs one");
                    } else {
                        for (id, at, side, note) in feeds {
                            println!("{id:>4}  {}  {side:<5}  {note}", local_time(at));
                        }
                    }
                    Ok(())
                }
                Command::FeedPlan { interval, times, lead, routine, quiet_hours, quiet, clear } => {
                    let mut map = std::collections::HashMap::new();
                    for (k, v) in [("interval", interval), ("times", times), ("lead", lead), ("routine", routine), ("quiet_hours", quiet_hours), ("quiet", quiet)] {
                        if let Some(v) = v {
                            map.insert(k.to_string(), v);
                        }
                    }
                    if clear || !map.is_empty() {
                        for w in p.set_feed_plan(map).await? {
                            eprintln!("letdown: warning: {w}");
                        }
                    }
                    let plan = p.feed_plan().await?;
                    if plan.is_empty() {
                        println!("no feed plan; set one with `letdown feed-plan --interval 3h --lead 10m`");
                    } else {
                        let mut keys: Vec<_> = plan.into_iter().collect();
                        keys.sort();
                        for (k, v) in keys {
                            println!("{k} = {v}");
                        }
                    }
                    Ok(())
                }
                Command::Schedule { kind, when, routine } => {
                    let id = p.schedule(&format!("{kind} {when}"), routine.as_deref().unwrap_or("")).await?;
                    println!("scheduled: id {id}");
                    Ok(())
                }
                Command::Upcoming => {
                    let up = p.upcoming().await?;
                    if up.is_empty() {
                        println!("nothing scheduled");
                    }
                    const SHOWN: usize = 12;
                    for (id, at, why, routine) in up.iter().take(SHOWN) {
                        println!("{id:>5}  {}  {routine:<20} {why}", local_time(*at));
                    }
                    if up.len() > SHOWN {
                        println!("  ... and {} more in the next three days", up.len() - SHOWN);
                    }
                    Ok(())
                }
                Command::Cancel { id } => p.cancel(&id).await,
                Command::Snooze { by } => {
                    let d = letdown::duration::parse_duration(&by).map_err(zbus::Error::Failure)?;
                    p.snooze(d.as_secs().min(u32::MAX as u64) as u32).await
                }
                Command::Skip => p.skip().await,
                _ => unreachable!("local command"),
            }
        };
        let result: zbus::Result<()> = if bounded {
            match tokio::time::timeout(timeout, call).await {
                Ok(r) => r,
                Err(_) => return Err(no_answer(timeout)),
            }
        } else {
            call.await
        };
        if result.is_ok()
            && let Ok(Ok(notices)) = tokio::time::timeout(timeout, p.take_notices()).await
        {
            for n in notices {
                eprintln!("letdown: note: {n}");
            }
        }
        result.map(|()| ExitCode::SUCCESS).map_err(|e| match e {
            zbus::Error::Failure(m) => anyhow::anyhow!(m),
            e => anyhow::anyhow!(explain(&e)),
        })
    })
}

fn run(cli: Cli, paths: &Paths) -> anyhow::Result<ExitCode> {
    match cli.command {
        c @ (Command::Start { .. }
        | Command::Stop
        | Command::Pause
        | Command::Resume
        | Command::Toggle
        | Command::Next
        | Command::Previous
        | Command::Repeat
        | Command::Extend { .. }
        | Command::Where
        | Command::Status { .. }
        | Command::Volume { .. }
        | Command::Reload
        | Command::Fed { .. }
        | Command::Feeds { .. }
        | Command::FeedPlan { .. }
        | Command::Schedule { .. }
        | Command::Upcoming
        | Command::Cancel { .. }
        | Command::Snooze { .. }
        | Command::Skip) => remote(c, cli.timeout),
        Command::Shortcuts { remove: true, .. } => {
            letdown::shortcuts::remove().map(|()| ExitCode::SUCCESS)
        }
        Command::Shortcuts {
            desktop, install, ..
        } => letdown::shortcuts::run(desktop, install).map(|()| ExitCode::SUCCESS),
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
            )
            .map_err(anyhow::Error::msg)?;
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

fn sound_name(sound: Sound) -> String {
    match sound {
        Sound::Tone(e) => format!("tone:{}", e.name()),
        Sound::Prompt(i) => format!("prompt:{}", i + 1),
        Sound::Phrase(p) => format!("phrase:{}", p.text()),
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
