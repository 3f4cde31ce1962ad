//! Heads-ups before a scheduled session: the next one synthesized ahead of its time and kept,
//! so it is said on the second rather than after its synthesis.

use crate::clip::Clip;
use crate::daemon::audio::Audio;
use crate::daemon::preparer::{PhraseFor, Preparer};
use crate::schedule::Side;

/// "Your massage starts in two minutes. The right side is next.", or with a routine that has
/// a spoken name, "Pumping in ten minutes."
pub(super) fn text(minutes: u32, spoken_name: Option<&str>, next_side: Option<Side>) -> String {
    let text = match spoken_name {
        Some(name) => crate::feedback::starts_in(name, minutes),
        None => crate::phrase::Phrase::StartsIn(minutes).text(),
    };
    match crate::feedback::next_side_sentence(next_side) {
        Some(side) => format!("{text} {side}"),
        None => text,
    }
}

/// The next heads-up, synthesized ahead.
#[derive(Default)]
pub(super) struct HeadsUps {
    /// The text being (or last) synthesized ahead.
    warmed: Option<String>,
    /// Its sound, once ready.
    clip: Option<(String, Clip)>,
    /// Which synthesis ahead is the current one.
    generation: u64,
}

impl HeadsUps {
    /// Says the heads-up `text` now: the sound synthesized ahead when it says that, else
    /// synthesized now and said when ready (`PhraseFor::HeadsUp`).
    pub fn give(&mut self, text: String, audio: &mut Audio, preparer: &Preparer, live: bool) {
        match self.clip.take() {
            Some((warm, clip)) if warm == text => say(clip, audio, live),
            _ => preparer.speak(text, PhraseFor::HeadsUp, &Default::default()),
        }
    }

    /// Synthesizes `text` ahead of its time, unless it is already.
    pub fn warm(&mut self, text: String, preparer: &Preparer) {
        if self.warmed.as_deref() != Some(text.as_str()) {
            self.generation += 1;
            self.clip = None;
            preparer.speak(
                text.clone(),
                PhraseFor::Warm(self.generation),
                &Default::default(),
            );
            self.warmed = Some(text);
        }
    }

    /// A heads-up synthesized ahead (the `generation`-th) is ready: kept if still the current
    /// one.
    pub fn warmed(&mut self, generation: u64, clip: Clip) {
        if generation == self.generation {
            log::debug!("heads-up ready ahead");
            self.clip = self.warmed.clone().map(|t| (t, clip));
        }
    }
}

/// Says a heads-up's sound now, even when idle.
pub(super) fn say(clip: Clip, audio: &mut Audio, live: bool) {
    audio.announce(clip, live);
    log::info!("heads-up spoken");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heads_up_names_the_routine_and_the_side() {
        let plain = text(2, None, Some(Side::Right));
        assert!(plain.ends_with("The right side is next."), "{plain}");
        assert!(plain.starts_with(&crate::phrase::Phrase::StartsIn(2).text()));
        assert_eq!(text(10, Some("Pumping"), None), "Pumping in ten minutes.");
    }

    #[test]
    fn only_the_current_synthesis_ahead_is_kept() {
        let mut h = HeadsUps {
            warmed: Some("In two minutes.".into()),
            generation: 2,
            ..Default::default()
        };
        h.warmed(1, Clip::new(vec![0.1; 10]));
        assert!(h.clip.is_none(), "an older synthesis was kept");
        h.warmed(2, Clip::new(vec![0.1; 10]));
        assert_eq!(
            h.clip.as_ref().map(|c| c.0.as_str()),
            Some("In two minutes.")
        );
    }
}
