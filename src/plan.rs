//! The plan: every cue of every step at its exact offset, made before a session starts.
//!
//! Given a routine and the lengths of its sounds (prompts, phrases, tones), the plan fixes when
//! each sound starts. Collisions are settled here, once, by priority (the prompt first, then the
//! countdown and end tone, then halfway, then a step's repeated cue, then "time left"
//! reminders): a lower cue that would overlap a higher one is dropped, so an instruction is
//! never interrupted by a cue.

use std::time::Duration;

use crate::phrase::Phrase;
use crate::routine::{Countdown, HalfwayCue, RepeatedCue, Routine, Timing};
use crate::tones::Earcon;

/// Silence between a start tone and the prompt after it.
pub const TONE_TO_PROMPT: Duration = Duration::from_millis(250);
/// Silence between a session's lead-in ("The right side is next.") and its first step.
pub const LEAD_IN_GAP: Duration = Duration::from_millis(600);
/// The least silence kept around a cue in the hands-on time.
pub const CUE_GAP: Duration = Duration::from_millis(300);
/// How long an open step's repeated cues and reminders go on (it lasts until `next`).
pub const OPEN_HORIZON: Duration = Duration::from_secs(3600);

/// Something that sounds: a tone or a piece of speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sound {
    /// An earcon.
    Tone(Earcon),
    /// The prompt of step N (0-based).
    Prompt(usize),
    /// A stock phrase.
    Phrase(Phrase),
    /// The words step N (0-based) repeats through its hands-on time (`every_say`).
    Repeated(usize),
}

/// The lengths of the sounds a plan is made of; known once the voice has prepared them.
pub trait SoundLengths {
    /// How long `sound` plays.
    fn length(&self, sound: Sound) -> Duration;
}

/// One cue within a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedCue {
    /// Offset from the step's start, before any extension.
    pub at: Duration,
    /// True for cues counted back from the end (countdown, reminders, end tones): they move
    /// later when the step is extended.
    pub from_end: bool,
    /// What plays.
    pub sound: Sound,
    /// How long it plays.
    pub len: Duration,
}

/// One step's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    /// Step title.
    pub title: String,
    /// When the prompt starts (offset from the step's start).
    pub prompt_at: Duration,
    /// How long the prompt plays.
    pub prompt_len: Duration,
    /// When hands-on time starts.
    pub hands_on_start: Duration,
    /// How long hands-on time lasts.
    pub hands_on: Duration,
    /// The whole step, end tones included; the next step starts right after. For a step that
    /// lasts until `next` ([`StepPlan::open`]), the length it is shown and rendered at.
    pub length: Duration,
    /// Every cue, sorted by `at`.
    pub cues: Vec<PlannedCue>,
    /// The step lasts until `next` (`until = "next"`): live, it never ends on its own.
    pub open: bool,
    /// An open step's cues after its shown length, up to [`OPEN_HORIZON`] (live only).
    pub beyond: Vec<PlannedCue>,
}

impl StepPlan {
    /// When hands-on time ends.
    pub fn hands_on_end(&self) -> Duration {
        self.hands_on_start + self.hands_on
    }
}

/// A whole routine's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The routine's name.
    pub routine: String,
    /// The routine's title.
    pub title: String,
    /// The steps, in order. The last one includes the session-end tone.
    pub steps: Vec<StepPlan>,
}

impl Plan {
    /// The session's total length from start to the end of the last sound.
    pub fn total(&self) -> Duration {
        self.steps.iter().map(|s| s.length).sum()
    }

    /// When step `i` starts, from the session's start (if never paused or skipped).
    pub fn step_start(&self, i: usize) -> Duration {
        self.steps[..i].iter().map(|s| s.length).sum()
    }

    /// Every sound the plan plays, each once.
    pub fn sounds(&self) -> Vec<Sound> {
        let mut v: Vec<Sound> = self
            .steps
            .iter()
            .flat_map(|s| s.cues.iter().map(|c| c.sound))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Makes the plan of `routine` with the given sound lengths.
    pub fn new(routine: &Routine, lengths: &dyn SoundLengths) -> Plan {
        let n = routine.steps.len();
        let steps = routine
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| plan_step(routine, i, i + 1 == n, lengths, &step.title))
            .collect();
        Plan {
            routine: routine.name.clone(),
            title: routine.title.clone(),
            steps,
        }
    }
}

/// Every phrase the plan of `routine` may use (before collisions drop some), plus
/// [`run_time_phrases`]: the phrase bank to prepare ahead.
pub fn phrase_bank(routine: &Routine) -> Vec<Phrase> {
    let mut v = Vec::new();
    for step in &routine.steps {
        if step.cues.countdown == Countdown::Spoken {
            v.extend((1..=step.cues.countdown_from).map(Phrase::Count));
        }
        if step.cues.halfway == HalfwayCue::Spoken {
            v.push(Phrase::Halfway);
        }
        match step.cues.remind_every {
            Some(every) if step.open => {
                let mut so_far = every;
                while so_far < OPEN_HORIZON {
                    v.push(Phrase::Elapsed(so_far.as_secs() as u32));
                    so_far += every;
                }
            }
            Some(every) => {
                let mut left = every;
                while left < step.duration {
                    v.push(Phrase::TimeLeft(left.as_secs() as u32));
                    left += every;
                }
            }
            None => {}
        }
    }
    v.extend(routine.lead_in);
    v.extend(run_time_phrases(routine));
    v.sort();
    v.dedup();
    v
}

/// The phrases a session of `routine` may need at run time besides its plan: "step N of M" for
/// every step and "time left" in 5-second steps up to the longest step, for "where am I".
pub fn run_time_phrases(routine: &Routine) -> Vec<Phrase> {
    let total = routine.steps.len() as u32;
    let mut v: Vec<Phrase> = (1..=total).map(|i| Phrase::StepOf(i, total)).collect();
    let longest = routine
        .steps
        .iter()
        .map(|s| s.duration.as_secs() as u32)
        .max()
        .unwrap_or(0);
    v.extend(
        (1..=longest.div_ceil(5))
            .map(|k| Phrase::TimeLeft(k * 5))
            .filter(|p| !matches!(p, Phrase::TimeLeft(s) if *s > longest + 4)),
    );
    v
}

fn plan_step(
    routine: &Routine,
    index: usize,
    last: bool,
    lengths: &dyn SoundLengths,
    title: &str,
) -> StepPlan {
    let step = &routine.steps[index];
    let mut cues = Vec::new();
    let mut cursor = Duration::ZERO;
    // The session's first words ("The right side is next."), then the first step as usual.
    if let Some(p) = routine.lead_in.filter(|_| index == 0) {
        let len = lengths.length(Sound::Phrase(p));
        cues.push(PlannedCue {
            at: Duration::ZERO,
            from_end: false,
            sound: Sound::Phrase(p),
            len,
        });
        cursor = len + LEAD_IN_GAP;
    }
    let start_tone = if step.switches_side {
        Some(Earcon::SideSwitch)
    } else if step.cues.start_tone {
        Some(Earcon::StepStart)
    } else {
        None
    };
    if let Some(t) = start_tone {
        let len = lengths.length(Sound::Tone(t));
        cues.push(PlannedCue {
            at: cursor,
            from_end: false,
            sound: Sound::Tone(t),
            len,
        });
        cursor += len + TONE_TO_PROMPT;
    }
    let prompt_at = cursor;
    let prompt_len = lengths.length(Sound::Prompt(index));
    cues.push(PlannedCue {
        at: prompt_at,
        from_end: false,
        sound: Sound::Prompt(index),
        len: prompt_len,
    });
    let prompt_end = prompt_at + prompt_len;
    let hands_on_start = match routine.timing {
        Timing::AfterPrompt => prompt_end,
        Timing::WithPrompt => prompt_at,
    };
    let hands_on = match routine.timing {
        Timing::AfterPrompt => step.duration,
        Timing::WithPrompt => step.duration.max(prompt_len),
    };
    let end = hands_on_start + hands_on;
    // An open step's cues are planned up to the horizon; what falls after its shown length is
    // kept apart, for live sessions.
    let horizon = if step.open {
        hands_on_start + OPEN_HORIZON
    } else {
        end
    };

    // Hands-on cues, highest priority first; each is kept only if it fits without overlap.
    let mut wanted: Vec<PlannedCue> = Vec::new();
    let mut length = end;
    if step.cues.end_tone {
        let len = lengths.length(Sound::Tone(Earcon::StepEnd));
        wanted.push(PlannedCue {
            at: end,
            from_end: true,
            sound: Sound::Tone(Earcon::StepEnd),
            len,
        });
        length += len;
    }
    if last {
        let len = lengths.length(Sound::Tone(Earcon::SessionEnd));
        wanted.push(PlannedCue {
            at: length,
            from_end: true,
            sound: Sound::Tone(Earcon::SessionEnd),
            len,
        });
        length += len;
    }
    // The countdown's cues are the ones pushed next (a tick may also be a repeated cue's).
    let first_count = wanted.len();
    for k in 1..=step.cues.countdown_from {
        let sound = match step.cues.countdown {
            Countdown::None => break,
            Countdown::Ticks => Sound::Tone(Earcon::Tick),
            Countdown::Spoken => Sound::Phrase(Phrase::Count(k)),
        };
        if let Some(at) = end.checked_sub(Duration::from_secs(k as u64)) {
            wanted.push(PlannedCue {
                at,
                from_end: true,
                sound,
                len: lengths.length(sound),
            });
        }
    }
    let counts = first_count..wanted.len();
    let halfway = match step.cues.halfway {
        HalfwayCue::None => None,
        HalfwayCue::Tone => Some(Sound::Tone(Earcon::Halfway)),
        HalfwayCue::Spoken => Some(Sound::Phrase(Phrase::Halfway)),
    };
    if let Some(sound) = halfway {
        wanted.push(PlannedCue {
            at: hands_on_start + hands_on / 2,
            from_end: false,
            sound,
            len: lengths.length(sound),
        });
    }
    if let Some(every) = step.cues.remind_every.filter(|_| step.open) {
        // "Six minutes.": how long an open step has lasted; above its repeated cue (a cue
        // every 30 s would otherwise take every whole minute).
        let mut so_far = every;
        while hands_on_start + so_far < horizon {
            let sound = Sound::Phrase(Phrase::Elapsed(so_far.as_secs() as u32));
            wanted.push(PlannedCue {
                at: hands_on_start + so_far,
                from_end: false,
                sound,
                len: lengths.length(sound),
            });
            so_far += every;
        }
    }
    // The repeated cue, at exact offsets from the start of the hands-on time: below the prompt,
    // the countdown, the end tones and halfway, above "time left".
    if let Some((every, cue)) = &step.cues.every {
        let sound = match cue {
            RepeatedCue::Say(_) => Sound::Repeated(index),
            RepeatedCue::Tone(e) => Sound::Tone(*e),
        };
        let len = lengths.length(sound);
        let mut at = hands_on_start + *every;
        while at < horizon {
            wanted.push(PlannedCue {
                at,
                from_end: false,
                sound,
                len,
            });
            at += *every;
        }
    }
    if let Some(every) = step.cues.remind_every.filter(|_| !step.open) {
        let mut left = every;
        while left < step.duration {
            let sound = Sound::Phrase(Phrase::TimeLeft(left.as_secs() as u32));
            wanted.push(PlannedCue {
                at: end - left,
                from_end: true,
                sound,
                len: lengths.length(sound),
            });
            left += every;
        }
    }

    // Countdown and end cues are kept in order of urgency; others must also stay clear of the
    // prompt and of every cue already kept.
    let mut kept: Vec<(PlannedCue, bool)> = Vec::new();
    // A countdown is heard as a run ending at "one": once a count cannot be kept, the higher
    // ones are dropped too, so it never skips a number.
    let mut countdown_cut = false;
    for (i, c) in wanted.into_iter().enumerate() {
        let is_count = counts.contains(&i);
        if is_count && countdown_cut {
            continue;
        }
        let is_end_cue = matches!(c.sound, Sound::Tone(Earcon::StepEnd | Earcon::SessionEnd));
        let clear_of_prompt =
            c.at >= prompt_end + if is_end_cue { Duration::ZERO } else { CUE_GAP };
        let overlaps = kept.iter().any(|&(k, k_is_count)| {
            // Counts follow each other on the second, like a person counting: no extra gap.
            let gap = if is_end_cue
                || (is_count && k_is_count)
                || matches!(k.sound, Sound::Tone(Earcon::StepEnd | Earcon::SessionEnd))
            {
                Duration::ZERO
            } else {
                CUE_GAP
            };
            c.at < k.at + k.len + gap && k.at < c.at + c.len + gap
        });
        let within = c.at + c.len <= length.max(horizon);
        if (is_end_cue || clear_of_prompt) && !overlaps && within {
            kept.push((c, is_count));
        } else if is_count {
            countdown_cut = true;
        }
    }
    let (shown, beyond): (Vec<PlannedCue>, Vec<PlannedCue>) = kept
        .into_iter()
        .map(|(c, _)| c)
        .partition(|c| c.at + c.len <= length);
    cues.extend(shown);
    cues.sort_by_key(|c| c.at);
    StepPlan {
        title: title.to_string(),
        prompt_at,
        prompt_len,
        hands_on_start,
        hands_on,
        length,
        cues,
        open: step.open,
        beyond,
    }
}

#[cfg(test)]
pub(crate) mod tests;
