//! The command line: every command, its arguments, and the value parsers that turn durations
//! and times into values before anything runs (a bad value is clap's usage error, exit 2).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use letdown::duration::parse_duration;
use letdown::schedule::{HourMinute, parse_hm, parse_window};

/// A calm voice that walks you through a timed routine, step by step, with soft tones between.
///
/// Routines are TOML files: built-in ones (`letdown routines` lists them) and your own in
/// ~/.config/letdown/routines/. Settings live in ~/.config/letdown/config.toml.
#[derive(Parser)]
#[command(name = "letdown", version, about, long_about, after_help = EXAMPLES)]
pub struct Cli {
    /// Read settings from this file instead of ~/.config/letdown/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How long a command waits for letdownd to answer, starting it included (e.g. 5s, 1m).
    /// A `start` whose routine's speech is still being synthesized waits for that too.
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s",
          value_parser = timeout)]
    pub timeout: Duration,

    /// Say nothing aloud, only print: `letdown --quiet fed` (letdownd otherwise answers key
    /// presses aloud, as its `feedback` setting says). Give it before the command.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
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

/// Every command: those letdownd answers, and those run here.
#[derive(Subcommand)]
pub enum Command {
    #[command(flatten)]
    Remote(Remote),
    #[command(flatten)]
    Local(Local),
}

/// Commands that letdownd answers over D-Bus (see docs/DBUS.md).
#[derive(Subcommand)]
pub enum Remote {
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
        #[arg(value_parser = extension)]
        by: Duration,
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
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: Option<u8>,
    },
    /// Make letdownd re-read its config and routines.
    Reload,
    /// Log that a feed started (now, or --at / --ago), so the feed plan can predict the next.
    ///
    /// A feed logged without --for runs until `letdown fed --end`, the next feed, or (with
    /// Baby Buddy connected) its max_feed; with Baby Buddy it is a running timer meanwhile.
    Fed {
        /// When it started, local time HH:MM (today, or yesterday if that is later than now).
        #[arg(long, value_name = "HH:MM", conflicts_with = "ago", value_parser = hour_minute)]
        at: Option<HourMinute>,
        /// How long it lasted, for a feed that is over, e.g. `--ago 25m --for 20m`.
        #[arg(long = "for", value_name = "DURATION", value_parser = feed_length)]
        lasted: Option<Duration>,
        /// End the running feed now (a key for "feed done").
        #[arg(long, conflicts_with_all = ["at", "ago", "side", "note", "lasted"])]
        end: bool,
        /// How long ago it started, e.g. 20m (up to 2 days).
        #[arg(long, value_name = "DURATION", value_parser = ago)]
        ago: Option<Duration>,
        /// Which side: left, right or both.
        #[arg(long, value_parser = ["left", "right", "both"])]
        side: Option<String>,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// Log a pumping (or hand expression) session: `pumped --amount 90ml`.
    ///
    /// It ends now (or started --ago) and lasted --for, when said. Pumping counts as a feed for
    /// the feed plan only with pumping_counts_as_feed = true in [feed_plan]. With Baby Buddy
    /// connected it goes to its pumping records.
    Pumped {
        /// How much: millilitres or ounces, e.g. 90ml or 3oz (1 to 1000 ml).
        #[arg(long, value_name = "AMOUNT", value_parser = pumped_amount,
              required_unless_present = "same")]
        amount: Option<f64>,
        /// The same amount as the last pumping logged (the "pumping done" key).
        #[arg(long, conflicts_with = "amount")]
        same: bool,
        /// Which side, if one: left, right or both.
        #[arg(long, value_parser = ["left", "right", "both"])]
        side: Option<String>,
        /// How long ago it started, e.g. 20m (default: it just ended).
        #[arg(long, value_name = "DURATION", value_parser = ago)]
        ago: Option<Duration>,
        /// How long it lasted, e.g. 15m.
        #[arg(long = "for", value_name = "DURATION", value_parser = feed_length)]
        lasted: Option<Duration>,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// List logged pumpings; `pumpings delete ID` removes a mistaken one.
    Pumpings {
        #[command(subcommand)]
        action: Option<PumpingsAction>,
        /// How many recent pumpings to show (0 = all).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Print CSV (id,start,end,ml,side,note) instead.
        #[arg(long)]
        csv: bool,
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
        #[arg(long, value_parser = duration)]
        interval: Option<Duration>,
        /// Fixed feed times instead, e.g. 06:00,09:30,13:00.
        #[arg(long, value_name = "HH:MM,...", value_delimiter = ',', value_parser = hour_minute)]
        times: Option<Vec<HourMinute>>,
        /// How long before the feed the session starts, e.g. 10m.
        #[arg(long, value_parser = duration)]
        lead: Option<Duration>,
        /// The routine (default: the configured default routine).
        #[arg(long)]
        routine: Option<String>,
        /// Quiet hours, e.g. 22:00-06:00.
        #[arg(long, value_name = "HH:MM-HH:MM", value_parser = window)]
        quiet_hours: Option<(HourMinute, HourMinute)>,
        /// In quiet hours: skip (default) or quieter.
        #[arg(long, value_parser = ["skip", "quieter"])]
        quiet: Option<String>,
        /// Remove the feed plan.
        #[arg(long)]
        clear: bool,
    },
    /// Schedule a session: `schedule at 16:40`, `schedule in 25m`, `schedule daily 06:30`.
    Schedule {
        /// at, in or daily.
        #[arg(value_parser = ["at", "in", "daily"])]
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
    /// Move the next scheduled session later, e.g. `letdown snooze 5m` (up to a day).
    Snooze {
        /// How much later.
        #[arg(value_parser = snooze)]
        by: Duration,
    },
    /// Skip the next scheduled session.
    Skip,
}

/// Corrections to the pumping log.
#[derive(Subcommand)]
pub enum PumpingsAction {
    /// Delete a mistaken pumping (in Baby Buddy too, when connected).
    Delete {
        /// Its id (see `letdown pumpings`).
        id: u64,
    },
}

/// Corrections to the feed log.
#[derive(Subcommand)]
pub enum FeedsAction {
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
        #[arg(long, value_parser = hour_minute)]
        at: HourMinute,
        /// The right side.
        #[arg(long, value_parser = ["left", "right", "both"])]
        side: Option<String>,
    },
}

/// Baby Buddy: connect, see how the sync goes, sync now.
#[derive(Subcommand)]
pub enum BabyBuddyAction {
    /// Check the server and token, and sync feeds with it from now on.
    ///
    /// Writes [babybuddy] into config.toml and reloads letdownd. The token stays in its file
    /// (make it with: install -m 600 /dev/null FILE, then put the key from Baby Buddy's user
    /// settings in it).
    Connect {
        /// The server, e.g. https://baby.example.org (http:// only to this machine).
        url: String,
        /// The file holding the API key (mode 600).
        #[arg(long, value_name = "PATH")]
        token_file: PathBuf,
        /// Whose feeds: the child's slug or id (needed when the server has several).
        #[arg(long, value_name = "SLUG_OR_ID")]
        child: Option<String>,
        /// Accept plain http:// to another machine (the key crosses the network readable).
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Stop syncing (removes [babybuddy] from config.toml; the token file is kept).
    Disconnect,
    /// The server, the child, the last sync, what waits to be sent, and what went wrong.
    Status,
    /// Send what waits and read the feedings now.
    Sync,
}

/// Commands run here, without letdownd.
#[derive(Subcommand)]
pub enum Local {
    /// Sync feeds with a Baby Buddy server: `babybuddy connect URL --token-file PATH`.
    #[command(name = "babybuddy")]
    BabyBuddy {
        #[command(subcommand)]
        action: BabyBuddyAction,
    },
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
    /// List the voices installed here, across engines, the current one marked with `*`.
    ///
    /// `letdown voices try NAME` says a sentence of your routine with a voice, through letdownd;
    /// `letdown voices use NAME` makes it letdown's voice (config.toml's [voice]) and has
    /// letdownd prepare your routine with it. NAME is ENGINE:VOICE as listed, or the voice's
    /// name alone when only one engine has it. With no voice configured, the first one listed
    /// speaks: Piper, then RHVoice, Festival HTS, flite, and espeak-ng last.
    Voices {
        /// Try or use a voice; lists them when left out.
        #[command(subcommand)]
        action: Option<VoicesAction>,
        /// List every language's voices, not only the configured language's.
        #[arg(long)]
        all: bool,
    },
    /// Write the earcons (tones) as WAV files into a directory, to listen to or reuse.
    Tones {
        /// Directory to write into (created if missing).
        dir: PathBuf,
    },
    /// Record a loved one's voice reading every prompt of a routine, to play instead of the
    /// synthesized voice.
    ///
    /// For each prompt (each side's version too) it shows the text, counts in, and records
    /// from the default microphone until 2 s of quiet (or Enter). The take is trimmed, brought
    /// to the loudness of the synthesized prompts, saved under
    /// ~/.local/share/letdown/audio/recorded/ROUTINE/ and played back; keep it or record it
    /// again. Prompts already recorded are skipped, so you can stop (q) and go on later.
    /// `letdown plan ROUTINE` shows which prompts are recorded.
    Record {
        /// A routine name or a path to a .toml file.
        routine: String,
        /// Record prompt N again (as numbered here), even though it has a recording.
        #[arg(long, value_name = "N")]
        redo: Option<usize>,
        /// Seconds to count in before each take.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
        count_in: u32,
        /// The sound server's source to record from (default: its default source).
        #[arg(long)]
        source: Option<String>,
        /// The longest take, e.g. 90s.
        #[arg(long, default_value = "2m", value_parser = take_length)]
        max: Duration,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages of letdown, each of its commands and letdownd into DIR (for
    /// packagers: scripts/package runs it; the pages come from these same definitions).
    #[command(hide = true)]
    Man {
        /// Directory to write into (created if missing).
        dir: PathBuf,
    },
}

/// What `letdown voices` does with a voice.
#[derive(Subcommand)]
pub enum VoicesAction {
    /// Hear a sentence of your routine said with NAME (letdownd says it).
    Try {
        /// ENGINE:VOICE as `letdown voices` lists it, or a voice name only one engine has.
        name: String,
    },
    /// Make NAME letdown's voice: written to config.toml, and your routine prepared with it.
    Use {
        /// ENGINE:VOICE as `letdown voices` lists it, or a voice name only one engine has.
        name: String,
    },
}

/// A duration within `min..=max`, e.g. "5m".
fn bounded(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < min || d > max {
        return Err(format!(
            "{text} is outside {} to {}",
            letdown::duration::show(min),
            letdown::duration::show(max)
        ));
    }
    Ok(d)
}

fn duration(text: &str) -> Result<Duration, String> {
    bounded(
        text,
        Duration::from_secs(1),
        Duration::from_secs(7 * 86_400),
    )
}

fn timeout(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_millis(100), Duration::from_secs(3600))
}

fn take_length(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_secs(5), Duration::from_secs(900))
}

fn extension(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_secs(1), letdown::engine::MAX_EXTENSION)
}

fn snooze(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_secs(1), Duration::from_secs(86_400))
}

/// Millilitres per US fluid ounce.
const ML_PER_OZ: f64 = 29.5735;

/// An amount with its unit, `90ml` or `3oz`, as millilitres within the pumping log's bounds.
pub fn pumped_amount(text: &str) -> Result<f64, String> {
    let t = text.trim().to_ascii_lowercase();
    let (number, per) = if let Some(n) = t.strip_suffix("ml") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix("oz") {
        (n, ML_PER_OZ)
    } else {
        return Err(format!(
            "\"{text}\" has no unit; write millilitres or ounces, e.g. 90ml or 3oz"
        ));
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not an amount; write e.g. 90ml or 3oz"))?;
    let ml = (n * per * 10.0).round() / 10.0;
    let range = letdown::schedule::PUMPED_ML;
    if !ml.is_finite() || !range.contains(&ml) {
        return Err(format!(
            "{text} is outside {} to {} ml",
            range.start(),
            range.end()
        ));
    }
    Ok(ml)
}

fn feed_length(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_secs(1), Duration::from_secs(86_400))
}

fn ago(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::ZERO, Duration::from_secs(2 * 86_400))
}

fn hour_minute(text: &str) -> Result<HourMinute, String> {
    parse_hm(text)
}

fn window(text: &str) -> Result<(HourMinute, HourMinute), String> {
    parse_window(text)
}

#[cfg(test)]
mod tests {
    use super::pumped_amount;

    #[test]
    fn amounts_need_a_unit_and_stay_in_bounds() {
        assert_eq!(pumped_amount("90ml"), Ok(90.0));
        assert_eq!(pumped_amount(" 90 ML "), Ok(90.0));
        assert_eq!(pumped_amount("3oz"), Ok(88.7));
        assert_eq!(pumped_amount("0.5oz"), Ok(14.8));
        assert!(pumped_amount("90").unwrap_err().contains("no unit"));
        assert!(
            pumped_amount("lots ml")
                .unwrap_err()
                .contains("not an amount")
        );
        assert!(pumped_amount("0ml").unwrap_err().contains("1 to 1000 ml"));
        assert!(pumped_amount("40oz").unwrap_err().contains("1 to 1000 ml"));
    }
}
