//! What waits for the routines to be read again: a routine file changed, so a request that
//! looks routines up waits until they are read (beside the coach), and everything after it
//! waits behind it, so requests are still handled in the order they came.

use std::collections::VecDeque;

use super::starting::Starter;
use crate::daemon::request::{Request, ScheduleRequest};

/// One thing waiting.
pub(super) enum Held {
    /// A request, handled as if it came now.
    Request(Request),
    /// A start (a scheduled session's, or a client's once it was routed).
    Start(String, Starter),
}

/// What waits, in order.
#[derive(Default)]
pub(super) struct Deferred(VecDeque<Held>);

impl Deferred {
    /// Whether `request` has to wait: something waits already, or it looks routines up and
    /// they are not `current`.
    pub fn holds(&self, request: &Request, current: bool) -> bool {
        !self.0.is_empty() || (!current && needs_routines(request))
    }

    /// Whether a start has to wait.
    pub fn holds_start(&self, current: bool) -> bool {
        !self.0.is_empty() || !current
    }

    /// `held` waits behind what already does.
    pub fn hold(&mut self, held: Held) {
        self.0.push_back(held);
    }

    /// Whether nothing waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Everything that waited, in order (nothing waits after this).
    pub fn take(&mut self) -> VecDeque<Held> {
        std::mem::take(&mut self.0)
    }
}

/// Whether a request looks routines up.
fn needs_routines(request: &Request) -> bool {
    matches!(
        request,
        Request::Start(..)
            | Request::ListRoutines(_)
            | Request::TryVoice(..)
            | Request::Schedule(ScheduleRequest::Add { .. } | ScheduleRequest::SetFeedPlan(..))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    fn list() -> Request {
        Request::ListRoutines(oneshot::channel().0)
    }

    fn volume() -> Request {
        Request::SetVolume(0.5, oneshot::channel().0)
    }

    #[test]
    fn only_what_looks_routines_up_waits_for_them_and_then_everything_waits_behind_it() {
        let mut d = Deferred::default();
        assert!(!d.holds(&volume(), false), "the volume needs no routine");
        assert!(!d.holds(&list(), true), "the routines are current");
        assert!(d.holds(&list(), false));
        assert!(d.holds_start(false) && !d.holds_start(true));
        d.hold(Held::Request(list()));
        assert!(
            d.holds(&volume(), true),
            "behind the one that waits, in order"
        );
        assert!(d.holds_start(true));
        d.hold(Held::Request(volume()));
        let order: Vec<bool> = d
            .take()
            .into_iter()
            .map(|h| matches!(h, Held::Request(Request::ListRoutines(_))))
            .collect();
        assert_eq!(order, [true, false]);
        assert!(d.is_empty() && !d.holds(&volume(), true));
    }
}
