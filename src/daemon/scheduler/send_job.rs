//! What the Baby Buddy worker is given to send one outbox entry: the record as it is now (the
//! entry only names it), its link on the server, and the server ids already taken by other
//! records, so a record is never matched to another's entry.

use crate::schedule::State;
use crate::schedule::sync::Record;

/// The worker's job for `entry`: the feed or pumping as it is now, its link, and the ids of
/// its kind already linked to other records.
pub fn send_job(
    state: &State,
    entry: &crate::schedule::sync::Outgoing,
) -> crate::daemon::babybuddy::Send {
    use crate::schedule::sync::Link;
    let pumping = entry.record == Record::Pumping;
    let b = &state.babybuddy;
    crate::daemon::babybuddy::Send {
        entry: entry.clone(),
        feed: (!pumping)
            .then(|| state.feeds.iter().find(|f| f.id == entry.feed).cloned())
            .flatten(),
        pumping: pumping
            .then(|| state.pumpings.iter().find(|p| p.id == entry.feed).cloned())
            .flatten(),
        link: b.links.get(&entry.feed).copied(),
        // Ids of the same kind only: Baby Buddy numbers pumpings apart from feedings.
        taken: b
            .links
            .iter()
            .filter(|(feed, l)| **feed != entry.feed && matches!(l, Link::Pumping(_)) == pumping)
            .map(|(_, l)| l.id())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::sync::{Link, Outgoing};

    fn entry(feed: u64, record: Record) -> Outgoing {
        Outgoing {
            feed,
            record,
            starts: vec![],
            attempts: 0,
            next_try: 0,
            error: None,
            stuck: false,
            told: false,
        }
    }

    #[test]
    fn a_job_names_only_ids_of_its_own_kind_as_taken() {
        let mut state = State::default();
        state.babybuddy.links.insert(1, Link::Feeding(10));
        state.babybuddy.links.insert(2, Link::Timer(11));
        state.babybuddy.links.insert(3, Link::Pumping(10));
        state.babybuddy.links.insert(4, Link::Pumping(12));
        let mut taken = send_job(&state, &entry(4, Record::Pumping)).taken;
        taken.sort();
        assert_eq!(taken, vec![10], "a pumping's job names feedings' ids");
        let mut taken = send_job(&state, &entry(1, Record::Feed)).taken;
        taken.sort();
        assert_eq!(
            taken,
            vec![11],
            "a feed's job names pumpings' or its own ids"
        );
        assert_eq!(
            send_job(&state, &entry(1, Record::Feed)).link,
            Some(Link::Feeding(10))
        );
    }
}
