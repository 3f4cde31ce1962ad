//! Earcons: the short tones between and within steps.
//!
//! Each cue has its own small melody so it can be told apart without looking: a rising pair to
//! start a step, a single soft note at halfway, a quiet tick for countdowns, a rising triad when
//! switching sides, and a slow falling phrase at the end. They are synthesized here (sine
//! partials under a smooth envelope: a raised-cosine attack and release, so no clicks), which
//! keeps the program free of binary assets; `letdown tones DIR` writes them out as WAV files.

use std::f32::consts::PI;

use crate::clip::{Clip, SAMPLE_RATE};

/// What a tone means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Earcon {
    /// A step begins.
    StepStart,
    /// The hands-on time of a step ends.
    StepEnd,
    /// Half the hands-on time has passed.
    Halfway,
    /// One second of a countdown.
    Tick,
    /// The routine moves on to the other side.
    SideSwitch,
    /// The session is over.
    SessionEnd,
    /// A key's action was done (the feedback when no words are needed).
    Done,
    /// A key's action could not be done: low and falling, unlike every other tone.
    Refused,
}

impl Earcon {
    /// Every earcon, for listing and export.
    pub const ALL: [Earcon; 8] = [
        Earcon::StepStart,
        Earcon::StepEnd,
        Earcon::Halfway,
        Earcon::Tick,
        Earcon::SideSwitch,
        Earcon::SessionEnd,
        Earcon::Done,
        Earcon::Refused,
    ];

    /// The name used in files and logs.
    pub fn name(self) -> &'static str {
        match self {
            Earcon::StepStart => "step-start",
            Earcon::StepEnd => "step-end",
            Earcon::Halfway => "halfway",
            Earcon::Tick => "tick",
            Earcon::SideSwitch => "side-switch",
            Earcon::SessionEnd => "session-end",
            Earcon::Done => "done",
            Earcon::Refused => "refused",
        }
    }
}

/// A family of earcons with one timbre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EarconSet {
    /// Bell-like, with a few soft overtones (default).
    #[default]
    Chime,
    /// Pure sine tones with slower attacks: the quietest choice, for night feeds.
    Soft,
}

impl EarconSet {
    /// The config names of the sets.
    pub const NAMES: [&'static str; 2] = ["chime", "soft"];

    /// Reads a set by its config name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "chime" => Some(Self::Chime),
            "soft" => Some(Self::Soft),
            _ => None,
        }
    }

    /// One earcon, synthesized on first use and kept (a few hundred kB for all of them).
    pub fn render(self, earcon: Earcon) -> Clip {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static MADE: OnceLock<Mutex<HashMap<(EarconSet, Earcon), Clip>>> = OnceLock::new();
        let made = MADE.get_or_init(Default::default);
        // Entries are whole clips, inserted at once: a panic elsewhere cannot leave one half made,
        // so a poisoned cache is still good.
        let cache = || made.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache().get(&(self, earcon)) {
            return c.clone();
        }
        let clip = self.synthesize(earcon);
        cache().insert((self, earcon), clip.clone());
        clip
    }

    fn synthesize(self, earcon: Earcon) -> Clip {
        // (start seconds, frequency Hz, length seconds, level)
        let notes: &[(f32, f32, f32, f32)] = match earcon {
            Earcon::StepStart => &[(0.0, 784.0, 0.30, 0.30), (0.12, 1046.5, 0.40, 0.30)],
            Earcon::StepEnd => &[(0.0, 1046.5, 0.30, 0.25), (0.12, 784.0, 0.40, 0.25)],
            Earcon::Halfway => &[(0.0, 659.3, 0.45, 0.22)],
            Earcon::Tick => &[(0.0, 1318.5, 0.07, 0.18)],
            Earcon::SideSwitch => &[
                (0.0, 523.3, 0.30, 0.28),
                (0.14, 659.3, 0.30, 0.28),
                (0.28, 784.0, 0.45, 0.28),
            ],
            Earcon::Done => &[(0.0, 880.0, 0.18, 0.22), (0.09, 1174.7, 0.30, 0.22)],
            Earcon::Refused => &[(0.0, 349.2, 0.22, 0.30), (0.16, 293.7, 0.40, 0.30)],
            Earcon::SessionEnd => &[
                (0.0, 784.0, 0.45, 0.28),
                (0.22, 659.3, 0.45, 0.28),
                (0.44, 523.3, 1.10, 0.30),
                (0.44, 392.0, 1.10, 0.18),
            ],
        };
        let (partials, attack): (&[(f32, f32)], f32) = match self {
            EarconSet::Chime => (&[(1.0, 1.0), (2.0, 0.25), (3.0, 0.08)], 0.006),
            EarconSet::Soft => (&[(1.0, 1.0)], 0.02),
        };
        let total = notes
            .iter()
            .map(|(start, _, len, _)| start + len)
            .fold(0.0f32, f32::max);
        let mut out = vec![0.0f32; (total * SAMPLE_RATE as f32).ceil() as usize];
        for &(start, freq, len, level) in notes {
            let offset = (start * SAMPLE_RATE as f32) as usize;
            let n = (len * SAMPLE_RATE as f32) as usize;
            for i in 0..n {
                let t = i as f32 / SAMPLE_RATE as f32;
                let env = envelope(t, len, attack);
                let v: f32 = partials
                    .iter()
                    .map(|(mult, amp)| amp * (2.0 * PI * freq * mult * t).cos())
                    .sum();
                out[offset + i] += v * env * level / 1.33;
            }
        }
        Clip::new(out)
    }
}

/// The melody a listener hears in `samples` (48 kHz): for each 10-ms step, the note sounding
/// loudest in the 20 ms from there (a MIDI note number, C3 to C7), or `None` where it is
/// quieter than -40 dBFS. Two earcons are told apart by their melodies, not by their lengths or
/// loudness envelopes (which the done and refused tones share nearly).
pub fn melody(samples: &[f32]) -> Vec<Option<u8>> {
    const HOP: usize = SAMPLE_RATE as usize / 100;
    const WINDOW: usize = 2 * HOP;
    (0..samples.len().saturating_sub(WINDOW) / HOP + 1)
        .map(|i| {
            let frame = &samples[i * HOP..(i * HOP + WINDOW).min(samples.len())];
            let rms = (frame.iter().map(|x| x * x).sum::<f32>() / frame.len().max(1) as f32).sqrt();
            if rms < 0.01 {
                return None;
            }
            (48u8..=96)
                .map(|note| {
                    (
                        note,
                        goertzel(frame, 440.0 * 2f32.powf((note as f32 - 69.0) / 12.0)),
                    )
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(note, _)| note)
        })
        .collect()
}

/// The power of `freq` in `frame` (Goertzel's algorithm: one bin of a DFT).
fn goertzel(frame: &[f32], freq: f32) -> f32 {
    let w = 2.0 * PI * freq / SAMPLE_RATE as f32;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in frame {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// How alike two melodies sound, 0 to 1: of the steps where either sounds, the share where
/// both sound the same note (a semitone apart at most), at the best of a few steps' offset (a
/// sound found by its envelope may be placed 10 or 20 ms off).
pub fn melody_agreement(a: &[Option<u8>], b: &[Option<u8>]) -> f32 {
    (-2i32..=2)
        .map(|shift| {
            let (mut sounding, mut same) = (0u32, 0u32);
            for (i, x) in a.iter().enumerate() {
                let j = i as i32 + shift;
                let y = if j >= 0 {
                    b.get(j as usize).copied().flatten()
                } else {
                    None
                };
                match (x, y) {
                    (None, None) => {}
                    (Some(x), Some(y)) if x.abs_diff(y) <= 1 => {
                        sounding += 1;
                        same += 1;
                    }
                    _ => sounding += 1,
                }
            }
            if sounding == 0 {
                0.0
            } else {
                same as f32 / sounding as f32
            }
        })
        .fold(0.0, f32::max)
}

/// Raised-cosine attack, exponential decay, raised-cosine release over the last 30%: smooth at
/// both ends, so the tone starts and stops without a click.
fn envelope(t: f32, len: f32, attack: f32) -> f32 {
    let rise = if t < attack {
        0.5 - 0.5 * (PI * t / attack).cos()
    } else {
        1.0
    };
    let decay = (-3.0 * t / len).exp();
    let release_start = len * 0.7;
    let fall = if t > release_start {
        0.5 + 0.5 * (PI * (t - release_start) / (len - release_start)).cos()
    } else {
        1.0
    };
    rise * decay * fall
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_earcon_starts_and_ends_at_silence_and_never_clips() {
        for set in [EarconSet::Chime, EarconSet::Soft] {
            for e in Earcon::ALL {
                let clip = set.render(e);
                let s = clip.samples();
                assert!(s.len() > 1000, "{e:?} too short");
                assert!(s[0].abs() < 1e-3, "{e:?} starts with a click");
                assert!(s[s.len() - 1].abs() < 1e-3, "{e:?} ends with a click");
                let peak = s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                assert!(peak > 0.05 && peak < 0.9, "{e:?} peak {peak}");
                // no jump between neighbouring samples larger than a smooth tone can make
                let max_step = s
                    .windows(2)
                    .map(|w| (w[1] - w[0]).abs())
                    .fold(0.0, f32::max);
                assert!(max_step < 0.2, "{e:?} has a discontinuity of {max_step}");
            }
        }
    }

    #[test]
    fn a_tick_fits_well_inside_one_second() {
        assert!(EarconSet::Chime.render(Earcon::Tick).duration().as_millis() < 200);
    }

    /// What a listener hears tells every earcon from every other: their melodies agree on
    /// under half of their sounding time, in both sets, while an earcon agrees with itself.
    #[test]
    fn earcons_are_distinct() {
        for set in [EarconSet::Chime, EarconSet::Soft] {
            let melodies: Vec<(Earcon, Vec<Option<u8>>)> = Earcon::ALL
                .iter()
                .map(|&e| (e, melody(set.render(e).samples())))
                .collect();
            for (a, ma) in &melodies {
                assert_eq!(melody_agreement(ma, ma), 1.0, "{a:?}");
                for (b, mb) in &melodies {
                    if a != b {
                        let agree = melody_agreement(ma, mb);
                        println!("{set:?} {a:?} ~ {b:?}: {agree:.2}");
                        assert!(agree < 0.5, "{set:?}: {a:?} sounds like {b:?} ({agree:.2})");
                    }
                }
            }
        }
    }

    #[test]
    fn a_melody_names_the_notes_played() {
        // Done: A5 (880 Hz) then D6 (1174.7 Hz); Refused: F4 (349.2 Hz) then D4 (293.7 Hz).
        let notes = |e| {
            let mut n: Vec<u8> = melody(EarconSet::Soft.render(e).samples())
                .into_iter()
                .flatten()
                .collect();
            n.dedup();
            n
        };
        // (A step where both notes sound may name a note between them.)
        let (done, refused) = (notes(Earcon::Done), notes(Earcon::Refused));
        assert_eq!((done[0], done[done.len() - 1]), (81, 86), "{done:?}");
        assert_eq!(
            (refused[0], refused[refused.len() - 1]),
            (65, 62),
            "{refused:?}"
        );
    }
}
