//! Bringing the server's copy of one record up to date, on the worker's thread: a feed (a
//! timer while it runs, a feeding once it ended, nothing once deleted) or a pumping. Each step
//! first looks for what an earlier try may have made (by child and start), so a try repeated
//! after a lost answer or a crash makes nothing twice.

use crate::babybuddy::api::{ApiError, Client, NewFeeding, NewPumping};
use crate::schedule::sync::{Link, Outgoing, method_of_side};
use crate::schedule::{Feed, Pumping};

/// Where an earlier try's copy may be: the starts the entry remembers and the record's own
/// (`None` when it was deleted), each once.
fn starts_to_look_at(entry: &Outgoing, own: Option<i64>) -> Vec<i64> {
    let mut starts = entry.starts.clone();
    if let Some(s) = own
        && !starts.contains(&s)
    {
        starts.push(s);
    }
    starts
}

/// The first item `find` finds at any of `starts`.
fn first_found(
    starts: &[i64],
    mut find: impl FnMut(i64) -> Result<Option<u64>, ApiError>,
) -> Result<Option<u64>, ApiError> {
    for &s in starts {
        if let Some(id) = find(s)? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Brings the server's copy of one feed up to date: a running feed is a timer, an ended one a
/// feeding, a deleted one nothing. Each step first looks for what an earlier try may have
/// made (by child and start), so a try repeated after a lost answer or a crash makes nothing
/// twice.
pub(super) fn push(
    c: &Client,
    child: u64,
    entry: &Outgoing,
    feed: Option<&Feed>,
    link: Option<Link>,
    taken: &[u64],
) -> Result<Option<Link>, ApiError> {
    let starts = starts_to_look_at(entry, feed.map(|f| f.at));
    let find_timer = |starts: &[i64]| first_found(starts, |s| c.find_timer(child, s, taken));
    let find_feeding = |starts: &[i64]| first_found(starts, |s| c.find_feeding(child, s, taken));
    let Some(f) = feed else {
        match link {
            Some(Link::Timer(t)) => c.delete_timer(t)?,
            Some(Link::Feeding(id)) => c.delete_feeding(id)?,
            Some(Link::Pumping(_)) | None => {
                if let Some(id) = find_feeding(&starts)? {
                    c.delete_feeding(id)?;
                }
                if let Some(t) = find_timer(&starts)? {
                    c.delete_timer(t)?;
                }
            }
        }
        return Ok(None);
    };
    let Some(end) = f.end else {
        // Running: a timer the family sees on their phones.
        let timer = match link {
            Some(Link::Timer(t)) => Some(t),
            Some(Link::Feeding(id)) => return Ok(Some(Link::Feeding(id))),
            Some(Link::Pumping(_)) | None => find_timer(&starts)?,
        };
        return match timer {
            Some(t) => {
                c.move_timer(t, f.at)?;
                Ok(Some(Link::Timer(t)))
            }
            None => c.start_timer(child, f.at).map(|t| Some(Link::Timer(t))),
        };
    };
    let method = method_of_side(f.side).ok_or_else(|| {
        ApiError::Refused(
            "Baby Buddy needs a side for each feeding; give the feed one with `letdown feeds fix`"
                .into(),
        )
    })?;
    let body = NewFeeding {
        child,
        start: f.at,
        end,
        method,
        notes: f.note.clone(),
    };
    let id = match link {
        Some(Link::Feeding(id)) => {
            c.patch_feeding(id, &body)?;
            id
        }
        timer => {
            let id = match find_feeding(&starts)? {
                Some(id) => {
                    c.patch_feeding(id, &body)?;
                    id
                }
                None => c.post_feeding(&body)?,
            };
            // The timer it was, if any (one whose answer was lost is looked for).
            let t = match timer {
                Some(Link::Timer(t)) => Some(t),
                _ => find_timer(&starts)?,
            };
            if let Some(t) = t {
                c.delete_timer(t)?;
            }
            id
        }
    };
    Ok(Some(Link::Feeding(id)))
}

/// Brings the server's copy of one pumping up to date (created, changed or deleted), looking
/// first for one an earlier try made, like [`push`].
pub(super) fn push_pumping(
    c: &Client,
    child: u64,
    entry: &Outgoing,
    pumping: Option<&Pumping>,
    link: Option<Link>,
    taken: &[u64],
) -> Result<Option<Link>, ApiError> {
    let known = match link {
        Some(Link::Pumping(id)) => Some(id),
        _ => {
            let starts = starts_to_look_at(entry, pumping.map(|p| p.start));
            first_found(&starts, |s| c.find_pumping(child, s, taken))?
        }
    };
    let Some(p) = pumping else {
        if let Some(id) = known {
            c.delete_pumping(id)?;
        }
        return Ok(None);
    };
    let side = match p.side.name() {
        "" => String::new(),
        "both" => "both sides".into(),
        s => format!("{s} side"),
    };
    let notes = [side, p.note.clone()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let body = NewPumping {
        child,
        amount_ml: p.amount_ml,
        start: p.start,
        end: p.end,
        notes,
    };
    let id = match known {
        Some(id) => {
            c.patch_pumping(id, &body)?;
            id
        }
        None => c.post_pumping(&body)?,
    };
    Ok(Some(Link::Pumping(id)))
}
