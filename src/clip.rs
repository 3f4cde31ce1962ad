//! Mono audio clips at letdown's one sample rate.
//!
//! Everything letdown plays (prompts, phrases, tones) is turned into a [`Clip`] once, at
//! 48 kHz mono f32, before a session needs it. Mixing and timing then work in whole samples,
//! which is what makes a rendered session exact to the sample.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rodio::Source;

/// The sample rate of every clip and of the mix.
pub const SAMPLE_RATE: u32 = 48_000;

/// The longest sound decoded: a prompt or a recording is seconds long; this bound keeps a
/// hostile or broken file from filling memory.
pub const MAX_DECODED: Duration = Duration::from_secs(15 * 60);

/// A short mono sound at [`SAMPLE_RATE`], cheap to clone.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    samples: Arc<[f32]>,
}

/// Runs a decoder, turning a panic inside it (a decoder bug on a malformed file) into an error,
/// so no file can take the daemon down.
fn guarded<T>(decode: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
        .unwrap_or_else(|_| Err("the decoder failed on this file (it is malformed)".into()))
}

/// Converts a time offset to a sample index, rounding to the nearest sample.
pub fn to_samples(d: Duration) -> u64 {
    (d.as_nanos() * SAMPLE_RATE as u128 + 500_000_000).div_euclid(1_000_000_000) as u64
}

/// Converts a sample count to a duration (exact to the nanosecond, rounded).
pub fn to_duration(samples: u64) -> Duration {
    Duration::from_nanos(
        ((samples as u128 * 1_000_000_000 + SAMPLE_RATE as u128 / 2) / SAMPLE_RATE as u128) as u64,
    )
}

impl Clip {
    /// Wraps samples already at [`SAMPLE_RATE`].
    pub fn new(samples: Vec<f32>) -> Self {
        Self {
            samples: samples.into(),
        }
    }

    /// The samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// How long the clip plays.
    pub fn duration(&self) -> Duration {
        to_duration(self.samples.len() as u64)
    }

    /// Decodes an audio file (WAV, OGG/Vorbis, FLAC or MP3), mixed down to mono and resampled.
    /// A malformed file is an error, never a crash; one longer than [`MAX_DECODED`] is refused.
    pub fn decode_file(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        guarded(|| {
            let decoder = rodio::Decoder::try_from(file).map_err(|e| e.to_string())?;
            Self::from_source(decoder)
        })
        .map_err(|e| format!("cannot decode {}: {e}", path.display()))
    }

    /// Decodes WAV bytes (as written by a speech engine).
    pub fn decode_wav_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        guarded(|| {
            let decoder =
                rodio::Decoder::new_wav(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
            Self::from_source(decoder)
        })
        .map_err(|e| format!("not a readable WAV: {e}"))
    }

    fn from_source<S: Source<Item = f32>>(source: S) -> Result<Self, String> {
        let channels = source.channels().get() as usize;
        let rate = source.sample_rate().get();
        if channels == 0 || rate == 0 {
            return Err("no channels or no sample rate".into());
        }
        let limit = (MAX_DECODED.as_secs() as usize) * rate as usize * channels;
        let interleaved: Vec<f32> = source.take(limit + 1).collect();
        if interleaved.len() > limit {
            return Err(format!(
                "longer than {} minutes",
                MAX_DECODED.as_secs() / 60
            ));
        }
        let mono: Vec<f32> = interleaved
            .chunks(channels)
            .map(|frame| frame.iter().sum::<f32>() / channels as f32)
            .collect();
        Ok(Self::new(resample(&mono, rate, SAMPLE_RATE)))
    }

    /// Removes leading and trailing near-silence, keeping `pad` of the tail (faded out), so a
    /// prompt's first sound falls exactly where the plan puts it. The clip starts at its first
    /// sample above -46 dBFS: quiet enough to make no click, loud enough to be measurable at
    /// the first sample even at 80% volume.
    pub fn trimmed(&self, pad: Duration) -> Self {
        const START: f32 = 0.005;
        const END: f32 = 0.003;
        let s = &self.samples;
        let Some(first) = s.iter().position(|x| x.abs() > START) else {
            return Self::new(Vec::new());
        };
        let last = s.iter().rposition(|x| x.abs() > END).unwrap_or(first);
        let end = (last + 1 + to_samples(pad) as usize).min(s.len());
        let mut out = s[first..end].to_vec();
        let n = out.len();
        let tail = (to_samples(pad) as usize).min(n);
        for i in 0..tail {
            out[n - 1 - i] *= i as f32 / tail as f32;
        }
        Self::new(out)
    }

    /// Writes the clip as a 16-bit 48 kHz mono WAV file.
    pub fn write_wav(&self, path: &Path) -> Result<(), String> {
        write_wav(path, &self.samples)
    }

    /// Writes the clip as a WAV file atomically, into an existing folder: beside its place,
    /// synced, then renamed over it, so a crash leaves the old file or the new one, never half
    /// of one.
    pub fn save_wav(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(".wav")
            .tempfile_in(dir)
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        self.write_wav(tmp.path())?;
        tmp.as_file().sync_all().map_err(|e| e.to_string())?;
        tmp.persist(path)
            .map_err(|e| format!("cannot store {}: {e}", path.display()))?;
        Ok(())
    }

    /// Reads a 16-bit mono WAV at [`SAMPLE_RATE`] (as [`Clip::write_wav`] writes) in one pass
    /// over its bytes; other formats go through the general decoder.
    pub fn read_wav(path: &Path) -> Result<Self, String> {
        use std::io::Read;
        let err = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", path.display());
        let file = std::fs::File::open(path).map_err(|e| err(&e))?;
        let reader = hound::WavReader::new(std::io::BufReader::new(file)).map_err(|e| err(&e))?;
        let spec = reader.spec();
        let plain = spec.channels == 1
            && spec.sample_rate == SAMPLE_RATE
            && spec.sample_format == hound::SampleFormat::Int
            && spec.bits_per_sample == 16;
        if !plain {
            return Self::decode_file(path);
        }
        let frames = reader.len() as usize;
        let mut bytes = Vec::with_capacity(frames * 2);
        reader
            .into_inner()
            .take(frames as u64 * 2)
            .read_to_end(&mut bytes)
            .map_err(|e| err(&e))?;
        if bytes.len() != frames * 2 {
            return Err(err(&"the file is cut short"));
        }
        let samples = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect();
        Ok(Self::new(samples))
    }
}

/// Writes mono samples as a 16-bit PCM WAV at [`SAMPLE_RATE`], clipping at full scale.
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let err = |e: hound::Error| format!("cannot write {}: {e}", path.display());
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .map_err(err)?;
    }
    w.finalize().map_err(err)
}

/// Resamples mono audio from `from` Hz to `to` Hz with rubato's synchronous FFT resampler
/// (band-limited, fast; the resampler's delay is trimmed, so the output lines up with the
/// input). Offline, once per prompt or recording.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    use rubato::audioadapter_buffers::direct::InterleavedSlice;
    use rubato::{Fft, FixedSync, Resampler};
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let resampled = (|| {
        let mut r = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
            .map_err(|e| e.to_string())?;
        let adapter = InterleavedSlice::new(input, 1, input.len()).map_err(|e| e.to_string())?;
        let out = r
            .process_all(&adapter, input.len(), None)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(out.take_data())
    })();
    match resampled {
        Ok(mut out) => {
            // Exactly as long as the input, in the new rate.
            out.resize(
                (input.len() as f64 * to as f64 / from as f64).round() as usize,
                0.0,
            );
            out
        }
        Err(e) => {
            // Only an impossible rate (0 Hz) gets here; decoders never report one.
            log::error!("cannot resample from {from} Hz to {to} Hz: {e}");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_and_time_conversions_round_trip() {
        for n in [0u64, 1, 47, 48, 48_000, 1_234_567, 48_000 * 3600] {
            assert_eq!(to_samples(to_duration(n)), n);
        }
        assert_eq!(to_samples(Duration::from_millis(1)), 48);
    }

    #[test]
    fn resampling_keeps_a_tone_and_its_level() {
        let from = 16_000;
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from as f32).sin() * 0.5)
            .collect();
        let out = resample(&tone, from, SAMPLE_RATE);
        assert_eq!(out.len(), 48_000);
        let mid = &out[10_000..38_000];
        let rms = (mid.iter().map(|x| x * x).sum::<f32>() / mid.len() as f32).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.01, "rms {rms}");
        // zero crossings give the pitch: 440 Hz over the 28000-sample middle part
        let crossings = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        let expected = 440.0 * 28_000.0 / 48_000.0;
        assert!((crossings as f32 - expected).abs() <= 2.0, "{crossings}");
    }

    #[test]
    fn resampling_keeps_a_sound_where_it_was() {
        // Silence, then a tone from 0.5 s, at Piper's and espeak-ng's 22050 Hz.
        let from = 22_050;
        let tone: Vec<f32> = (0..from)
            .map(|i| {
                if i < from / 2 {
                    0.0
                } else {
                    (2.0 * std::f32::consts::PI * 300.0 * i as f32 / from as f32).sin() * 0.5
                }
            })
            .collect();
        let out = resample(&tone, from as u32, SAMPLE_RATE);
        assert_eq!(out.len(), 48_000);
        let onset = out.iter().position(|x| x.abs() > 0.01).unwrap();
        assert!(
            onset.abs_diff(24_000) <= 48,
            "the tone moved to sample {onset} (want 24000 within 1 ms)"
        );
    }

    #[test]
    fn trimming_removes_silence_but_keeps_the_sound() {
        let mut s = vec![0.0f32; 4800];
        s.extend(std::iter::repeat_n(0.2, 4800));
        s.extend(vec![0.0; 9600]);
        let t = Clip::new(s).trimmed(Duration::from_millis(10));
        assert_eq!(t.samples().len(), 4800 + 480);
        assert!(t.samples()[..4800].iter().all(|&x| x == 0.2));
        assert_eq!(
            Clip::new(vec![0.0; 100])
                .trimmed(Duration::ZERO)
                .samples()
                .len(),
            0
        );
    }
}
