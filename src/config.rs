//! The user's settings: `$XDG_CONFIG_HOME/letdown/config.toml`.
//!
//! Small and typed; every key is optional with the default documented in docs/CONFIG.md, and
//! unknown keys or bad values are located errors, like in routine files. A missing file means
//! all defaults.

use std::path::Path;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::toml_check::{Checker, Tbl};
use crate::tones::EarconSet;
pub use crate::voice::VoiceConfig;
use crate::voice::{EngineKind, check_language, check_voice_name};

/// All settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The routine `letdown start` runs with no name.
    pub default_routine: String,
    /// Master volume, 0.0 to 1.0.
    pub volume: f64,
    /// The tone family.
    pub earcons: EarconSet,
    /// Loudness of tones relative to speech, 0.0 to 1.0.
    pub earcon_volume: f64,
    /// The voice.
    pub voice: VoiceConfig,
    /// How late a scheduled session may still start (after sleep or a restart).
    pub grace: std::time::Duration,
    /// Speak a heads-up this long before an automatic session.
    pub heads_up: Option<std::time::Duration>,
    /// Volume of feed-plan sessions in quiet hours (with `quiet = "quieter"`).
    pub quiet_volume: f64,
    /// The feed plan from the config (one set over D-Bus replaces it).
    pub feed_plan: Option<crate::schedule::FeedPlan>,
    /// How a key's action is answered aloud.
    pub feedback: Feedback,
    /// The Baby Buddy server feeds sync with (`[babybuddy]`), if any.
    pub babybuddy: Option<crate::babybuddy::Settings>,
}

/// How letdown answers a key press (`feedback` in config.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A short sentence (a low tone first when the action could not be done).
    Speech,
    /// A tone only: a rising one when done, a low falling one when not.
    Tone,
    /// Nothing (the CLI still prints).
    None,
}

impl Feedback {
    /// Reads `speech`, `tone` or `none`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "speech" => Ok(Self::Speech),
            "tone" => Ok(Self::Tone),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown feedback \"{other}\"; use \"speech\", \"tone\" or \"none\""
            )),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_routine: "lactation-massage".into(),
            volume: 0.8,
            earcons: EarconSet::Chime,
            earcon_volume: 0.8,
            voice: VoiceConfig::default(),
            grace: std::time::Duration::from_secs(600),
            heads_up: None,
            quiet_volume: 0.3,
            feed_plan: None,
            feedback: Feedback::Speech,
            babybuddy: None,
        }
    }
}

const TOP_KEYS: &[&str] = &[
    "default_routine",
    "volume",
    "earcons",
    "earcon_volume",
    "voice",
    "schedule",
    "feed_plan",
    "feedback",
    "babybuddy",
];
const SCHEDULE_KEYS: &[&str] = &["grace", "heads_up", "quiet_volume"];

const VOICE_KEYS: &[&str] = &[
    "engine", "voice", "language", "speed", "fallback", "command", "timeout",
];

impl Config {
    /// Reads the config file at `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Config, Diagnostics> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(path, &text).map_err(Diagnostics),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Diagnostics(vec![Diagnostic {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                field: String::new(),
                message: format!("cannot read the config file: {e}"),
            }])),
        }
    }

    /// The config as this machine runs it: the natural voice looked for under `paths`'s data
    /// folder, and, when the file names no engine, the best voice installed (the file's text
    /// is not changed).
    pub fn on_this_machine(mut self, paths: &crate::paths::Paths) -> Config {
        crate::voice::catalog::choose_default(&mut self.voice, &paths.data_dir);
        self
    }

    /// Parses config text, reporting every problem.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Vec<Diagnostic>> {
        let mut c = Checker::new(path, text);
        let Some(doc) = c.parse(text) else {
            return Err(c.finish());
        };
        let top = Tbl {
            table: doc.get_ref(),
            pos: 0,
            prefix: "",
        };
        c.known_keys(top, TOP_KEYS);
        let mut cfg = Config::default();
        if let Some(r) = c.text(top, "default_routine") {
            cfg.default_routine = r.into_inner();
        }
        if let Some(v) = c.number(top, "volume", 0.0..=1.0) {
            cfg.volume = v;
        }
        if let Some(v) = c.number(top, "earcon_volume", 0.0..=1.0) {
            cfg.earcon_volume = v;
        }
        if let Some(f) = c.valid_text(top, "feedback", |s| Feedback::parse(s).map(|_| ())) {
            cfg.feedback = Feedback::parse(&f).expect("checked");
        }
        if let Some(e) = c.string(top, "earcons") {
            match EarconSet::from_name(e.get_ref()) {
                Some(set) => cfg.earcons = set,
                None => c.error(
                    e.span(),
                    "earcons",
                    format!(
                        "unknown earcon set \"{}\"; use one of {}",
                        e.get_ref(),
                        EarconSet::NAMES.join(", ")
                    ),
                ),
            }
        }
        if let Some(v) = c.table(top, "voice") {
            let vt = Tbl {
                table: v.get_ref().as_table().expect("checked table"),
                pos: v.span().start,
                prefix: "voice",
            };
            c.known_keys(vt, VOICE_KEYS);
            let engine = |c: &mut Checker<'_>, e: &Spanned<String>, field: &str| {
                EngineKind::parse(e.get_ref())
                    .map_err(|msg| c.error(e.span(), field, msg))
                    .ok()
            };
            if let Some(e) = c.text(vt, "engine")
                && let Some(kind) = engine(&mut c, &e, "voice.engine")
            {
                cfg.voice.engine = kind;
                cfg.voice.chosen = true;
            }
            cfg.voice.voice = c.valid_text(vt, "voice", check_voice_name);
            if let Some(l) = c.valid_text(vt, "language", check_language) {
                cfg.voice.language = l;
            }
            if let Some(s) = c.number(vt, "speed", 0.5..=2.0) {
                cfg.voice.speed = s;
            }
            if let Some(f) = c.string_list(vt, "fallback") {
                cfg.voice.fallback = f
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| engine(&mut c, e, &format!("voice.fallback[{i}]")))
                    .collect();
            }
            if let Some(cmd) = c.string_list(vt, "command") {
                if cmd.is_empty() {
                    c.error(
                        v.span(),
                        "voice.command",
                        "needs at least the program to run",
                    );
                }
                cfg.voice.command = cmd.into_iter().map(Spanned::into_inner).collect();
            }
            if let Some(t) = c.duration(
                vt,
                "timeout",
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(600),
            ) {
                cfg.voice.timeout = t;
            }
            let uses_command = cfg.voice.engine == EngineKind::Command
                || cfg.voice.fallback.contains(&EngineKind::Command);
            if uses_command && cfg.voice.command.is_empty() {
                c.missing(
                    vt,
                    "command",
                    "the command engine needs command = [\"program\", \"arg\", ...]",
                );
            }
        }
        if let Some(v) = c.table(top, "schedule") {
            let t = Tbl {
                table: v.get_ref().as_table().expect("checked table"),
                pos: v.span().start,
                prefix: "schedule",
            };
            c.known_keys(t, SCHEDULE_KEYS);
            let day = std::time::Duration::from_secs(86_400);
            if let Some(g) = c.duration(t, "grace", std::time::Duration::from_secs(1), day) {
                cfg.grace = g;
            }
            cfg.heads_up = c.duration(
                t,
                "heads_up",
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs(3600),
            );
            if let Some(q) = c.number(t, "quiet_volume", 0.0..=1.0) {
                cfg.quiet_volume = q;
            }
        }
        if let Some(v) = c.table(top, "feed_plan") {
            let t = Tbl {
                table: v.get_ref().as_table().expect("checked table"),
                pos: v.span().start,
                prefix: "feed_plan",
            };
            c.known_keys(t, crate::schedule::FEED_PLAN_KEYS);
            use crate::schedule::{MAX_INTERVAL, MAX_LEAD, MIN_INTERVAL, MIN_LEAD};
            let interval = c.duration(t, "interval", MIN_INTERVAL, MAX_INTERVAL);
            let mut times = Vec::new();
            for s in c.string_list(t, "times").unwrap_or_default() {
                match crate::schedule::parse_hm(s.get_ref()) {
                    Ok(hm) => times.push(hm),
                    Err(e) => c.error(s.span(), "feed_plan.times", e),
                }
            }
            let lead = c.duration(t, "lead", MIN_LEAD, MAX_LEAD);
            let routine = c
                .text(t, "routine")
                .map(Spanned::into_inner)
                .unwrap_or_default();
            let action = match c.string(t, "quiet") {
                None => crate::schedule::QuietAction::Skip,
                Some(q) => crate::schedule::QuietAction::parse(q.get_ref()).unwrap_or_else(|e| {
                    c.error(q.span(), "feed_plan.quiet", e);
                    crate::schedule::QuietAction::Skip
                }),
            };
            let quiet =
                c.string(t, "quiet_hours").and_then(|w| {
                    match crate::schedule::parse_window(w.get_ref()) {
                        Ok((from, to)) => Some(crate::schedule::QuietHours { from, to, action }),
                        Err(e) => {
                            c.error(w.span(), "feed_plan.quiet_hours", e);
                            None
                        }
                    }
                });
            if interval.is_none()
                && times.is_empty()
                && t.get("interval").is_none()
                && t.get("times").is_none()
            {
                c.missing(
                    t,
                    "interval",
                    "give interval = \"3h\" (start to start) or times = [\"06:00\", ...]",
                );
            }
            if lead.is_none() && t.get("lead").is_none() {
                c.missing(
                    t,
                    "lead",
                    "how long before the feed the session starts, e.g. lead = \"10m\"",
                );
            }
            if let Some(lead) = lead
                && (interval.is_some() || !times.is_empty())
            {
                let pumping = c.boolean(t, "pumping_counts_as_feed").unwrap_or(false);
                match crate::schedule::FeedPlan::new(interval, times, lead, routine, quiet) {
                    Ok(mut plan) => {
                        plan.pumping_counts_as_feed = pumping;
                        cfg.feed_plan = Some(plan)
                    }
                    Err(e) => c.error(v.span(), "feed_plan", e),
                }
            }
        }
        if let Some(v) = c.table(top, "babybuddy") {
            let t = Tbl {
                table: v.get_ref().as_table().expect("checked table"),
                pos: v.span().start,
                prefix: "babybuddy",
            };
            cfg.babybuddy = babybuddy(&mut c, t, v.span());
        }
        let errors = c.finish();
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }
}

/// `[babybuddy]`: every key checked, located; `None` when something is missing or wrong.
fn babybuddy(
    c: &mut Checker<'_>,
    t: Tbl<'_, '_>,
    span: std::ops::Range<usize>,
) -> Option<crate::babybuddy::Settings> {
    use crate::babybuddy::{Child, DEFAULT_MAX_FEED, DEFAULT_SYNC_EVERY, Settings, check_url};
    use std::time::Duration;
    c.known_keys(t, crate::babybuddy::KEYS);
    let allow_insecure_http = c.boolean(t, "allow_insecure_http").unwrap_or(false);
    let url = c.valid_text(t, "url", |u| check_url(u, allow_insecure_http).map(drop));
    let token_file = c.valid_text(t, "token_file", |p| {
        if p.starts_with('/') || p.starts_with("~/") {
            Ok(())
        } else {
            Err("must be a full path (/... or ~/...)".into())
        }
    });
    let child = match t.get("child") {
        None => None,
        Some(v) => match v.get_ref() {
            toml::de::DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(id) if id > 0 => Some(Child::Id(id)),
                _ => {
                    c.error(
                        v.span(),
                        "babybuddy.child",
                        "must be a child's id (1 or more) or its slug",
                    );
                    None
                }
            },
            toml::de::DeValue::String(s) if !s.trim().is_empty() => {
                Some(Child::Slug(s.trim().to_string()))
            }
            _ => {
                c.error(
                    v.span(),
                    "babybuddy.child",
                    "must be a child's id or its slug (\"jane-doe\")",
                );
                None
            }
        },
    };
    let sync_every = c
        .duration(
            t,
            "sync_every",
            Duration::from_secs(60),
            Duration::from_secs(86_400),
        )
        .unwrap_or(DEFAULT_SYNC_EVERY);
    let max_feed = c
        .duration(
            t,
            "max_feed",
            Duration::from_secs(600),
            Duration::from_secs(6 * 3600),
        )
        .unwrap_or(DEFAULT_MAX_FEED);
    for (key, missing) in [
        ("url", url.is_none()),
        ("token_file", token_file.is_none()),
        ("child", child.is_none()),
    ] {
        if missing && t.get(key).is_none() {
            c.error(
                span.clone(),
                &format!("babybuddy.{key}"),
                "is missing (`letdown babybuddy connect` writes it)",
            );
        }
    }
    let token_file = token_file?;
    let token_file = match token_file.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => std::path::PathBuf::from(token_file),
    };
    Some(Settings {
        url: check_url(&url?, allow_insecure_http).ok()?,
        token_file,
        child: child?,
        allow_insecure_http,
        sync_every,
        max_feed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
        Config::parse(Path::new("config.toml"), text)
    }

    #[test]
    fn babybuddy_is_read_and_its_mistakes_located() {
        let cfg = parse("[babybuddy]\nurl = \"http://127.0.0.1:8000/\"\ntoken_file = \"/run/t\"\nchild = 2\nsync_every = \"2m\"\n").unwrap();
        let b = cfg.babybuddy.unwrap();
        assert_eq!(b.url, "http://127.0.0.1:8000");
        assert_eq!(b.child, crate::babybuddy::Child::Id(2));
        assert_eq!(b.sync_every.as_secs(), 120);
        assert_eq!(b.max_feed, crate::babybuddy::DEFAULT_MAX_FEED);
        let errs =
            parse("[babybuddy]\nurl = \"http://10.0.0.2\"\ntoken_file = \"t\"\nchild = \"jane\"\n")
                .unwrap_err();
        let lines: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("config.toml:2:7: babybuddy.url")
                    && l.contains("allow_insecure_http")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("config.toml:3:14: babybuddy.token_file")),
            "{lines:?}"
        );
        let errs = parse("[babybuddy]\nurl = \"https://b.example\"\n").unwrap_err();
        let lines: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("babybuddy.child: is missing")),
            "{lines:?}"
        );
    }

    #[test]
    fn empty_config_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn every_key_is_read() {
        let cfg = parse(
            r#"
default_routine = "quick-before-feed"
volume = 0.5
earcons = "soft"
earcon_volume = 0.3
[voice]
engine = "command"
voice = "amy"
language = "en-GB"
speed = 0.9
fallback = ["festival", "espeak-ng"]
command = ["piper", "--model", "amy.onnx", "--output_file", "{out}"]
"#,
        )
        .unwrap();
        assert_eq!(cfg.default_routine, "quick-before-feed");
        assert_eq!(cfg.volume, 0.5);
        assert_eq!(cfg.earcons, EarconSet::Soft);
        assert_eq!(cfg.earcon_volume, 0.3);
        assert_eq!(cfg.voice.engine, EngineKind::Command);
        assert_eq!(cfg.voice.speed, 0.9);
        assert_eq!(cfg.voice.command[0], "piper");
        assert_eq!(
            cfg.voice.fallback,
            vec![EngineKind::Festival, EngineKind::EspeakNg]
        );
    }

    #[test]
    fn every_problem_is_located() {
        let errs = parse("volum = 0.5\nvolume = 7\n[voice]\nengine = \"sam\"\nspeed = \"fast\"\n")
            .unwrap_err();
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(
            lines[0].starts_with("config.toml:1:1: volum: unknown key"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("did you mean `volume`"));
        assert!(
            lines[1].starts_with("config.toml:2:10: volume: must be a number from 0 to 1"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("config.toml:4:10: voice.engine: unknown engine"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("config.toml:5:9: voice.speed: expected a number"),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn schedule_and_feed_plan_are_read() {
        let cfg = parse("[schedule]\ngrace = \"5m\"\nheads_up = \"2m\"\n[feed_plan]\ninterval = \"3h\"\nlead = \"10m\"\nquiet_hours = \"22:00-06:00\"\nquiet = \"quieter\"\n").unwrap();
        assert_eq!(cfg.grace.as_secs(), 300);
        assert_eq!(cfg.heads_up.map(|d| d.as_secs()), Some(120));
        let plan = cfg.feed_plan.unwrap();
        assert_eq!((plan.interval, plan.lead), (Some(10_800), 600));
        assert_eq!(
            plan.quiet.unwrap().action,
            crate::schedule::QuietAction::Quieter
        );
        let errs = parse("[feed_plan]\ntimes = [\"6:61\"]\n").unwrap_err();
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("feed_plan.lead: is missing")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("config.toml:2:10: feed_plan.times")),
            "{lines:?}"
        );
    }

    #[test]
    fn command_engine_needs_a_command() {
        let errs = parse("[voice]\nengine = \"command\"\n").unwrap_err();
        assert!(
            errs[0].to_string().contains("voice.command: is missing"),
            "{}",
            errs[0]
        );
    }
}
