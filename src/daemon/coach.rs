//! The coach: one task that routes between the owners of letdownd's parts.
//!
//! D-Bus and MPRIS handlers never touch this state; they send a [`Request`] and wait for its
//! typed answer. Each part has one owner, with its own state and a small interface:
//! - [`OnAir`]: the session on air, its engine, clock and sounds in memory;
//! - [`Starting`]: a start in progress, from request to first sound;
//! - [`Answers`]: a key's result said aloud, in order, and voices being tried;
//! - [`HeadsUps`]: heads-ups before a scheduled session, synthesized ahead;
//! - [`Agenda`]: the scheduler (feeds, schedules, the zone) and what waits for its writes;
//! - [`Routines`]: the routines, in memory; [`Audio`]: the mix, output and volume;
//!   [`Preparer`]: speech synthesized beside the coach.
//!
//! The loop selects over their deadlines and channels and hands each result to the owner it
//! concerns; what is here only passes things from one owner to another. It sleeps until the
//! engine's next absolute deadline, so step boundaries never drift, and holds no timer and no
//! audio stream when idle.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::audio::{Audio, Health, Opened};
use super::error::CoachError;
use super::preparer::{Done, Finished, PhraseFor, Prepared, Preparer};
use super::request::{Answer, Request, ScheduleRequest, SessionCommand, reply};
use super::routines::Routines;
use super::scheduler::Scheduler;
use super::snapshot::{Phase, Signal, Snapshot};
use super::writer::WriteResult;
use crate::clip::Clip;
use crate::config::{Config, Feedback};
use crate::output::Output;
use crate::paths::Paths;
use crate::routine::Routine;

mod agenda;
mod answers;
mod heads_up;
mod on_air;
mod reload;
mod starting;

use agenda::{Agenda, Checks, Happened};
use answers::{Answers, Voice};
use heads_up::HeadsUps;
pub use on_air::CueTiming;
use on_air::OnAir;
use reload::{Reloaded, Reloading};
use starting::{Next, Starter, Starting};

/// What waits for the routines to be read again (a routine file changed), in order.
enum Deferred {
    Request(Request),
    Start(String, Starter),
}

/// The session task.
pub struct Coach {
    paths: Paths,
    cfg: Config,
    routines: Routines,
    deferred: VecDeque<Deferred>,
    agenda: Agenda,
    audio: Audio,
    preparer: Preparer,
    on_air: OnAir,
    starting: Starting,
    answers: Answers,
    heads_ups: HeadsUps,
    snapshot: watch::Sender<Snapshot>,
    signals: mpsc::UnboundedSender<Signal>,
    reloading: Reloading,
}

impl Coach {
    /// A coach with `cfg`, playing to `output`, publishing to `snapshot` and `signals`.
    pub fn new(
        paths: Paths,
        cfg: Config,
        output: Box<dyn Output>,
        snapshot: watch::Sender<Snapshot>,
        signals: mpsc::UnboundedSender<Signal>,
    ) -> Self {
        let (scheduler, written) = Scheduler::new(&cfg, &paths.data_dir);
        super::login_start::ensure(&paths.data_dir, || scheduler.has_sessions_ahead());
        Self {
            agenda: Agenda::new(scheduler, written),
            routines: Routines::new(paths.clone()),
            deferred: VecDeque::new(),
            audio: Audio::new(output, cfg.volume),
            preparer: Preparer::new(cfg.clone(), paths.clone()),
            on_air: OnAir::new(),
            starting: Starting::new(),
            answers: Answers::default(),
            heads_ups: HeadsUps::default(),
            snapshot,
            signals,
            reloading: Reloading::new(),
            paths,
            cfg,
        }
    }

    /// How late cues are played, readable while the coach runs.
    pub fn cue_timing(&self) -> Arc<CueTiming> {
        self.on_air.cue_timing()
    }

    /// Serves requests until `shutdown` fires (or every sender is gone); then stops any session
    /// and closes the output.
    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut shutdown: oneshot::Receiver<()>,
    ) {
        // Preparing (seconds when the cache is cold) runs beside the coach, once the routines
        // are read: calls are answered from the first moment the bus name is owned.
        Answers::prepare_heads(&self.cfg, &self.preparer);
        self.check_schedule();
        self.publish();
        loop {
            let deadline = self.on_air.deadline();
            let health = self.audio.health_due(self.on_air.is_live());
            let (wake, close_at) = (self.agenda.scheduler.next_wake(), self.audio.close_at());
            // A sound that answers a request is hurried out; a timed cue is not (every timed
            // cue is heard the same output buffer after its time, so their spacing is exact).
            let before = self.audio.before_request();
            let mut timed = false;
            tokio::select! {
                _ = &mut shutdown => break,
                req = requests.recv() => match req {
                    Some(req) => self.handle(req),
                    None => break,
                },
                _ = sleep_until(deadline) => {
                    timed = true;
                    self.on_air.on_deadline();
                }
                Some(done) = self.preparer.next() => self.on_done(done),
                loaded = self.on_air.loaded() => self.on_air.on_loaded(loaded, &self.audio),
                _ = sleep_until(health) => {
                    timed = true;
                    self.check_health();
                }
                r = self.starting.readied() => {
                    let next = self.starting.on_readied(r, &mut self.audio);
                    self.go_on(next);
                }
                r = self.reloading.next() => self.on_reloaded(r),
                o = self.audio.reopened() => self.on_reopened(o),
                _ = sleep_until(close_at) => self.audio.close_if_silent(self.on_air.is_live()),
                _ = wall_sleep(wake) => {
                    timed = true;
                    self.check_schedule();
                    self.publish();
                }
                h = self.agenda.next() => match h {
                    Happened::Written(w) => self.on_written(*w),
                    Happened::Synced(s) => {
                        self.agenda.on_synced(s);
                        self.publish();
                    }
                    Happened::ZoneChanged => {
                        // Local times (daily sessions, the feed plan's times) move with it.
                        self.agenda.scheduler.follow_zone();
                        self.check_schedule();
                        self.prepare_ahead();
                        self.publish();
                    }
                },
                e = self.routines.next() => {
                    if self.routines.on_event(e) {
                        self.on_routines_read();
                    }
                }
            }
            self.drain_and_settle();
            if !timed {
                self.audio.after_request(before);
            }
        }
        self.on_air.stop();
        self.on_air.drain(&mut self.audio, 0.0, &self.signals);
        self.audio.close();
        log::info!("stopped");
    }

    /// Acts on what the engine emitted; when that ended the session, a schedule held while
    /// it ran may start now.
    fn drain_and_settle(&mut self) {
        let tone_gain = self.cfg.earcon_volume as f32;
        let d = self.on_air.drain(&mut self.audio, tone_gain, &self.signals);
        if d.finished {
            self.check_schedule();
        }
        if d.changed || d.finished {
            self.publish();
        }
    }

    fn handle(&mut self, request: Request) {
        log::debug!("request: {request:?}");
        if !self.deferred.is_empty() || (needs_routines(&request) && !self.routines.current()) {
            // A routine file changed: this waits for it to be read (it is being read beside
            // the coach), and what comes after waits behind it, in order.
            self.deferred.push_back(Deferred::Request(request));
            return;
        }
        match request {
            Request::Start(name, answer) => self.start(name, Starter::Client(answer)),
            Request::Session(command, answer) => {
                let silent = self.audio.mix().is_silent();
                let r = self.on_air.command(command);
                if r.is_ok() {
                    // Extend and Repeat change the step without an event of their own.
                    self.publish();
                    if silent && !command.is_heard() {
                        // Pausing, resuming or stopping in a silent moment (hands-on time)
                        // would be heard as nothing: a tone says it was done (after the stop
                        // has cleared the mix). Over a prompt, its stopping or going on is
                        // answer enough.
                        self.drain_and_settle();
                        self.acknowledge();
                    }
                }
                reply(answer, r)
            }
            Request::WhereAmI(answer) => reply(answer, self.where_am_i()),
            Request::ListRoutines(answer) => reply(answer, Ok(self.routines.rows())),
            Request::Reload(answer) => self.reloading.start(&self.paths, answer),
            Request::SetVolume(v, answer) => {
                let r = self.audio.set_volume(v);
                self.publish();
                reply(answer, r)
            }
            Request::Schedule(r) => self.on_schedule(r),
            Request::Summary(answer) => reply(answer, Ok(self.agenda.scheduler.summary_map())),
            Request::Announce(text, refused, answer) => reply(answer, self.announce(text, refused)),
            Request::TryVoice(engine, voice, answer) => self.try_voice(&engine, &voice, answer),
        }
    }

    /// The routines are read and current: what waited for them goes on, in order, and what is
    /// ahead is prepared as the files now say.
    fn on_routines_read(&mut self) {
        for d in std::mem::take(&mut self.deferred) {
            match d {
                Deferred::Request(r) => self.handle(r),
                Deferred::Start(name, starter) => self.start(name, starter),
            }
        }
        self.prepare_ahead();
        self.publish();
    }

    /// Something synthesized beside the coach is done.
    fn on_done(&mut self, done: Done) {
        let live = self.on_air.is_live();
        let mut voice = Voice {
            audio: &mut self.audio,
            preparer: &self.preparer,
            live,
        };
        match done {
            Done::Prepared(p) => self.on_prepared(*p),
            Done::Spoken(PhraseFor::Session(id), clip) => {
                if self.on_air.is_session(id) {
                    voice.audio.say(vec![clip], 1.0);
                }
            }
            Done::Spoken(PhraseFor::HeadsUp, clip) => heads_up::say(clip, voice.audio, live),
            Done::Spoken(PhraseFor::Feedback(gain, n), clip) => {
                self.answers.spoken(n, clip, gain, &mut voice)
            }
            Done::Spoken(PhraseFor::Warm(g), clip) => self.heads_ups.warmed(g, clip),
            Done::Spoken(PhraseFor::Trial(n), clip) => {
                let quiet = self.agenda.scheduler.quiet_now();
                let (_, gain) = answers::manner(&self.cfg, quiet, voice.audio.volume());
                self.answers.trial_spoken(n, clip, gain, &mut voice)
            }
            Done::Unspoken(PhraseFor::Feedback(gain, n), _) => {
                // Nothing to say, but the answers after it move on.
                self.answers
                    .spoken(n, Clip::new(Vec::new()), gain, &mut voice)
            }
            Done::Unspoken(PhraseFor::Trial(n), why) => self.answers.trial_failed(n, why),
            Done::Unspoken(..) => {}
        }
    }

    /// The routine `name` as it would start now (which side first, by the feed log).
    fn find_routine(&self, name: &str) -> Result<Routine, CoachError> {
        let next_side = self.agenda.scheduler.summary().next_side;
        self.routines.to_start(name, next_side)
    }

    /// Prepares, beside the coach, the default routine and every routine that a schedule or
    /// the feed plan will start in the next days, so a session starts on the second, not
    /// after its synthesis. (Until the routines are read, it is done when they are.)
    fn prepare_ahead(&mut self) {
        if !self.routines.current() {
            return;
        }
        let mut names = self
            .agenda
            .scheduler
            .routines_ahead(&self.cfg.default_routine);
        names.insert(self.cfg.default_routine.clone());
        for name in names {
            match self.find_routine(&name) {
                Ok(r) => self.preparer.prepare(r),
                Err(e) => log::warn!("cannot prepare \"{name}\": {e}"),
            }
        }
    }

    /// Starts a routine ("" = the default): at once when its speech is ready, otherwise as soon
    /// as it has been prepared. The starter is answered then.
    fn start(&mut self, name: String, starter: Starter) {
        if !self.deferred.is_empty() || !self.routines.current() {
            return self.deferred.push_back(Deferred::Start(name, starter));
        }
        if let Some(running) = self.on_air.routine() {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{running}\" is already running; stop it first with `letdown stop`"
            ))));
        }
        if let Some(starting) = self.starting.routine() {
            return starter.answer(Err(CoachError::AlreadyRunning(format!(
                "\"{starting}\" is being prepared and starts when it is ready"
            ))));
        }
        let name = if name.is_empty() {
            self.cfg.default_routine.clone()
        } else {
            name
        };
        let routine = match self.find_routine(&name) {
            Ok(r) => r,
            Err(e) => return starter.answer(Err(e)),
        };
        match self.preparer.ready_for(&routine) {
            Some(ready) => self.starting.open(ready, starter, &mut self.audio),
            None => {
                log::info!("\"{}\" starts when its speech is prepared", routine.name);
                self.starting.wait_for_speech(routine.name.clone(), starter);
                self.preparer.prepare(routine);
            }
        }
        self.publish();
    }

    /// A preparation finished: the start that waited for it goes on.
    fn on_prepared(&mut self, p: Prepared) {
        let waiting = self.starting.waits_for(&p.name);
        let name = p.name.clone();
        let next = match self.preparer.finish(p) {
            Finished::Ready(ready) if waiting => self.starting.take_waiting().map(|s| {
                self.starting.open(ready, s, &mut self.audio);
                Next::Wait
            }),
            Finished::Failed(e) if waiting => {
                self.starting.take_waiting().map(|s| Next::Failed(s, e))
            }
            // The config changed while it ran: prepare again with the new one.
            Finished::Stale if waiting => match self.find_routine(&name) {
                Ok(r) => {
                    self.preparer.prepare(r);
                    None
                }
                Err(e) => self.starting.take_waiting().map(|s| Next::Failed(s, e)),
            },
            _ => None,
        };
        if let Some(next) = next {
            self.go_on(next);
        }
        if !self.on_air.is_live() && self.starting.routine().is_none() {
            // What the synthesis used is free now.
            crate::daemon::memory::give_back();
        }
        self.publish();
    }

    /// A start moved on: the session begins, its routine is prepared again, or its starter
    /// hears why it cannot start.
    fn go_on(&mut self, next: Next) {
        match next {
            Next::Wait => return,
            Next::Begin(ready, sounds, starter) => {
                let quiet = starter.quiet().then_some(self.cfg.quiet_volume);
                self.audio.begin_session(quiet);
                let begun = self.on_air.begin(ready, sounds);
                if begun.is_err() {
                    self.audio.end_session();
                }
                starter.answer(begun);
            }
            Next::Prepare(name, starter) => {
                log::warn!("the speech of \"{name}\" is gone from the cache; preparing it again");
                self.preparer.forget(&name);
                match self.find_routine(&name) {
                    Ok(r) => {
                        self.starting.wait_for_speech(name, starter);
                        self.preparer.prepare(r);
                    }
                    Err(e) => starter.answer(Err(e)),
                }
            }
            Next::Failed(starter, e) => {
                starter.answer(Err(e));
                // An output opened for it closes again.
                self.audio.sounding(self.on_air.is_live());
            }
        }
        self.publish();
    }

    /// The output is back from being reopened.
    fn on_reopened(&mut self, o: Opened) {
        let next = match self.audio.put_back(o) {
            Ok(()) => self.starting.output_ready(self.audio.is_open()),
            Err(e) if self.on_air.is_live() => {
                log::debug!("still no sound output: {e}");
                Next::Wait
            }
            Err(e) => {
                log::warn!("{e}");
                self.starting.output_failed(e)
            }
        };
        self.go_on(next);
    }

    /// Checks the output during a session: reopened when broken, the session stopped when it
    /// stayed broken too long.
    fn check_health(&mut self) {
        match self.audio.check_health() {
            Health::Fine => {}
            Health::Reopen => self.audio.reopen(),
            Health::GiveUp => {
                let _ = self.on_air.command(SessionCommand::Stop);
            }
        }
    }

    /// "Where am I": where the session is, said aloud; with no session, the day.
    fn where_am_i(&mut self) -> Result<String, CoachError> {
        let Some((w, id, voice)) = self.on_air.where_am_i() else {
            // Said from what is known now; a read older than 30 s is renewed for next time.
            self.agenda.scheduler.refresh_if_stale();
            let s = &self.agenda.scheduler;
            let text = crate::feedback::where_idle(&s.summary(), s.tz());
            self.announce(text.clone(), false)?;
            return Ok(text);
        };
        self.audio.say(w.clips, 1.0);
        // A phrase not in memory (a step extended past the phrase bank) is synthesized
        // beside the coach and said when ready: never silence.
        if let Some(text) = w.missing {
            self.preparer.speak(text, PhraseFor::Session(id), &voice);
        }
        Ok(w.text)
    }

    /// How answers are given now (the setting, and quiet hours).
    fn manner(&self) -> (Feedback, f32) {
        let quiet = self.agenda.scheduler.quiet_now();
        answers::manner(&self.cfg, quiet, self.audio.volume())
    }

    /// Says a key's result: its tone at once, then its words ([`Answers::announce`]).
    fn announce(&mut self, text: String, refused: bool) -> Result<(), CoachError> {
        let manner = self.manner();
        let mut voice = Voice {
            audio: &mut self.audio,
            preparer: &self.preparer,
            live: self.on_air.is_live(),
        };
        self.answers
            .announce(text, refused, manner, &self.cfg, &mut voice)
    }

    /// The tone that says a key's action was done.
    fn acknowledge(&mut self) {
        let manner = self.manner();
        let mut voice = Voice {
            audio: &mut self.audio,
            preparer: &self.preparer,
            live: self.on_air.is_live(),
        };
        self.answers.acknowledge(manner, &self.cfg, &mut voice);
    }

    /// Says a sentence of the default routine with another voice (`letdown voices try`);
    /// answered once it is said, or with why that voice cannot speak.
    fn try_voice(&mut self, engine: &str, voice: &str, answer: Answer<String>) {
        let voice_cfg = match answers::voice_to_try(&self.cfg.voice, engine, voice) {
            Ok(v) => v,
            Err(e) => return reply(answer, Err(e)),
        };
        // The first sentences the default routine says (40 characters or more).
        let sentence = self
            .find_routine(&self.cfg.default_routine)
            .ok()
            .and_then(|r| r.steps.iter().find_map(|s| s.say.clone()))
            .map(|say| crate::feedback::first_sentences(&say, 40))
            .unwrap_or_else(|| "Sit comfortably, and let your shoulders drop.".to_string());
        log::info!("trying the voice {engine}:{voice}");
        self.answers
            .try_voice(voice_cfg, sentence, answer, &self.preparer);
    }

    /// A schedule request, checked against the routines and what is prepared.
    fn on_schedule(&mut self, request: ScheduleRequest) {
        let checks = Checks {
            routines: &self.routines,
            preparer: &self.preparer,
            default_routine: &self.cfg.default_routine,
        };
        if self.agenda.request(request, &checks) {
            self.prepare_ahead();
            self.publish();
        }
    }

    /// A change is on disk (or could not be written): the sessions it recorded start, and
    /// what waited for it is handled.
    fn on_written(&mut self, result: WriteResult) {
        let checks = Checks {
            routines: &self.routines,
            preparer: &self.preparer,
            default_routine: &self.cfg.default_routine,
        };
        let w = self.agenda.on_written(result, &checks);
        for o in w.run {
            let reason = self.agenda.scheduler.reason(&o);
            log::info!("scheduled session {} ({reason}) fires", o.id());
            let _ = self
                .signals
                .send(Signal::ScheduleFired(o.id(), o.routine.clone(), reason));
            self.start(o.routine.clone(), Starter::Scheduled { quiet: o.quiet });
        }
        if !w.failed {
            let s = &self.agenda.scheduler;
            crate::daemon::login_start::ensure(&self.paths.data_dir, || s.has_sessions_ahead());
        }
        self.check_schedule();
        if w.failed || w.changed {
            self.prepare_ahead();
        }
        self.publish();
    }

    /// Gives heads-ups, records what has come due (its sessions start once that is on disk),
    /// tells sessions missed, and synthesizes the next heads-up ahead.
    fn check_schedule(&mut self) {
        let busy = self.on_air.is_live() || self.starting.routine().is_some();
        if let Some(minutes) = self.agenda.scheduler.due(busy) {
            // The side it names may have changed on the phone: read again for next time.
            self.agenda.scheduler.refresh_if_stale();
            log::info!("heads-up: session in {minutes} min");
            let text = self.heads_up_text(minutes);
            let live = self.on_air.is_live();
            self.heads_ups
                .give(text, &mut self.audio, &self.preparer, live);
        }
        self.tell_missed();
        let s = &self.agenda.scheduler;
        if let (Some(lead), Some(next)) = (self.cfg.heads_up, s.next_occurrence())
            && next.at.as_second() - s.now().as_second() > lead.as_secs() as i64
        {
            let minutes = ((lead.as_secs() as f64) / 60.0).round().max(1.0) as u32;
            let text = self.heads_up_text(minutes);
            self.heads_ups.warm(text, &self.preparer);
        }
    }

    /// The heads-up said `minutes` before the next session.
    fn heads_up_text(&self, minutes: u32) -> String {
        let s = &self.agenda.scheduler;
        let spoken_name = s.next_occurrence().and_then(|o| {
            let name = super::scheduler::routine_or(&o.routine, &self.cfg.default_routine);
            let ready = self.preparer.last_prepared(&name)?;
            ready.routine.spoken_name.clone()
        });
        heads_up::text(minutes, spoken_name.as_deref(), s.summary().next_side)
    }

    /// Says the sessions missed while the machine was asleep or off, once, when no session
    /// plays and it is not quiet hours (then the first key press after them tells them: the
    /// CLI takes the notices after every command and says them).
    fn tell_missed(&mut self) {
        let busy = self.on_air.is_live() || self.starting.routine().is_some();
        if busy || self.agenda.scheduler.quiet_now().is_some() {
            return;
        }
        let notices = self.agenda.scheduler.take_untold();
        if notices.is_empty() {
            return;
        }
        let text = crate::feedback::spoken_notices(&notices);
        log::info!("telling: {text}");
        let _ = self.announce(text, false);
    }

    /// A reload's reading is done: the new config and routines take effect, and the caller
    /// hears what is wrong in the routines.
    fn on_reloaded(&mut self, r: Reloaded) {
        let result = r.read.map(|(cfg, entries)| {
            let problems = reload::problems(&entries, &cfg.default_routine);
            self.routines.take(entries);
            if self.preparer.configure(&cfg) {
                // The answering voice may have changed.
                Answers::prepare_heads(&cfg, &self.preparer);
            }
            self.agenda.scheduler.configure(&cfg);
            self.cfg = cfg;
            for p in &problems {
                log::warn!("{p}");
            }
            // Prepared beside the coach: a session running now keeps its cues on time.
            self.prepare_ahead();
            self.publish();
            log::info!("reloaded config and routines ({} problems)", problems.len());
            problems
        });
        reply(r.answer, result);
    }

    fn publish(&self) {
        let volume = self.audio.volume();
        let mut snap = match (self.on_air.snapshot(volume), self.starting.routine()) {
            (Some(on_air), _) => on_air,
            (None, Some(routine)) => Snapshot {
                state: Phase::Preparing,
                routine: routine.to_string(),
                ..Snapshot::idle(volume)
            },
            (None, None) => Snapshot::idle(volume),
        };
        snap.next_session = self.agenda.scheduler.next_session();
        snap.feed_plan = self.agenda.scheduler.feed_plan_map();
        self.snapshot.send_replace(snap);
    }
}

/// Whether a request looks routines up (so it waits for them when a file has just changed).
fn needs_routines(request: &Request) -> bool {
    matches!(
        request,
        Request::Start(..)
            | Request::ListRoutines(_)
            | Request::TryVoice(..)
            | Request::Schedule(ScheduleRequest::Add { .. } | ScheduleRequest::SetFeedPlan(..))
    )
}

/// Sleeps until the wall-clock time `at` (never, without one). When the wall-clock timer
/// fails, it waits a second here, inside the future the coach races with everything else, and
/// returns: the schedule is checked again then, and no request waits meanwhile.
async fn wall_sleep(at: Option<jiff::Timestamp>) {
    let Some(t) = at else {
        return std::future::pending().await;
    };
    if let Err(e) = super::wallclock::sleep_until(t).await {
        log::error!("wall-clock timer: {e}; checking the schedule again in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
