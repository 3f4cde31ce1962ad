//! Scheduling sessions before feeds: the feed log, the feed plan, one-off and daily schedules.
//!
//! Like the session engine, the planner here is pure: it is given the state and the time and
//! answers which sessions are pending, which are due now, which were missed and when to wake
//! next. Wall-clock times are absolute instants ([`jiff::Timestamp`]); daily times are local
//! times resolved in a time zone with jiff, so a DST change neither skips nor doubles a daily
//! session (a time that does not exist that day runs just after the gap, a time that exists
//! twice runs at the first). The daemon keeps [`State`] on disk ([`store`]) and arms a wall-clock
//! timer for [`Planner::next_wake`].

pub mod store;
#[cfg(test)]
mod tests;

mod feed_plan;
mod model;
mod parse;
mod planner;
pub mod sync;

pub use feed_plan::*;
pub use model::*;
pub use parse::*;
pub use planner::*;
