//! The coach: one task that routes between the owners of letdownd's parts.
//!
//! D-Bus and MPRIS handlers never touch this state; they send a [`Request`] and wait for its
//! typed answer. Each part has one owner, with its own state and a small interface:
//! - [`OnAir`]: the session on air, its engine, clock and sounds in memory;
//! - [`Starting`]: a start in progress, from request to first sound; [`Launch`]: a start's
//!   steps, lent the parts it moves;
//! - [`Answers`]: a key's result said aloud, in order, and voices being tried;
//! - [`HeadsUps`]: heads-ups before a scheduled session, synthesized ahead ([`Due`]: the
//!   parts a heads-up touches);
//! - [`Agenda`]: the scheduler (feeds, schedules, the zone) and what waits for its writes;
//! - [`Routines`]: the routines, in memory; [`Audio`]: the mix, output and volume;
//!   [`Preparer`]: speech synthesized beside the coach.
//!
//! The loop selects over their deadlines and channels and hands each result to the owner it
//! concerns; what is here only passes things from one owner to another. It sleeps until the
//! engine's next absolute deadline, so step boundaries never drift, and holds no timer and no
//! audio stream when idle.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::audio::Audio;
use super::error::CoachError;
use super::preparer::{Done, PhraseFor, Preparer};
use super::request::{Answer, Request, ScheduleRequest, SessionCommand, reply};
use super::routines::Routines;
use super::scheduler::Scheduler;
use super::snapshot::{Signal, Snapshot};
use super::wallclock;
use super::writer::WriteResult;
use crate::clip::Clip;
use crate::config::Config;
use crate::output::Output;
use crate::paths::Paths;
#[cfg(test)]
use crate::routine::Routine;

mod agenda;
mod answers;
mod cues;
mod deferred;
mod heads_up;
mod late_cues;
mod launch;
mod on_air;
mod reload;
mod starting;

use agenda::{Agenda, Checks, Happened};
use answers::{Answers, Voice};
pub use cues::CueTiming;
use deferred::{Deferred, Held};
use heads_up::{Due, HeadsUps};
use launch::Launch;
use on_air::OnAir;
use reload::{Applied, Reloaded, Reloading};
use starting::{Next, Starter, Starting};

/// The session task.
pub struct Coach {
    paths: Paths,
    cfg: Config,
    routines: Routines,
    /// What waits for the routines to be read.
    deferred: Deferred,
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
        Self {
            agenda: Agenda::new(scheduler, written, paths.data_dir.clone()),
            routines: Routines::new(paths.clone()),
            deferred: Deferred::default(),
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
                _ = wallclock::sleep_until_instant(deadline) => {
                    timed = true;
                    self.on_air.on_deadline();
                }
                Some(done) = self.preparer.next() => self.on_done(done),
                loaded = self.on_air.loaded() => self.on_air.on_loaded(loaded, &self.audio),
                _ = wallclock::sleep_until_instant(health) => {
                    timed = true;
                    if self.audio.keep_healthy() {
                        let _ = self.on_air.command(SessionCommand::Stop);
                    }
                }
                r = self.starting.readied() => {
                    let next = self.starting.on_readied(r, &mut self.audio);
                    self.go_on(next);
                }
                r = self.reloading.next() => self.on_reloaded(r),
                o = self.audio.reopened() => {
                    self.launch().on_reopened(o);
                    self.publish();
                }
                _ = wallclock::sleep_until_instant(close_at) => self.audio.close_if_silent(self.on_air.is_live()),
                _ = wallclock::wake_at(wake) => {
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
        if self.deferred.holds(&request, self.routines.current()) {
            return self.deferred.hold(Held::Request(request));
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
                        let (answers, mut voice) = self.answering();
                        answers.acknowledge(&mut voice);
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
        for held in self.deferred.take() {
            match held {
                Held::Request(r) => self.handle(r),
                Held::Start(name, starter) => self.start(name, starter),
            }
        }
        self.prepare_ahead();
        self.publish();
    }

    /// Something synthesized beside the coach is done.
    fn on_done(&mut self, done: Done) {
        match done {
            Done::Prepared(p) => {
                self.launch().on_prepared(*p);
                self.publish();
            }
            Done::Spoken(PhraseFor::Session(id), clip) => {
                if self.on_air.is_session(id) {
                    self.audio.say(vec![clip], 1.0);
                }
            }
            Done::Spoken(PhraseFor::HeadsUp, clip) => {
                heads_up::say(clip, &mut self.audio, self.on_air.is_live())
            }
            Done::Spoken(PhraseFor::Feedback(gain, n), clip) => {
                let (answers, mut voice) = self.answering();
                answers.spoken(n, clip, gain, &mut voice)
            }
            Done::Spoken(PhraseFor::Warm(g), clip) => self.heads_ups.warmed(g, clip),
            Done::Spoken(PhraseFor::Trial(n), clip) => {
                let (answers, mut voice) = self.answering();
                answers.trial_spoken(n, clip, &mut voice)
            }
            Done::Unspoken(PhraseFor::Feedback(gain, n), _) => {
                // Nothing to say, but the answers after it move on.
                let (answers, mut voice) = self.answering();
                answers.spoken(n, Clip::new(Vec::new()), gain, &mut voice)
            }
            Done::Unspoken(PhraseFor::Trial(n), why) => self.answers.trial_failed(n, why),
            Done::Unspoken(..) => {}
        }
    }

    /// The answers, and where and how they are said, lent for one call.
    fn answering(&mut self) -> (&mut Answers, Voice<'_>) {
        let voice = Voice {
            audio: &mut self.audio,
            preparer: &self.preparer,
            cfg: &self.cfg,
            quiet: self.agenda.scheduler.quiet_now(),
            live: self.on_air.is_live(),
        };
        (&mut self.answers, voice)
    }

    /// The parts a start touches, lent for one call.
    fn launch(&mut self) -> Launch<'_> {
        Launch {
            routines: &self.routines,
            scheduler: &self.agenda.scheduler,
            cfg: &self.cfg,
            preparer: &mut self.preparer,
            starting: &mut self.starting,
            audio: &mut self.audio,
            on_air: &mut self.on_air,
        }
    }

    /// The routine `name` as it would start now.
    #[cfg(test)]
    fn find_routine(&mut self, name: &str) -> Result<Routine, CoachError> {
        self.launch().find(name)
    }

    /// Prepares what the next days will start ([`Launch::prepare_ahead`]), once the routines
    /// are read (until then, it is done when they are).
    fn prepare_ahead(&mut self) {
        if self.routines.current() {
            self.launch().prepare_ahead();
        }
    }

    /// Starts a routine ([`Launch::start`]), after what waits for the routines to be read.
    fn start(&mut self, name: String, starter: Starter) {
        if self.deferred.holds_start(self.routines.current()) {
            return self.deferred.hold(Held::Start(name, starter));
        }
        self.launch().start(name, starter);
        self.publish();
    }

    /// A start moved on ([`Launch::go_on`]).
    fn go_on(&mut self, next: Next) {
        self.launch().go_on(next);
        self.publish();
    }

    /// "Where am I": where the session is, said aloud; with no session, the day.
    fn where_am_i(&mut self) -> Result<String, CoachError> {
        if let Some(text) = self.on_air.say_where(&mut self.audio, &self.preparer) {
            return Ok(text);
        }
        // Said from what is known now; a read older than 30 s is renewed for next time.
        self.agenda.scheduler.refresh_if_stale();
        let s = &self.agenda.scheduler;
        let text = crate::feedback::where_idle(&s.summary(), s.tz());
        self.announce(text.clone(), false)?;
        Ok(text)
    }

    /// Says a key's result: its tone at once, then its words ([`Answers::announce`]).
    fn announce(&mut self, text: String, refused: bool) -> Result<(), CoachError> {
        let (answers, mut voice) = self.answering();
        answers.announce(text, refused, &mut voice)
    }

    /// Says a sentence of the default routine with another voice (`letdown voices try`);
    /// answered once it is said, or with why that voice cannot speak.
    fn try_voice(&mut self, engine: &str, voice: &str, answer: Answer<String>) {
        let voice_cfg = match answers::voice_to_try(&self.cfg.voice, engine, voice) {
            Ok(v) => v,
            Err(e) => return reply(answer, Err(e)),
        };
        let default = self.cfg.default_routine.clone();
        let sentence = answers::trial_sentence(self.launch().find(&default).ok().as_ref());
        log::info!("trying the voice {engine}:{voice}");
        self.answers
            .try_voice(voice_cfg, sentence, answer, &self.preparer);
    }

    /// The agenda, and what its requests are checked against, lent for one call.
    fn agenda(&mut self) -> (&mut Agenda, Checks<'_>) {
        let checks = Checks {
            routines: &self.routines,
            preparer: &self.preparer,
            default_routine: &self.cfg.default_routine,
        };
        (&mut self.agenda, checks)
    }

    /// A schedule request, checked against the routines and what is prepared.
    fn on_schedule(&mut self, request: ScheduleRequest) {
        let (agenda, checks) = self.agenda();
        if agenda.request(request, &checks) {
            self.prepare_ahead();
            self.publish();
        }
    }

    /// A change is on disk (or could not be written): the sessions it recorded start, and
    /// what waited for it is handled.
    fn on_written(&mut self, result: WriteResult) {
        let (agenda, checks) = self.agenda();
        let w = agenda.on_written(result, &checks);
        for o in w.run {
            let reason = self.agenda.scheduler.reason(&o);
            log::info!("scheduled session {} ({reason}) fires", o.id());
            let fired = Signal::ScheduleFired(o.id(), o.routine.clone(), reason);
            let _ = self.signals.send(fired);
            self.start(o.routine, Starter::Scheduled { quiet: o.quiet });
        }
        self.check_schedule();
        if w.failed || w.changed {
            self.prepare_ahead();
        }
        self.publish();
    }

    /// Gives the heads-up due and records what has come due ([`HeadsUps::give_due`]), tells
    /// the sessions missed, and synthesizes the next heads-up ahead.
    fn check_schedule(&mut self) {
        let (heads_ups, mut due) = self.due();
        heads_ups.give_due(&mut due);
        if let Some(text) = due.missed() {
            log::info!("telling: {text}");
            let _ = self.announce(text, false);
        }
        let (heads_ups, due) = self.due();
        heads_ups.warm_next(&due);
    }

    /// The heads-ups, and the parts they touch, lent for one call.
    fn due(&mut self) -> (&mut HeadsUps, Due<'_>) {
        let due = Due {
            scheduler: &mut self.agenda.scheduler,
            cfg: &self.cfg,
            preparer: &self.preparer,
            audio: &mut self.audio,
            live: self.on_air.is_live(),
            busy: self.on_air.is_live() || self.starting.routine().is_some(),
        };
        (&mut self.heads_ups, due)
    }

    /// A reload's reading is done: the new config and routines take effect, and the caller
    /// hears what is wrong in the routines.
    fn on_reloaded(&mut self, r: Reloaded) {
        let result = r.read.map(|(cfg, entries)| {
            let applied = Applied {
                cfg: &mut self.cfg,
                routines: &mut self.routines,
                preparer: &mut self.preparer,
                scheduler: &mut self.agenda.scheduler,
            };
            let problems = applied.take(cfg, entries);
            // Prepared beside the coach: a session running now keeps its cues on time.
            self.prepare_ahead();
            self.publish();
            problems
        });
        reply(r.answer, result);
    }

    /// Publishes where the daemon is: the session on air, else a start, else idle; and the
    /// schedule's part.
    fn publish(&self) {
        let volume = self.audio.volume();
        let on_air = self.on_air.snapshot(volume);
        let mut snap = Snapshot::of(on_air, self.starting.routine(), volume);
        snap.next_session = self.agenda.scheduler.next_session();
        snap.feed_plan = self.agenda.scheduler.feed_plan_map();
        self.snapshot.send_replace(snap);
    }
}

#[cfg(test)]
mod tests;
