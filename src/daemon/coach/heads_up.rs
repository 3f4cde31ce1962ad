//! Heads-ups before a scheduled session: the next one synthesized ahead of its time and kept,
//! so it is said on the second rather than after its synthesis.

use crate::clip::Clip;
use crate::config::Config;
use crate::daemon::audio::Audio;
use crate::daemon::preparer::{PhraseFor, Preparer};
use crate::daemon::scheduler::{Scheduler, routine_or};
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

/// The parts a heads-up touches, lent by the coach for one call.
pub(super) struct Due<'a> {
    /// What is scheduled, what has come due, and what was missed.
    pub scheduler: &'a mut Scheduler,
    /// The heads-up's lead and the default routine.
    pub cfg: &'a Config,
    /// Speech beside the coach (and the routines prepared, for their spoken names).
    pub preparer: &'a Preparer,
    /// The mix and output.
    pub audio: &'a mut Audio,
    /// A session is on air.
    pub live: bool,
    /// A session is on air or starting.
    pub busy: bool,
}

impl Due<'_> {
    /// The heads-up said `minutes` before the next session.
    fn text(&self, minutes: u32) -> String {
        let s = &self.scheduler;
        let spoken_name = s.next_occurrence().and_then(|o| {
            let name = routine_or(&o.routine, &self.cfg.default_routine);
            let ready = self.preparer.last_prepared(&name)?;
            ready.routine.spoken_name.clone()
        });
        text(minutes, spoken_name.as_deref(), s.summary().next_side)
    }

    /// The sessions missed while the machine was asleep or off, to be told now: once, when no
    /// session plays and it is not quiet hours (then the first key press after them tells
    /// them: the CLI takes the notices after every command and says them).
    pub fn missed(&mut self) -> Option<String> {
        if self.busy || self.scheduler.quiet_now().is_some() {
            return None;
        }
        let notices = self.scheduler.take_untold();
        (!notices.is_empty()).then(|| crate::feedback::spoken_notices(&notices))
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
    /// Records what has come due (its sessions start once that is on disk) and says the
    /// heads-up due now, if one is.
    pub fn give_due(&mut self, due: &mut Due) {
        if let Some(minutes) = due.scheduler.due(due.busy) {
            // The side it names may have changed on the phone: read again for next time.
            due.scheduler.refresh_if_stale();
            log::info!("heads-up: session in {minutes} min");
            let text = due.text(minutes);
            self.give(text, due.audio, due.preparer, due.live);
        }
    }

    /// Synthesizes ahead the heads-up of the next session, while it is further off than the
    /// heads-up's lead.
    pub fn warm_next(&mut self, due: &Due) {
        let s = &due.scheduler;
        if let (Some(lead), Some(next)) = (due.cfg.heads_up, s.next_occurrence())
            && next.at.as_second() - s.now().as_second() > lead.as_secs() as i64
        {
            let minutes = ((lead.as_secs() as f64) / 60.0).round().max(1.0) as u32;
            self.warm(due.text(minutes), due.preparer);
        }
    }

    /// Says the heads-up `text` now: the sound synthesized ahead when it says that, else
    /// synthesized now and said when ready (`PhraseFor::HeadsUp`).
    fn give(&mut self, text: String, audio: &mut Audio, preparer: &Preparer, live: bool) {
        match self.clip.take() {
            Some((warm, clip)) if warm == text => say(clip, audio, live),
            _ => preparer.speak(text, PhraseFor::HeadsUp, &Default::default()),
        }
    }

    /// Synthesizes `text` ahead of its time, unless it is already.
    fn warm(&mut self, text: String, preparer: &Preparer) {
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

    /// The next session's heads-up is synthesized ahead while the session is further off than
    /// the lead, and said from memory when it comes due: the text warmed and the text given
    /// must be the same for that (a heads-up saying other minutes would be synthesized again,
    /// seconds late).
    #[tokio::test]
    async fn a_heads_up_warmed_ahead_is_said_from_memory_when_due() {
        use crate::daemon::coach::tests::{ESPEAK, ask_written, coach, next_phrase};
        use crate::daemon::request::{Request, ScheduleRequest};
        use std::sync::{Arc, Mutex};
        let cfg = ESPEAK.replace("[schedule]\n", "[schedule]\nheads_up = \"2m\"\n");
        let (mut c, _dir) = coach(&cfg).await;
        let clock = Arc::new(Mutex::new(jiff::Timestamp::now()));
        let read = clock.clone();
        let (store, loaded) = crate::schedule::store::Store::open(&c.paths.data_dir);
        let (scheduler, written) = Scheduler::with_clock(
            &c.cfg,
            store,
            loaded.state,
            Arc::new(move || *read.lock().unwrap()),
            jiff::tz::TimeZone::UTC,
        );
        c.agenda = super::super::Agenda::new(scheduler, written, c.paths.data_dir.clone());
        ask_written(&mut c, |answer| {
            Request::Schedule(ScheduleRequest::Add {
                when: "in 1h".into(),
                routine: "short".into(),
                answer,
            })
        })
        .await
        .unwrap();
        let (what, clip) = next_phrase(&mut c).await;
        assert!(matches!(what, PhraseFor::Warm(_)), "not warmed ahead");
        c.on_done(crate::daemon::preparer::Done::Spoken(what, clip));
        assert!(
            c.heads_ups.clip.is_some(),
            "the warmed heads-up was not kept"
        );
        assert!(c.audio.mix().is_silent());

        let at = c.agenda.scheduler.next_occurrence().unwrap().at;
        *clock.lock().unwrap() = at - jiff::SignedDuration::from_mins(2);
        c.check_schedule();
        assert!(
            !c.audio.mix().is_silent(),
            "the heads-up was not said at once: the one warmed was {:?}",
            c.heads_ups.warmed
        );
    }
}
