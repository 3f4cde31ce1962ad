//! The live mix: sounds that are playing, summed into one stream of samples.
//!
//! Shared between the session task (which starts, pauses and cuts sounds) and the output's
//! audio thread (which pulls samples). Every output backend plays the same mix, so what the WAV
//! output records is what the speakers get.

use std::sync::{Mutex, MutexGuard};

use crate::clip::Clip;

/// Locks a shared mix. A panic while it was held (which poisons the lock) may have left a
/// sound half updated: the sounds are dropped (the volume, pause and audio clock stay) and the
/// lock is cleared, so one panic does not make every later request and the audio thread panic
/// too.
pub fn lock(mix: &Mutex<Mix>) -> MutexGuard<'_, Mix> {
    mix.lock().unwrap_or_else(|poisoned| {
        log::error!("a panic poisoned the mix; its sounds were dropped");
        let mut guard = poisoned.into_inner();
        guard.playing.clear();
        mix.clear_poison();
        guard
    })
}

/// Samples over which a cut-off sound fades out, so an interrupt makes no click (5 ms).
const CUT_FADE: usize = 240;

#[derive(Debug)]
struct Playing {
    clip: Clip,
    pos: usize,
    gain: f32,
    /// Samples left before silence, once the sound is being cut off.
    fading: Option<usize>,
    /// Keeps playing while the mix is paused (answers such as "where am I").
    through_pause: bool,
}

/// Sounds in progress.
#[derive(Debug, Default)]
pub struct Mix {
    playing: Vec<Playing>,
    paused: bool,
    volume: f32,
    /// Samples pulled since the mix was made: the audio clock.
    pulled: u64,
    /// How many times sounds were cut off.
    cuts: u64,
}

impl Mix {
    /// An empty, running mix at full volume.
    pub fn new() -> Self {
        Self {
            volume: 1.0,
            ..Self::default()
        }
    }

    /// Starts `clip` at `gain`, `skip` samples in (to stay on time when started late).
    pub fn play(&mut self, clip: Clip, gain: f32, skip: usize) {
        self.playing.push(Playing {
            clip,
            pos: skip,
            gain,
            fading: None,
            through_pause: false,
        });
    }

    /// Starts `clip` so that it plays even while the mix is paused.
    pub fn play_through_pause(&mut self, clip: Clip, gain: f32) {
        self.playing.push(Playing {
            clip,
            pos: 0,
            gain,
            fading: None,
            through_pause: true,
        });
    }

    /// Sets the master volume (0.0 to 1.0), applied to everything, playing sounds included.
    pub fn set_volume(&mut self, volume: f32) {
        self.volume = volume.clamp(0.0, 1.0);
    }

    /// The master volume.
    pub fn volume(&self) -> f32 {
        self.volume
    }

    /// Cuts off every sound (with a 5 ms fade).
    pub fn interrupt(&mut self) {
        if !self.playing.is_empty() {
            self.cuts += 1;
        }
        for p in &mut self.playing {
            if p.fading.is_none() {
                p.fading = Some(CUT_FADE);
            }
        }
        if self.paused {
            self.playing.retain(|p| p.through_pause);
        }
    }

    /// Holds (true) or continues (false) every sound where it is.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Whether anything is still to be heard.
    pub fn is_silent(&self) -> bool {
        self.playing.is_empty()
    }

    /// Whether what is pulled now is silence: nothing playing, or only sounds held by a pause.
    pub fn pulls_silence(&self) -> bool {
        self.playing.iter().all(|p| self.paused && !p.through_pause)
    }

    /// How many times sounds were cut off so far (an interrupt with something playing).
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// Samples pulled so far.
    pub fn pulled(&self) -> u64 {
        self.pulled
    }

    /// Fills `out` with the next samples of the mix (silence while paused).
    pub fn fill(&mut self, out: &mut [f32]) {
        out.fill(0.0);
        self.pulled += out.len() as u64;
        for p in &mut self.playing {
            if self.paused && !p.through_pause {
                continue;
            }
            let samples = p.clip.samples();
            for o in out.iter_mut() {
                if p.pos >= samples.len() {
                    break;
                }
                let mut g = p.gain * self.volume;
                if let Some(left) = p.fading.as_mut() {
                    if *left == 0 {
                        p.pos = samples.len();
                        break;
                    }
                    g *= *left as f32 / CUT_FADE as f32;
                    *left -= 1;
                }
                *o += samples[p.pos] * g;
                p.pos += 1;
            }
        }
        self.playing
            .retain(|p| p.pos < p.clip.samples().len() && p.fading != Some(0));
        for o in out.iter_mut() {
            *o = o.clamp(-1.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mix_is_silenced_and_usable_again() {
        let mix = std::sync::Arc::new(Mutex::new(Mix::new()));
        lock(&mix).play(Clip::new(vec![0.5; 48_000]), 1.0, 0);
        lock(&mix).set_volume(0.5);
        let held = mix.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            panic!("a panic while the mix is held");
        })
        .join();
        assert!(mix.is_poisoned());
        let m = lock(&mix);
        assert!(m.is_silent(), "the half-updated sounds were dropped");
        assert_eq!(m.volume(), 0.5);
        drop(m);
        assert!(!mix.is_poisoned(), "the lock is usable again");
        lock(&mix).play(Clip::new(vec![0.5; 480]), 1.0, 0);
        assert!(!lock(&mix).is_silent());
    }

    #[test]
    fn sounds_add_up_pause_holds_and_interrupt_fades() {
        let mut m = Mix::new();
        m.play(Clip::new(vec![0.25; 1000]), 1.0, 0);
        m.play(Clip::new(vec![0.25; 10]), 0.5, 0);
        let mut buf = vec![0.0; 20];
        m.fill(&mut buf);
        assert_eq!(buf[0], 0.375);
        assert_eq!(buf[15], 0.25);
        m.set_paused(true);
        m.fill(&mut buf);
        assert!(buf.iter().all(|&x| x == 0.0), "paused is silent");
        m.set_paused(false);
        m.fill(&mut buf);
        assert_eq!(buf[0], 0.25, "resumes where it was");
        m.interrupt();
        let mut long = vec![0.0; 1000];
        m.fill(&mut long);
        assert!(long[0] > 0.24 && long[CUT_FADE / 2] < 0.13 && long[CUT_FADE] == 0.0);
        assert!(m.is_silent());
        assert_eq!(m.pulled(), 1060);
    }

    #[test]
    fn what_is_pulled_is_silence_when_nothing_plays_or_all_is_held() {
        let mut m = Mix::new();
        assert!(m.pulls_silence());
        m.play(Clip::new(vec![0.25; 100]), 1.0, 0);
        assert!(!m.pulls_silence());
        m.set_paused(true);
        assert!(m.pulls_silence(), "held by the pause");
        m.play_through_pause(Clip::new(vec![0.25; 100]), 1.0);
        assert!(!m.pulls_silence(), "an answer plays through the pause");
    }

    #[test]
    fn cuts_count_interrupts_that_cut_something() {
        let mut m = Mix::new();
        m.interrupt();
        assert_eq!(m.cuts(), 0, "nothing was playing");
        m.play(Clip::new(vec![0.25; 100]), 1.0, 0);
        m.interrupt();
        assert_eq!(m.cuts(), 1);
    }

    #[test]
    fn volume_scales_and_answers_play_through_a_pause() {
        let mut m = Mix::new();
        m.set_volume(0.5);
        m.play(Clip::new(vec![0.5; 100]), 1.0, 90);
        m.set_paused(true);
        m.play_through_pause(Clip::new(vec![0.2; 5]), 1.0);
        let mut buf = vec![0.0; 8];
        m.fill(&mut buf);
        assert_eq!(&buf[..6], &[0.1, 0.1, 0.1, 0.1, 0.1, 0.0]);
        m.set_paused(false);
        m.fill(&mut buf);
        assert_eq!(
            buf[0], 0.25,
            "the held sound resumes, skipped 90 samples in"
        );
        m.fill(&mut buf);
        assert_eq!(buf[1], 0.25);
        assert_eq!(buf[2], 0.0, "10 samples were left after the skip");
    }
}
