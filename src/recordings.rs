//! A loved one's voice: prompts recorded with `letdown record`, kept in the audio folder by
//! routine and text, and played in place of synthesis. A recording belongs to the exact words
//! it speaks: change a prompt's text and the voice speaks it again until it is recorded anew.
//!
//! Also what makes a recording sit beside synthesized prompts: trimming its silence and
//! evening its loudness (EBU R128 integrated loudness) to theirs.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::clip::{Clip, SAMPLE_RATE};
use crate::routine::Routine;

/// Where `routine`'s recordings live under letdown's data folder.
pub fn folder(data_dir: &Path, routine: &str) -> PathBuf {
    // A routine's name is a file stem or a `name` from a file: kept only if it is plain.
    let plain = !routine.is_empty()
        && routine.len() <= 64
        && routine
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !routine.starts_with('.');
    let name = if plain {
        routine.to_string()
    } else {
        format!("routine-{}", key(routine))
    };
    data_dir.join("audio/recorded").join(name)
}

/// The recording of `text` in `routine` (it may not exist).
pub fn file_for(data_dir: &Path, routine: &str, text: &str) -> PathBuf {
    folder(data_dir, routine).join(format!("{}.wav", key(text)))
}

/// A short, stable name for a text.
fn key(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes `routine` play its recorded prompts: each step whose text has a recording gets it as
/// its `audio` (the text stays its transcript). Recorded wins over synthesis and over the
/// routine's own audio.
pub fn apply(routine: &mut Routine, data_dir: &Path) {
    for step in &mut routine.steps {
        if let Some(text) = &step.say {
            let file = file_for(data_dir, &routine.name, text);
            if file.is_file() {
                step.audio = Some(file);
            }
        }
    }
}

/// True when `path` is one of letdown's recordings (for `letdown plan`).
pub fn is_recording(data_dir: &Path, path: &Path) -> bool {
    path.starts_with(data_dir.join("audio/recorded"))
}

/// Integrated loudness (EBU R128, LUFS) of 48 kHz mono samples; `None` for silence or a
/// sound too short to measure (under 400 ms).
pub fn loudness(samples: &[f32]) -> Option<f64> {
    let mut meter = ebur128::EbuR128::new(1, SAMPLE_RATE, ebur128::Mode::I).ok()?;
    meter.add_frames_f32(samples).ok()?;
    meter.loudness_global().ok().filter(|l| l.is_finite())
}

/// A recording made ready to play beside synthesized prompts: its silence trimmed, its
/// loudness brought to `target` LUFS (by at most 30 dB), and its peaks kept below full scale.
/// Returns the clip and the gain applied (dB).
pub fn even(clip: &Clip, target: f64) -> (Clip, f64) {
    let trimmed = clip.trimmed(crate::voice::TAIL_PAD);
    let Some(now) = loudness(trimmed.samples()) else {
        return (trimmed, 0.0);
    };
    let peak = trimmed
        .samples()
        .iter()
        .fold(0.0f32, |m, s| m.max(s.abs()))
        .max(1e-6);
    let mut gain_db = (target - now).clamp(-30.0, 30.0);
    // No louder than 0.98 at its peak: a limiter would change the voice; a lower level does not.
    let ceiling_db = 20.0 * (0.98 / peak as f64).log10();
    gain_db = gain_db.min(ceiling_db);
    let g = 10f64.powf(gain_db / 20.0) as f32;
    let samples = trimmed.samples().iter().map(|s| s * g).collect();
    (Clip::new(samples), gain_db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(amplitude: f32, secs: f32) -> Clip {
        let n = (secs * SAMPLE_RATE as f32) as usize;
        Clip::new(
            (0..n)
                .map(|i| amplitude * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin())
                .collect(),
        )
    }

    #[test]
    fn a_quiet_recording_is_brought_to_the_target_loudness() {
        let quiet = tone(0.02, 2.0);
        let (even, gain) = even(&quiet, -20.0);
        assert!(gain > 10.0, "{gain}");
        let l = loudness(even.samples()).unwrap();
        assert!((l + 20.0).abs() < 0.5, "{l}");
    }

    #[test]
    fn evening_never_clips() {
        // Loud peaks, low loudness: a click in silence.
        let mut s = vec![0.0; 48_000];
        s.extend(tone(0.01, 1.0).samples());
        s[24_000] = 0.9;
        let (even, _) = even(&Clip::new(s), -10.0);
        assert!(even.samples().iter().all(|s| s.abs() <= 0.981));
    }

    #[test]
    fn a_routine_name_that_is_not_plain_becomes_a_hash() {
        let d = Path::new("/data");
        assert_eq!(
            folder(d, "lactation-massage"),
            Path::new("/data/audio/recorded/lactation-massage")
        );
        for bad in ["../../etc", "a/b", ".hidden", ""] {
            let f = folder(d, bad);
            assert!(
                f.to_string_lossy()
                    .starts_with("/data/audio/recorded/routine-"),
                "{f:?}"
            );
        }
        assert_ne!(file_for(d, "r", "One."), file_for(d, "r", "Two."));
    }
}
