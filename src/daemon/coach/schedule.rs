//! The coach's side of scheduling: schedule requests (held while a change is being written),
//! what a written change starts, and heads-ups.

use super::*;

/// Says so when a feed plan's lead is shorter than its routine (as last prepared).
pub(super) fn lead_warning(
    plan: &FeedPlan,
    default_routine: &str,
    preparer: &Preparer,
) -> Option<String> {
    let name = if plan.routine.is_empty() {
        default_routine
    } else {
        &plan.routine
    };
    let total = preparer.last_prepared(name)?.plan.total();
    let lead = Duration::from_secs(plan.lead);
    (lead < total).then(|| {
        format!(
            "the lead ({}) is shorter than \"{name}\" ({}): the session will still be running when the feed is due",
            crate::duration::show(lead),
            crate::duration::show(total)
        )
    })
}

impl Coach {
    pub(super) fn on_schedule(&mut self, request: ScheduleRequest) {
        if self.scheduler.writing() {
            self.held.push_back(request);
            return;
        }
        let library = self.library();
        let exists = |name: &str| {
            library
                .find_named(name)
                .map(|_| ())
                .map_err(|e| CoachError::UnknownRoutine(e.to_string()))
        };
        let default = self.cfg.default_routine.clone();
        let preparer = &self.preparer;
        let warn = |plan: &FeedPlan| lead_warning(plan, &default, preparer);
        if self.scheduler.handle(request, exists, warn, &default) {
            self.prepare_ahead();
            self.publish();
        }
    }

    /// A change is on disk (or could not be written): start the sessions it recorded, then
    /// handle what waited for it.
    pub(super) fn on_written(&mut self, result: WriteResult) {
        let failed = result.is_err();
        for o in self.scheduler.written(result) {
            self.run_scheduled(o);
        }
        if !failed {
            let scheduler = &self.scheduler;
            crate::daemon::login_start::ensure(&self.paths.data_dir, || {
                scheduler.has_sessions_ahead()
            });
        }
        while !self.scheduler.writing()
            && let Some(r) = self.held.pop_front()
        {
            self.on_schedule(r);
        }
        while !self.scheduler.writing()
            && let Some(s) = self.held_synced.pop_front()
        {
            self.scheduler.synced(s);
        }
        self.check_schedule();
        if failed {
            self.prepare_ahead();
        }
        self.publish();
    }

    /// The Baby Buddy worker finished a job: its result is written like any change; feedings
    /// read from the server may move the next session and the side.
    pub(super) fn on_synced(&mut self, done: crate::daemon::babybuddy::Synced) {
        if self.scheduler.writing() {
            // One change at a time: the result waits for the write in flight.
            self.held_synced.push_back(done);
            return;
        }
        self.scheduler.synced(done);
        self.publish();
    }

    /// Starts a scheduled session whose record is on disk.
    pub(super) fn run_scheduled(&mut self, o: crate::schedule::Occurrence) {
        let reason = self.scheduler.reason(&o);
        log::info!("scheduled session {} ({reason}) fires", o.id());
        let _ = self
            .signals
            .send(Signal::ScheduleFired(o.id(), o.routine.clone(), reason));
        self.start(o.routine.clone(), Starter::Scheduled { quiet: o.quiet });
    }

    /// Gives heads-ups and records what has come due (its sessions start once that is on disk).
    pub(super) fn check_schedule(&mut self) {
        let busy = self.live.is_some() || self.pending.is_some();
        if let Some(minutes) = self.scheduler.due(busy) {
            // The side it names may have changed on the phone: read again for next time.
            self.scheduler.refresh_if_stale();
            log::info!("heads-up: session in {minutes} min");
            let text = self.heads_up_text(minutes);
            match self.warm_clip.take() {
                // Synthesized ahead: said on the second.
                Some((warm, clip)) if warm == text => self.play_phrase(PhraseFor::HeadsUp, clip),
                _ => self.preparer.speak(
                    text,
                    PhraseFor::HeadsUp,
                    &self.cfg,
                    &Default::default(),
                    &self.paths,
                ),
            }
        }
        self.tell_missed();
        self.warm_heads_up();
    }

    /// "Your massage starts in two minutes. The right side is next.", or with a routine that
    /// has a spoken name, "Pumping in ten minutes."
    fn heads_up_text(&self, minutes: u32) -> String {
        let named = self.scheduler.next_occurrence().and_then(|o| {
            let name = if o.routine.is_empty() {
                self.cfg.default_routine.clone()
            } else {
                o.routine.clone()
            };
            self.preparer
                .last_prepared(&name)?
                .routine
                .spoken_name
                .clone()
        });
        let text = match named {
            Some(name) => crate::feedback::starts_in(&name, minutes),
            None => crate::phrase::Phrase::StartsIn(minutes).text(),
        };
        match crate::feedback::next_side_sentence(self.scheduler.summary().next_side) {
            Some(side) => format!("{text} {side}"),
            None => text,
        }
    }

    /// Synthesizes the next heads-up ahead of its time and keeps its sound, so it is said on
    /// the second rather than after its synthesis.
    fn warm_heads_up(&mut self) {
        let (Some(lead), Some(next)) = (self.cfg.heads_up, self.scheduler.next_occurrence()) else {
            return;
        };
        let ahead = next.at.as_second() - self.scheduler.now().as_second();
        if ahead <= lead.as_secs() as i64 {
            return;
        }
        let minutes = ((lead.as_secs() as f64) / 60.0).round().max(1.0) as u32;
        let text = self.heads_up_text(minutes);
        if self.warmed_heads_up.as_deref() != Some(text.as_str()) {
            self.warm_gen += 1;
            self.warm_clip = None;
            self.preparer.speak(
                text.clone(),
                PhraseFor::Warm(self.warm_gen),
                &self.cfg,
                &Default::default(),
                &self.paths,
            );
            self.warmed_heads_up = Some(text);
        }
    }
}
