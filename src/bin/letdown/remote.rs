//! The commands letdownd answers: one function each, every call bounded by `--timeout`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow};

use letdown::client::{CoachProxy, bar, explain, status};
use letdown::duration::show;
use letdown::schedule::HourMinute;

use crate::cli::{FeedsAction, PumpingsAction, Remote};

/// How long a `start` may wait, once letdownd has answered, for its routine's speech.
const PREPARE_ALLOWANCE: Duration = Duration::from_secs(120);

/// A D-Bus error, said for a person; letdownd's own errors keep their name to match on
/// ([`letdown::client::Refusal`]).
fn said(e: zbus::Error) -> anyhow::Error {
    match letdown::client::refusal(&e) {
        Some(r) => anyhow::Error::new(r),
        None => anyhow!(explain(&e)),
    }
}

/// letdownd did not answer in time: after it, nothing more is asked of it (each further call
/// would wait as long again).
#[derive(Debug)]
struct NoAnswer(Duration);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "letdownd did not answer within {}. See why with `systemctl --user status letdownd` \
             and `journalctl --user -u letdownd` (or wait longer with --timeout)",
            show(self.0)
        )
    }
}

impl std::error::Error for NoAnswer {}

/// What to say when letdownd did not answer in time.
fn no_answer(timeout: Duration) -> anyhow::Error {
    anyhow::Error::new(NoAnswer(timeout))
}

/// What an action is called when it cannot be done ("No session to pause").
fn verb(command: &Remote) -> Option<&'static str> {
    Some(match command {
        Remote::Stop => "stop",
        Remote::Pause => "pause",
        Remote::Resume => "resume",
        Remote::Toggle => "pause or resume",
        Remote::Next => "move on",
        Remote::Previous => "go back in",
        Remote::Repeat => "repeat",
        Remote::Extend { .. } => "extend",
        Remote::Start { .. } => "start",
        Remote::Where => "describe",
        Remote::Fed { .. } | Remote::Pumped { .. } => "log",
        Remote::Snooze { .. } => "snooze",
        Remote::Skip => "skip",
        Remote::Cancel { .. } => "cancel",
        Remote::Schedule { .. } => "schedule",
        // Reading and settings: answered in the terminal only.
        _ => return None,
    })
}

/// A refusal as it is said aloud: short, without the terminal's hints.
fn spoken_refusal(verb: &str, e: &anyhow::Error) -> String {
    let refusal = e.downcast_ref::<letdown::client::Refusal>();
    match refusal.map(|r| r.name.as_str()) {
        Some("NotRunning") => return format!("No session to {verb}."),
        // Snooze and skip name no id: what they do not find is a next session.
        Some("NotFound") if matches!(verb, "snooze" | "skip") => {
            return format!("Nothing is scheduled to {verb}.");
        }
        _ => {}
    }
    let text = refusal.map_or_else(|| e.to_string(), |r| r.message.clone());
    let first = text
        .split(['(', ';', '`'])
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches([',', '.', ':']);
    let mut c = first.chars();
    let first = c
        .next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_else(|| format!("Could not {verb}"));
    format!("{first}.")
}

/// The client's runtime: one thread is all a command needs.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Reaches letdownd on the session bus within `timeout` (D-Bus activation may be starting it).
async fn connect(timeout: Duration) -> anyhow::Result<(zbus::Connection, CoachProxy<'static>)> {
    let connect = async {
        let conn = zbus::Connection::session().await.map_err(said)?;
        let p = CoachProxy::new(&conn).await.map_err(said)?;
        anyhow::Ok((conn, p))
    };
    tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| no_answer(timeout))?
}

/// Calls letdownd once, connection and call within `timeout` together: for the commands that
/// are not actions of their own (`voices`, `record`).
pub fn on_daemon<T, F, Fut>(timeout: Duration, call: F) -> anyhow::Result<T>
where
    F: FnOnce(CoachProxy<'static>) -> Fut,
    Fut: std::future::Future<Output = zbus::Result<T>>,
{
    runtime()?.block_on(async move {
        let work = async {
            let (_conn, p) = connect(timeout).await?;
            call(p).await.map_err(said)
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| no_answer(timeout))?
    })
}

/// Runs `command` against letdownd. Every call is bounded: a daemon that cannot start (D-Bus
/// activation waits for it for up to two minutes) or hangs never leaves a key press waiting.
/// Unless `quiet`, the result of an action is said aloud too (by letdownd, as its `feedback`
/// setting says): the same words as printed, or a low tone and the reason it was refused.
pub fn run(mut command: Remote, timeout: Duration, quiet: bool) -> anyhow::Result<()> {
    if let Remote::Start {
        routine: Some(r), ..
    }
    | Remote::Schedule {
        routine: Some(r), ..
    }
    | Remote::FeedPlan {
        routine: Some(r), ..
    } = &mut command
    {
        *r = as_name(r, &letdown::paths::Paths::from_env())?;
    }
    runtime()?.block_on(async move {
        // Reaching letdownd and its answer share one deadline: a daemon that does not answer
        // is given up on after `timeout`, not after a timeout per step.
        let deadline = tokio::time::Instant::now() + timeout;
        let (_conn, p) = connect(timeout).await?;
        // These two bound their own waiting: start may wait for speech, status --follow runs
        // until the session ends.
        let bounded = !matches!(
            command,
            Remote::Start { .. } | Remote::Status { follow: true, .. }
        );
        let verb = verb(&command);
        let call = dispatch(&p, command, timeout);
        let result = if bounded {
            tokio::time::timeout_at(deadline, call)
                .await
                .map_err(|_| no_answer(timeout))
                .and_then(|r| r)
        } else {
            call.await
        };
        // What is said afterwards (the answer aloud, notices) shares one more.
        let deadline = tokio::time::Instant::now() + timeout;
        if let Err(e) = &result
            && e.downcast_ref::<NoAnswer>().is_some()
        {
            return result.map(|_| ());
        }
        let aloud = |text: String, refused: bool| {
            let p = &p;
            async move {
                if !quiet {
                    let said = tokio::time::timeout_at(deadline, p.announce(&text, refused)).await;
                    if let Ok(Err(e)) = said {
                        log_quietly(&e);
                    }
                }
            }
        };
        match &result {
            Ok(Some(sentence)) => {
                println!("{sentence}");
                aloud(sentence.clone(), false).await;
            }
            Ok(None) => {}
            Err(e) => {
                if let Some(verb) = verb {
                    aloud(spoken_refusal(verb, e), true).await;
                }
            }
        }
        if let Ok(Ok(notices)) = tokio::time::timeout_at(deadline, p.take_notices()).await
            && !notices.is_empty()
        {
            for n in &notices {
                eprintln!("letdown: note: {n}");
            }
            aloud(letdown::feedback::spoken_notices(&notices), false).await;
        }
        result.map(|_| ())
    })
}

/// An announcement letdownd refused (too long, say): not worth failing the command for.
fn log_quietly(e: &zbus::Error) {
    if std::env::var_os("LETDOWN_DEBUG").is_some() {
        eprintln!("letdown: not said aloud: {}", explain(e));
    }
}

/// Runs one command; returns the sentence to say for an action that has one.
async fn dispatch(
    p: &CoachProxy<'_>,
    command: Remote,
    timeout: Duration,
) -> anyhow::Result<Option<String>> {
    let done = |r: anyhow::Result<()>| r.map(|()| None);
    // The action is done when this is asked; if the answer cannot be had, the sentence says
    // only what was done (its first sentence), and the command still succeeds.
    let summary = async || -> Option<letdown::feedback::DaySummary> {
        match p.summary().await {
            Ok(map) => Some(letdown::feedback::DaySummary::from_map(&map)),
            Err(e) => {
                eprintln!(
                    "letdown: done, but what comes next is unknown: {}",
                    explain(&e)
                );
                None
            }
        }
    };
    let tell = |s: Option<letdown::feedback::DaySummary>,
                say: &dyn Fn(&letdown::feedback::DaySummary) -> String| {
        match s {
            Some(s) => say(&s),
            None => letdown::feedback::first_sentences(&say(&Default::default()), 1),
        }
    };
    Ok(match command {
        Remote::Pumped {
            amount,
            same,
            side,
            ago,
            lasted,
            note,
        } => {
            let amount = match (amount, same) {
                (Some(a), _) => a,
                (None, _) => {
                    let m = p.summary().await.map_err(said)?;
                    m.get("last_pumped_ml")
                        .and_then(|v| v.parse::<f64>().ok())
                        .context("no pumping is logged yet to repeat; give the amount: letdown pumped --amount 90ml")?
                }
            };
            let now = jiff::Timestamp::now().as_second();
            let length = lasted.map_or(0, |d| d.as_secs() as i64);
            let start = match ago {
                Some(a) => now - a.as_secs() as i64,
                None => now - length,
            };
            let id = p
                .log_pumping(
                    start,
                    start + length,
                    amount,
                    side.as_deref().unwrap_or(""),
                    note.as_deref().unwrap_or(""),
                )
                .await
                .map_err(said)?;
            println!("pumping {id} logged at {}", local_time(start));
            let answer = tell(summary().await, &|s| letdown::feedback::pumped(amount, s));
            Some(if same {
                answer.replacen("millilitres.", "millilitres, as last time.", 1)
            } else {
                answer
            })
        }
        Remote::Fed { end: true, .. } => {
            let (id, start, end) = p.end_feed().await.map_err(said)?;
            println!("feed {id} ended at {}", local_time(end));
            let (start, end) = (ts(start), ts(end));
            Some(letdown::feedback::feed_ended(start, end, &zone()))
        }
        Remote::Fed {
            at,
            ago,
            lasted,
            side,
            note,
            end: false,
        } => {
            let (start, side) = fed(p, at, ago, lasted, side, note).await?;
            Some(tell(summary().await, &|s| {
                letdown::feedback::fed(start, side, s, &zone())
            }))
        }
        Remote::Cancel { id } => {
            p.cancel(&id).await.map_err(said)?;
            Some(tell(summary().await, &|s| {
                letdown::feedback::cancelled(s, &zone())
            }))
        }
        Remote::Snooze { by } => {
            p.snooze(by.as_secs() as u32).await.map_err(said)?;
            Some(tell(summary().await, &|s| {
                letdown::feedback::snoozed(s, &zone())
            }))
        }
        Remote::Skip => {
            p.skip().await.map_err(said)?;
            Some(tell(summary().await, &|s| {
                letdown::feedback::skipped(s, &zone())
            }))
        }
        Remote::Schedule {
            kind,
            when,
            routine,
        } => {
            let at = schedule(p, &kind, &when, routine.as_deref().unwrap_or("")).await?;
            at.map(|at| letdown::feedback::scheduled(at, &zone()))
        }
        // The commands that answer in the terminal only.
        Remote::Start { routine } => {
            done(start(p, routine.as_deref().unwrap_or(""), timeout).await)?
        }
        Remote::Stop => done(p.stop().await.map_err(said))?,
        Remote::Pause => done(p.pause().await.map_err(said))?,
        Remote::Resume => done(p.resume().await.map_err(said))?,
        Remote::Toggle => done(p.toggle_pause().await.map_err(said))?,
        Remote::Next => done(p.next().await.map_err(said))?,
        Remote::Previous => done(p.previous().await.map_err(said))?,
        Remote::Repeat => done(p.repeat().await.map_err(said))?,
        Remote::Extend { by } => done(p.extend(by.as_secs() as u32).await.map_err(said))?,
        Remote::Where => done(where_am_i(p).await)?,
        Remote::Status {
            follow: false,
            json,
        } => done(print_status(p, json).await)?,
        Remote::Status { follow: true, .. } => done(follow(p, timeout).await)?,
        Remote::Volume { percent } => done(volume(p, percent).await)?,
        Remote::Reload => done(reload(p).await)?,
        Remote::Feeds {
            action: Some(FeedsAction::Delete { id }),
            ..
        } => done(p.delete_feed(id).await.map_err(said))?,
        Remote::Feeds {
            action: Some(FeedsAction::Fix { id, at, side }),
            ..
        } => done(fix_feed(p, id, at, side).await)?,
        Remote::Feeds {
            action: None,
            limit,
            csv,
        } => done(feeds(p, limit, csv).await)?,
        Remote::Pumpings {
            action: Some(PumpingsAction::Delete { id }),
            ..
        } => done(p.delete_pumping(id).await.map_err(said))?,
        Remote::Pumpings {
            action: None,
            limit,
            csv,
        } => done(pumpings(p, limit, csv).await)?,
        Remote::FeedPlan {
            interval,
            times,
            lead,
            routine,
            quiet_hours,
            quiet,
            clear,
        } => done({
            let plan = PlanArgs {
                interval,
                times,
                lead,
                routine,
                quiet_hours,
                quiet,
            };
            feed_plan(p, plan, clear).await
        })?,
        Remote::Upcoming => done(upcoming(p).await)?,
    })
}

/// letdownd takes routines by name only (it never reads a path a caller names). A path given
/// here is resolved to the name of the routine in it, when that file is one of the user's
/// routines; otherwise the user is told how to make it one.
fn as_name(arg: &str, paths: &letdown::paths::Paths) -> anyhow::Result<String> {
    use letdown::routine::{Library, RoutineSource, is_path};
    if !is_path(arg) {
        return Ok(arg.to_string());
    }
    let path = std::path::Path::new(arg);
    let lib = Library::new(paths.clone());
    let routine = lib
        .load_file(path)
        .routine
        .map_err(|d| anyhow!("{}", letdown::diagnostic::Diagnostics(d)))?;
    let same_file = |p: &std::path::Path| matches!((p.canonicalize(), path.canonicalize()), (Ok(a), Ok(b)) if a == b);
    let listed = lib.list().into_iter().any(|e| {
        e.name == routine.name && matches!(&e.source, RoutineSource::File(p) if same_file(p))
    });
    if listed {
        return Ok(routine.name);
    }
    Err(anyhow!(
        "letdownd starts routines by name, and {arg} (routine \"{}\") is not one of yours: copy it into {} to use it (`letdown check {arg}` checks it first)",
        routine.name,
        paths.routines_dir.display()
    ))
}

/// Starts a routine: the daemon must answer within `timeout` (activation included); then the
/// start may wait longer while the routine's speech is being prepared, saying so.
async fn start(p: &CoachProxy<'_>, routine: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    // Reaching the daemon (and D-Bus activating it) first, within the timeout.
    tokio::time::timeout_at(deadline, p.state())
        .await
        .map_err(|_| no_answer(timeout))?
        .map_err(said)?;
    let call = p.start(routine);
    tokio::pin!(call);
    tokio::select! {
        r = &mut call => return r.map_err(said),
        _ = tokio::time::sleep_until(deadline) => {}
    }
    let state = tokio::time::timeout(Duration::from_millis(250), p.state()).await;
    if !matches!(state, Ok(Ok(ref s)) if s == "preparing") {
        return Err(no_answer(timeout));
    }
    eprintln!("letdown: letdownd is preparing the routine's speech; it starts when ready...");
    tokio::time::timeout(PREPARE_ALLOWANCE, call)
        .await
        .map_err(|_| {
            anyhow!(
                "the routine's speech was not ready within {}; see `journalctl --user -u letdownd`",
                show(PREPARE_ALLOWANCE)
            )
        })?
        .map_err(said)
}

async fn where_am_i(p: &CoachProxy<'_>) -> anyhow::Result<()> {
    println!("{}", p.where_am_i().await.map_err(said)?);
    Ok(())
}

async fn print_status(p: &CoachProxy<'_>, json: bool) -> anyhow::Result<()> {
    let s = status(p).await.map_err(said)?;
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("{}", s.line());
    }
    Ok(())
}

/// Live progress until the session ends; each read is bounded by `timeout`.
async fn follow(p: &CoachProxy<'_>, timeout: Duration) -> anyhow::Result<()> {
    use std::io::Write;
    loop {
        let s = tokio::time::timeout(timeout, status(p))
            .await
            .map_err(|_| no_answer(timeout))?
            .map_err(said)?;
        if s.state == "idle" {
            println!("\r\x1b[2Kidle");
            return Ok(());
        }
        if s.open {
            // No end to measure progress against: the time so far only.
            print!("\r\x1b[2K{}", s.line());
        } else {
            let elapsed = Duration::from_millis(s.length_ms.saturating_sub(s.remaining_ms));
            let b = bar(elapsed, Duration::from_millis(s.length_ms), 20);
            print!("\r\x1b[2K{b} {}", s.line());
        }
        let _ = std::io::stdout().flush();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn volume(p: &CoachProxy<'_>, percent: Option<u8>) -> anyhow::Result<()> {
    match percent {
        None => println!("{}%", (p.volume().await.map_err(said)? * 100.0).round()),
        Some(v) => p.set_volume(v as f64 / 100.0).await.map_err(said)?,
    }
    Ok(())
}

async fn reload(p: &CoachProxy<'_>) -> anyhow::Result<()> {
    let problems = p.reload().await.map_err(said)?;
    for pr in &problems {
        println!("{pr}");
    }
    if problems.is_empty() {
        eprintln!("letdown: reloaded; no problems");
    }
    Ok(())
}

fn zone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::system()
}

fn ts(unix: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

async fn fed(
    p: &CoachProxy<'_>,
    at: Option<HourMinute>,
    ago: Option<Duration>,
    lasted: Option<Duration>,
    side: Option<String>,
    note: Option<String>,
) -> anyhow::Result<(jiff::Timestamp, letdown::schedule::Side)> {
    let now = jiff::Timestamp::now();
    let start = match (at, ago) {
        (Some(hm), _) => letdown::schedule::last_local(now, &zone(), hm),
        (None, Some(a)) => {
            let ago = jiff::SignedDuration::try_from(a).context("--ago is too long")?;
            now.checked_sub(ago).context("--ago is too long")?
        }
        (None, None) => now,
    };
    let (side_arg, note_arg) = (side.as_deref().unwrap_or(""), note.as_deref().unwrap_or(""));
    let id = match lasted {
        Some(d) => {
            p.log_finished_feed(
                start.as_second(),
                start.as_second() + d.as_secs() as i64,
                side_arg,
                note_arg,
            )
            .await
        }
        None => p.log_feed(start.as_second(), side_arg, note_arg).await,
    }
    .map_err(said)?;
    println!("feed {id} logged at {}", local_time(start.as_second()));
    let side = letdown::schedule::Side::parse(side.as_deref().unwrap_or("")).unwrap_or_default();
    Ok((start, side))
}

async fn fix_feed(
    p: &CoachProxy<'_>,
    id: u64,
    at: HourMinute,
    side: Option<String>,
) -> anyhow::Result<()> {
    let start = letdown::schedule::last_local(jiff::Timestamp::now(), &zone(), at);
    p.correct_feed(id, start.as_second(), side.as_deref().unwrap_or(""))
        .await
        .map_err(said)
}

async fn pumpings(p: &CoachProxy<'_>, limit: u32, csv: bool) -> anyhow::Result<()> {
    let rows = p.list_pumpings(limit).await.map_err(said)?;
    let iso = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    if csv {
        println!("id,start,end,ml,side,note");
        for (id, start, end, ml, side, note) in rows {
            println!(
                "{id},{},{},{ml},{side},\"{}\"",
                iso(start),
                iso(end),
                note.replace('"', "\"\"")
            );
        }
    } else if rows.is_empty() {
        println!("no pumpings logged yet; `letdown pumped --amount 90ml` logs one");
    } else {
        for (id, start, end, ml, side, note) in rows {
            let took = letdown::duration::show(Duration::from_secs((end - start).max(0) as u64));
            println!(
                "{id:>4}  {}  {:>6} ml  {took:>6}  {side:<5}  {note}",
                local_time(start),
                ml
            );
        }
    }
    Ok(())
}

async fn feeds(p: &CoachProxy<'_>, limit: u32, csv: bool) -> anyhow::Result<()> {
    let feeds = p.list_feeds(limit).await.map_err(said)?;
    if csv {
        println!("id,start,side,note");
        for (id, at, side, note) in feeds {
            let start = jiff::Timestamp::from_second(at)
                .map(|t| t.to_string())
                .unwrap_or_default();
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

/// The feed plan as given on the command line.
struct PlanArgs {
    interval: Option<Duration>,
    times: Option<Vec<HourMinute>>,
    lead: Option<Duration>,
    routine: Option<String>,
    quiet_hours: Option<(HourMinute, HourMinute)>,
    quiet: Option<String>,
}

impl PlanArgs {
    /// The map SetFeedPlan takes.
    fn to_map(&self) -> HashMap<String, String> {
        let hm = |(h, m): HourMinute| format!("{h:02}:{m:02}");
        let mut map = HashMap::new();
        if let Some(i) = self.interval {
            map.insert("interval".into(), show(i));
        }
        if let Some(t) = &self.times {
            map.insert(
                "times".into(),
                t.iter().map(|&x| hm(x)).collect::<Vec<_>>().join(","),
            );
        }
        if let Some(l) = self.lead {
            map.insert("lead".into(), show(l));
        }
        if let Some(r) = &self.routine {
            map.insert("routine".into(), r.clone());
        }
        if let Some((from, to)) = self.quiet_hours {
            map.insert("quiet_hours".into(), format!("{}-{}", hm(from), hm(to)));
        }
        if let Some(q) = &self.quiet {
            map.insert("quiet".into(), q.clone());
        }
        map
    }
}

async fn feed_plan(p: &CoachProxy<'_>, args: PlanArgs, clear: bool) -> anyhow::Result<()> {
    let map = args.to_map();
    if clear || !map.is_empty() {
        for w in p.set_feed_plan(map).await.map_err(said)? {
            eprintln!("letdown: warning: {w}");
        }
    }
    let plan = p.feed_plan().await.map_err(said)?;
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

/// Adds a schedule; returns when it first fires (from `Upcoming`), to be said.
async fn schedule(
    p: &CoachProxy<'_>,
    kind: &str,
    when: &str,
    routine: &str,
) -> anyhow::Result<Option<jiff::Timestamp>> {
    let id = p
        .schedule(&format!("{kind} {when}"), routine)
        .await
        .map_err(said)?;
    println!("scheduled: id {id}");
    let up = p.upcoming().await.map_err(said)?;
    Ok(up
        .iter()
        .find(|r| r.0 == id.to_string())
        .and_then(|r| jiff::Timestamp::from_second(r.1).ok()))
}

async fn upcoming(p: &CoachProxy<'_>) -> anyhow::Result<()> {
    const SHOWN: usize = 12;
    let up = p.upcoming().await.map_err(said)?;
    if up.is_empty() {
        println!("nothing scheduled");
    }
    for (id, at, why, routine) in up.iter().take(SHOWN) {
        println!("{id:>5}  {}  {routine:<20} {why}", local_time(*at));
    }
    if up.len() > SHOWN {
        println!("  ... and {} more in the next three days", up.len() - SHOWN);
    }
    Ok(())
}

/// A Unix time as local "Sat 14:05".
pub fn local_time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_zoned_datetime(zone()).strftime("%a %H:%M").to_string())
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::spoken_refusal;
    use letdown::client::Refusal;

    fn refused(name: &str, message: &str) -> anyhow::Error {
        anyhow::Error::new(Refusal {
            name: name.into(),
            message: message.into(),
        })
    }

    /// A refusal is said by its error's name, not by words found in its message.
    #[test]
    fn refusals_are_said_by_their_error_name() {
        assert_eq!(
            spoken_refusal("pause", &refused("NotRunning", "no session is running")),
            "No session to pause."
        );
        assert_eq!(
            spoken_refusal("skip", &refused("NotFound", "no session ahead")),
            "Nothing is scheduled to skip."
        );
        // A message that happens to hold another error's words says itself.
        assert_eq!(
            spoken_refusal(
                "cancel",
                &refused(
                    "NotFound",
                    "no schedule 7 (NotRunning); see `letdown upcoming`"
                )
            ),
            "No schedule 7."
        );
        assert_eq!(
            spoken_refusal(
                "extend",
                &refused("InvalidArgument", "up to 30 minutes at a time")
            ),
            "Up to 30 minutes at a time."
        );
    }

    #[test]
    fn an_answer_without_what_comes_next_keeps_only_what_was_done() {
        assert_eq!(
            letdown::feedback::first_sentences(
                "Feed logged at 04:10, the left side. No massage is scheduled.",
                1
            ),
            "Feed logged at 04:10, the left side."
        );
        assert_eq!(
            letdown::feedback::first_sentences("Snoozed.", 1),
            "Snoozed."
        );
    }
}
