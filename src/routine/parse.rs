//! Reading and validating one routine file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::{
    Countdown, CueSettings, HalfwayCue, RepeatedCue, Routine, Step, Timing, VoiceOverride,
};
use crate::diagnostic::Diagnostic;
use crate::toml_check::{Checker, Tbl};

/// The shortest and longest hands-on time a step may have.
pub const STEP_DURATION: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));
/// The longest a whole routine's hands-on time may be.
pub const ROUTINE_MAX: Duration = Duration::from_secs(3 * 3600);
/// The most steps a routine may have after side expansion.
pub const MAX_STEPS: usize = 500;
/// The longest prompt text, in characters.
pub const MAX_PROMPT_CHARS: usize = 2000;

const TOP_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "spoken_name",
    "timing",
    "sides_order",
    "language",
    "voice",
    "defaults",
    "steps",
];
const VOICE_KEYS: &[&str] = &["engine", "voice", "speed"];
const CUE_KEYS: &[&str] = &[
    "duration",
    "start_tone",
    "end_tone",
    "halfway",
    "countdown",
    "countdown_from",
    "remind_every",
    "every",
    "every_say",
    "every_tone",
];
const STEP_KEYS: &[&str] = &["title", "say", "audio", "until"];
const BLOCK_KEYS: &[&str] = &["title", "sides", "steps"];

/// Where to look for recorded prompts that are not next to the routine file.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// The directory of the routine file (None for built-in routines).
    pub base_dir: Option<PathBuf>,
    /// Further directories searched for `audio` files, in order.
    pub audio_dirs: Vec<PathBuf>,
}

/// Step fields that may be set once in `[defaults]` and overridden per step.
#[derive(Clone, Default)]
struct Defaults {
    duration: Option<Duration>,
    start_tone: Option<bool>,
    end_tone: Option<bool>,
    halfway: Option<HalfwayCue>,
    countdown: Option<Countdown>,
    countdown_from: Option<u32>,
    remind_every: Option<Option<Duration>>,
    every: Option<Duration>,
    every_cue: Option<RepeatedCue>,
}

impl Defaults {
    fn over(self, base: &Defaults) -> Defaults {
        Defaults {
            duration: self.duration.or(base.duration),
            start_tone: self.start_tone.or(base.start_tone),
            end_tone: self.end_tone.or(base.end_tone),
            halfway: self.halfway.or(base.halfway),
            countdown: self.countdown.or(base.countdown),
            countdown_from: self.countdown_from.or(base.countdown_from),
            remind_every: self.remind_every.or(base.remind_every),
            every: self.every.or(base.every),
            every_cue: self.every_cue.or_else(|| base.every_cue.clone()),
        }
    }

    fn cues(&self) -> CueSettings {
        let d = CueSettings::default();
        CueSettings {
            start_tone: self.start_tone.unwrap_or(d.start_tone),
            end_tone: self.end_tone.unwrap_or(d.end_tone),
            halfway: self.halfway.unwrap_or(d.halfway),
            countdown: self.countdown.unwrap_or(d.countdown),
            countdown_from: self.countdown_from.unwrap_or(d.countdown_from),
            remind_every: self.remind_every.unwrap_or(d.remind_every),
            every: self.every.zip(self.every_cue.clone()),
        }
    }
}

/// Reads a routine from `text` (the contents of `path`), returning every problem found.
pub fn parse_routine(
    path: &Path,
    text: &str,
    opts: &ParseOptions,
) -> Result<Routine, Vec<Diagnostic>> {
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

    let name = c.text(top, "name");
    if let Some(n) = &name {
        let ok = n
            .get_ref()
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_');
        if !ok {
            c.error(
                n.span(),
                "name",
                "use lowercase letters, digits, '-' and '_' only (it is typed on command lines)",
            );
        }
    }
    let fallback_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = c.text(top, "title");
    let description = c.string(top, "description");
    let spoken_name = c.valid_text(top, "spoken_name", |n| {
        if n.chars().count() > 40 {
            Err("is a name for the heads-up, at most 40 characters (\"Pumping\")".into())
        } else {
            Ok(())
        }
    });
    let next_side_first = c
        .valid_text(top, "sides_order", super::sides::check_order)
        .is_some_and(|o| o == "next-feed");
    let timing = match c.string(top, "timing") {
        None => Timing::AfterPrompt,
        Some(s) => match s.get_ref().as_str() {
            "after-prompt" => Timing::AfterPrompt,
            "with-prompt" => Timing::WithPrompt,
            other => {
                c.error(
                    s.span(),
                    "timing",
                    format!("unknown timing \"{other}\"; use \"after-prompt\" or \"with-prompt\""),
                );
                Timing::AfterPrompt
            }
        },
    };
    let mut voice = VoiceOverride {
        language: c.valid_text(top, "language", crate::voice::check_language),
        ..Default::default()
    };
    if let Some(v) = c.table(top, "voice") {
        let vt = Tbl {
            table: v.get_ref().as_table().expect("checked table"),
            pos: v.span().start,
            prefix: "voice",
        };
        c.known_keys(vt, VOICE_KEYS);
        if let Some(e) = c.text(vt, "engine") {
            match crate::voice::EngineKind::parse(e.get_ref()) {
                Ok(kind) => voice.engine = Some(kind),
                Err(msg) => c.error(e.span(), "voice.engine", msg),
            }
        }
        voice.voice = c.valid_text(vt, "voice", crate::voice::check_voice_name);
        voice.speed = c.number(vt, "speed", 0.5..=2.0);
    }

    let defaults = match c.table(top, "defaults") {
        Some(v) => {
            let dt = Tbl {
                table: v.get_ref().as_table().expect("checked table"),
                pos: v.span().start,
                prefix: "defaults",
            };
            c.known_keys(dt, CUE_KEYS);
            read_cues(&mut c, dt)
        }
        None => Defaults::default(),
    };

    let mut reader = StepReader {
        opts,
        steps: Vec::new(),
        titles: HashMap::new(),
    };
    match top.get("steps") {
        None => c.error(
            0..0,
            "steps",
            "the routine has no steps; add at least one [[steps]]",
        ),
        Some(v) => match v.get_ref().as_array() {
            Some(items) if items.is_empty() => c.error(
                v.span(),
                "steps",
                "the routine has no steps; add at least one [[steps]]",
            ),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    reader.entry(&mut c, item, &format!("steps[{i}]"), &defaults, None);
                }
            }
            None => c.error(v.span(), "steps", "expected an array of tables ([[steps]])"),
        },
    }

    let steps = reader.steps;
    if steps.len() > MAX_STEPS {
        c.error(
            0..0,
            "steps",
            format!(
                "has {} steps after expanding sides; the most is {MAX_STEPS}",
                steps.len()
            ),
        );
    }
    let total: Duration = steps.iter().map(|s| s.duration).sum();
    if total > ROUTINE_MAX {
        c.error(
            0..0,
            "steps",
            format!(
                "hands-on time adds up to {}; the most is {}",
                crate::duration::show(total),
                crate::duration::show(ROUTINE_MAX)
            ),
        );
    }
    if title.is_none() && top.get("title").is_none() {
        c.missing(
            top,
            "title",
            "give the routine a title, e.g. title = \"Morning stretch\"",
        );
    }
    let errors = c.finish();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Routine {
        name: name.map(Spanned::into_inner).unwrap_or(fallback_name),
        title: title.map(Spanned::into_inner).unwrap_or_default(),
        description: description.map(Spanned::into_inner).unwrap_or_default(),
        timing,
        voice,
        steps,
        next_side_first,
        lead_in: None,
        spoken_name,
    })
}

fn read_cues(c: &mut Checker<'_>, t: Tbl<'_, '_>) -> Defaults {
    let (min, max) = STEP_DURATION;
    let halfway = c
        .string(t, "halfway")
        .and_then(|s| match s.get_ref().as_str() {
            "none" => Some(HalfwayCue::None),
            "tone" => Some(HalfwayCue::Tone),
            "spoken" => Some(HalfwayCue::Spoken),
            other => {
                c.error(
                    s.span(),
                    &t.field("halfway"),
                    format!(
                        "unknown halfway cue \"{other}\"; use \"none\", \"tone\" or \"spoken\""
                    ),
                );
                None
            }
        });
    let countdown = c
        .string(t, "countdown")
        .and_then(|s| match s.get_ref().as_str() {
            "none" => Some(Countdown::None),
            "ticks" => Some(Countdown::Ticks),
            "spoken" => Some(Countdown::Spoken),
            other => {
                c.error(
                    s.span(),
                    &t.field("countdown"),
                    format!("unknown countdown \"{other}\"; use \"none\", \"ticks\" or \"spoken\""),
                );
                None
            }
        });
    let remind_every = match t.get("remind_every").map(|v| v.get_ref()) {
        Some(DeValue::String(s)) if s == "never" => Some(None),
        Some(_) => c
            .duration(
                t,
                "remind_every",
                Duration::from_secs(10),
                Duration::from_secs(1800),
            )
            .map(Some),
        None => None,
    };
    let every = c.duration(t, "every", MIN_EVERY, Duration::from_secs(600));
    let every_say = c.text(t, "every_say");
    if let Some(s) = &every_say
        && s.get_ref().chars().count() > MAX_EVERY_CHARS
    {
        c.error(
            s.span(),
            &t.field("every_say"),
            format!("is longer than {MAX_EVERY_CHARS} characters: a repeated cue is a few words"),
        );
    }
    let every_tone = c.string(t, "every_tone").and_then(|s| {
        let found = crate::tones::Earcon::ALL
            .into_iter()
            .find(|e| e.name() == s.get_ref());
        if found.is_none() {
            let names: Vec<&str> = crate::tones::Earcon::ALL.iter().map(|e| e.name()).collect();
            c.error(
                s.span(),
                &t.field("every_tone"),
                format!(
                    "unknown tone \"{}\"; use one of {}",
                    s.get_ref(),
                    names.join(", ")
                ),
            );
        }
        found
    });
    if let (Some(_), Some(tone)) = (&every_say, t.get("every_tone")) {
        c.error(
            tone.span(),
            &t.field("every_tone"),
            "give a repeated cue either every_say or every_tone, not both",
        );
    }
    let every_cue = every_say
        .map(|s| RepeatedCue::Say(s.into_inner()))
        .or(every_tone.map(RepeatedCue::Tone));
    Defaults {
        every,
        every_cue,
        duration: c.duration(t, "duration", min, max),
        start_tone: c.boolean(t, "start_tone"),
        end_tone: c.boolean(t, "end_tone"),
        halfway,
        countdown,
        countdown_from: c.number(t, "countdown_from", 1.0..=10.0).map(|n| n as u32),
        remind_every,
    }
}

struct StepReader<'o> {
    opts: &'o ParseOptions,
    steps: Vec<Step>,
    /// Titles seen so far, with the field that used them first.
    titles: HashMap<String, String>,
}

impl StepReader<'_> {
    fn entry(
        &mut self,
        c: &mut Checker<'_>,
        item: &Spanned<DeValue<'_>>,
        field: &str,
        defaults: &Defaults,
        side: Option<(&str, usize, usize)>,
    ) {
        let Some(table) = item.get_ref().as_table() else {
            c.error(item.span(), field, "expected a table ([[steps]])");
            return;
        };
        let t = Tbl {
            table,
            pos: item.span().start,
            prefix: field,
        };
        if t.get("sides").is_some() {
            self.block(c, t, defaults, side);
        } else {
            self.step(c, t, defaults, side);
        }
    }

    fn block(
        &mut self,
        c: &mut Checker<'_>,
        t: Tbl<'_, '_>,
        defaults: &Defaults,
        outer_side: Option<(&str, usize, usize)>,
    ) {
        let mut allowed: Vec<&str> = BLOCK_KEYS.to_vec();
        allowed.extend_from_slice(CUE_KEYS);
        c.known_keys(t, &allowed);
        if outer_side.is_some() {
            c.error(
                t.pos..t.pos,
                &t.field("sides"),
                "blocks of sides cannot be nested",
            );
            return;
        }
        let own = read_cues(c, t).over(defaults);
        let sides = c.string_list(t, "sides").unwrap_or_default();
        if sides.is_empty() {
            if let Some(v) = t.get("sides") {
                c.error(
                    v.span(),
                    &t.field("sides"),
                    "list at least one side, e.g. [\"left\", \"right\"]",
                );
            }
            return;
        }
        let Some(items) = c.array(t, "steps") else {
            c.missing(t, "steps", "a block of sides needs its own [[steps.steps]]");
            return;
        };
        if items.is_empty() {
            c.missing(t, "steps", "a block of sides needs its own [[steps.steps]]");
            return;
        }
        for (si, side) in sides.iter().enumerate() {
            for (i, item) in items.iter().enumerate() {
                let field = format!("{}.steps[{i}]", t.prefix);
                self.entry(c, item, &field, &own, Some((side.get_ref(), si, i)));
            }
        }
    }

    fn step(
        &mut self,
        c: &mut Checker<'_>,
        t: Tbl<'_, '_>,
        defaults: &Defaults,
        side: Option<(&str, usize, usize)>,
    ) {
        // Fields of a block's steps are read once per side; report their problems only once.
        let first_pass = side.is_none_or(|(_, si, _)| si == 0);
        let before = c.errors.len();
        let mut allowed: Vec<&str> = STEP_KEYS.to_vec();
        allowed.extend_from_slice(CUE_KEYS);
        c.known_keys(t, &allowed);
        let own = read_cues(c, t).over(defaults);
        let sub = |s: &str| match side {
            Some((name, _, _)) => substitute_side(s, name),
            None => s.to_string(),
        };
        let title = c.text(t, "title").map(|s| sub(s.get_ref()));
        let say = c.text(t, "say");
        if let Some(s) = &say
            && s.get_ref().chars().count() > MAX_PROMPT_CHARS
        {
            c.error(
                s.span(),
                &t.field("say"),
                format!("is longer than {MAX_PROMPT_CHARS} characters; split it into steps"),
            );
        }
        let say = say.map(|s| sub(s.get_ref()));
        let audio = c.text(t, "audio").and_then(|a| {
            let name = sub(a.get_ref());
            super::audio::resolve(&name, &self.search_dirs())
                .map_err(|msg| c.error(a.span(), &t.field("audio"), msg))
                .ok()
        });
        if say.is_none() && audio.is_none() && t.get("say").is_none() && t.get("audio").is_none() {
            c.missing(
                t,
                "say",
                "a step needs a prompt: `say = \"...\"`, `audio = \"file.ogg\"`, or both",
            );
        }
        if title.is_none() && t.get("title").is_none() {
            c.missing(
                t,
                "title",
                "give the step a short title, e.g. title = \"Shoulders\"",
            );
        }
        // A repeated cue needs an interval and a sound, and room to be heard between repeats.
        match (own.every, &own.every_cue) {
            (Some(_), None) => match t.get("every") {
                Some(v) => c.error(
                    v.span(),
                    &t.field("every"),
                    "a repeated cue needs what to play: every_say = \"...\" or every_tone = \"tick\"",
                ),
                None => c.missing(
                    t,
                    "every_say",
                    "`every` in [defaults] needs what to play: every_say = \"...\" or every_tone = \"tick\"",
                ),
            },
            (None, Some(_)) => c.missing(
                t,
                "every",
                "every_say and every_tone need an interval: every = \"30s\"",
            ),
            (Some(every), Some(cue)) => {
                let takes = repeated_cue_length(cue) + 2 * crate::plan::CUE_GAP;
                if every < takes {
                    let span = t.get("every").map_or(t.pos..t.pos, |v| v.span());
                    c.error(
                        span,
                        &t.field("every"),
                        format!(
                            "{} is shorter than its cue takes with a pause either side (about {}); repeat it less often or make it shorter",
                            crate::duration::show(every),
                            crate::duration::show(Duration::from_millis(takes.as_millis().div_ceil(100) as u64 * 100))
                        ),
                    );
                }
            }
            (None, None) => {}
        }
        // A step that lasts until `next`: no end to count down to, elapsed time said instead.
        let open = match c.string(t, "until") {
            None => false,
            Some(u) if u.get_ref() == "next" => true,
            Some(u) => {
                c.error(
                    u.span(),
                    &t.field("until"),
                    format!(
                        "\"{}\" is not known: `until = \"next\"` is a step that lasts until you say next; a step that ends by itself has a duration instead",
                        u.get_ref()
                    ),
                );
                false
            }
        };
        if open {
            if let Some(d) = t.get("duration") {
                c.error(
                    d.span(),
                    &t.field("duration"),
                    format!(
                        "a step that lasts until next has no duration (plan and render show it at {}); remove one of the two",
                        crate::duration::show(super::OPEN_STEP_SHOWN)
                    ),
                );
            }
            for key in ["countdown", "end_tone", "halfway"] {
                if let Some(v) = t.get(key) {
                    c.error(
                        v.span(),
                        &t.field(key),
                        "a step that lasts until next has no end to count down to or mark",
                    );
                }
            }
            if let Some(Some(every)) = own.remind_every
                && !every.as_secs().is_multiple_of(60)
            {
                let span = t.get("remind_every").map_or(t.pos..t.pos, |v| v.span());
                c.error(
                    span,
                    &t.field("remind_every"),
                    "a step that lasts until next says how long it has lasted in whole minutes: use \"1m\", \"2m\"...",
                );
            }
        } else if own.duration.is_none() && t.get("duration").is_none() {
            c.missing(
                t,
                "duration",
                "set a duration here or in [defaults], e.g. duration = \"45s\"",
            );
        }
        if let Some(title) = &title {
            if let Some(first) = self.titles.get(title) {
                let hint = if side.is_some() {
                    " (put {side} in the titles of a block's steps)"
                } else {
                    ""
                };
                let span = t.get("title").map(|v| v.span()).unwrap_or(t.pos..t.pos);
                c.error(
                    span,
                    &t.field("title"),
                    format!("duplicate step title \"{title}\", first used by {first}{hint}"),
                );
            } else {
                self.titles.insert(title.clone(), t.prefix.to_string());
            }
        }
        if !first_pass {
            // A block's step is read once per side: keep only the problems this side adds.
            let new: Vec<Diagnostic> = c.errors.drain(before..).collect();
            for e in new {
                if !c.errors.contains(&e) {
                    c.errors.push(e);
                }
            }
        }
        let duration = if open {
            Some(super::OPEN_STEP_SHOWN)
        } else {
            own.duration
        };
        let (Some(title), Some(duration)) = (title, duration) else {
            return;
        };
        let switches_side = matches!(side, Some((_, si, 0)) if si > 0);
        let mut cues = own.cues();
        if open {
            // (from [defaults]: an open step has no end for them)
            cues.countdown = Countdown::None;
            cues.end_tone = false;
            cues.halfway = HalfwayCue::None;
        }
        self.steps.push(Step {
            title,
            say,
            audio,
            duration,
            cues,
            side: side.map(|(s, _, _)| s.to_string()),
            switches_side,
            open,
        });
    }

    fn search_dirs(&self) -> Vec<PathBuf> {
        self.opts
            .base_dir
            .iter()
            .chain(self.opts.audio_dirs.iter())
            .cloned()
            .collect()
    }
}

/// The shortest interval of a repeated cue.
const MIN_EVERY: Duration = Duration::from_secs(3);
/// The longest words a repeated cue says.
const MAX_EVERY_CHARS: usize = 80;

/// About how long a repeated cue plays, before any voice has said it: a tone's own length, or
/// speech at a calm 14 characters a second (the check errs towards room to breathe).
pub fn repeated_cue_length(cue: &RepeatedCue) -> Duration {
    match cue {
        RepeatedCue::Tone(e) => crate::tones::EarconSet::Chime.render(*e).duration(),
        RepeatedCue::Say(text) => Duration::from_secs_f64(text.chars().count() as f64 / 14.0),
    }
}

/// Puts the side's name into a prompt: `{side}` as written, `{Side}` capitalised.
pub fn substitute_side(text: &str, side: &str) -> String {
    let mut cap = side.to_string();
    if let Some(first) = cap.get(0..1) {
        cap = first.to_uppercase() + &cap[1..];
    }
    text.replace("{side}", side).replace("{Side}", &cap)
}

#[cfg(test)]
mod tests;
