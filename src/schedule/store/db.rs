//! The SQLite file itself: its schema, reading all of it, and writing the difference between
//! two states in one transaction.
//!
//! Feeds and pumpings are rows (years of them load in milliseconds and one is one row
//! written); the rest of [`State`] (schedules, the feed plan, what fired) is small and kept as one JSON value.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

use crate::schedule::{Feed, Pumping, Side, State};

/// The schema this build reads and writes (`PRAGMA user_version`).
pub const SCHEMA: i64 = 2;

/// Opens (creating if `create`) the database at `path`, set up for durable commits: WAL, every
/// commit flushed to disk before it returns. Refuses a schema newer than this build's.
pub fn open(path: &Path, create: bool) -> Result<Connection, String> {
    let conn = open_sqlite(path, create).map_err(|e| e.to_string())?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    match version {
        0 => conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE feeds (
                     id INTEGER PRIMARY KEY, at INTEGER NOT NULL, side TEXT NOT NULL,
                     note TEXT NOT NULL, logged INTEGER NOT NULL, ended INTEGER);
                 CREATE INDEX feeds_at ON feeds(at);
                 CREATE TABLE pumpings (
                     id INTEGER PRIMARY KEY, start INTEGER NOT NULL, end INTEGER NOT NULL,
                     amount_ml REAL NOT NULL, side TEXT NOT NULL, note TEXT NOT NULL,
                     logged INTEGER NOT NULL);
                 CREATE INDEX pumpings_start ON pumpings(start);
                 CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 PRAGMA user_version = 2;
                 COMMIT;",
            )
            .map_err(|e| e.to_string())?,
        // Version 1 had no feed ends (feeds that end came with the Baby Buddy sync) and no
        // pumping log.
        1 => conn
            .execute_batch(
                "BEGIN;
                 ALTER TABLE feeds ADD COLUMN ended INTEGER;
                 CREATE TABLE pumpings (
                     id INTEGER PRIMARY KEY, start INTEGER NOT NULL, end INTEGER NOT NULL,
                     amount_ml REAL NOT NULL, side TEXT NOT NULL, note TEXT NOT NULL,
                     logged INTEGER NOT NULL);
                 CREATE INDEX pumpings_start ON pumpings(start);
                 PRAGMA user_version = 2;
                 COMMIT;",
            )
            .map_err(|e| e.to_string())?,
        SCHEMA => {}
        newer => {
            return Err(format!(
                "schema version {newer} is newer than this letdown reads ({SCHEMA}); a newer letdown wrote it"
            ));
        }
    }
    Ok(conn)
}

fn open_sqlite(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    // WAL: a commit is one append and one flush. FULL: the flush happens before the commit
    // returns, so an acknowledged change survives a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Everything in the database.
pub fn read(conn: &Connection) -> Result<State, String> {
    let rest: Option<String> = conn
        .query_row("SELECT value FROM state WHERE key = 'rest'", [], |r| {
            r.get(0)
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(|e| e.to_string())?;
    let mut state: State = match rest {
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| format!("its schedules are not valid: {e}"))?
        }
        None => State::default(),
    };
    let mut stmt = conn
        .prepare("SELECT id, at, side, note, logged, ended FROM feeds ORDER BY at, id")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (id, at, side, note, logged, end) = row.map_err(|e| e.to_string())?;
        state.feeds.push(Feed {
            id: id as u64,
            at,
            end,
            side: Side::parse(&side).map_err(|e| format!("feed {id}: {e}"))?,
            note,
            logged,
        });
    }
    let mut stmt = conn
        .prepare(
            "SELECT id, start, end, amount_ml, side, note, logged FROM pumpings ORDER BY start, id",
        )
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (id, start, end, amount_ml, side, note, logged) = row.map_err(|e| e.to_string())?;
        state.pumpings.push(Pumping {
            id: id as u64,
            start,
            end,
            amount_ml,
            side: Side::parse(&side).map_err(|e| format!("pumping {id}: {e}"))?,
            note,
            logged,
        });
    }
    Ok(state)
}

/// Writes what differs between `from` (what the file holds) and `to`, in one transaction: all
/// of it is on disk when this returns Ok, none of it otherwise.
pub fn write_difference(conn: &mut Connection, from: &State, to: &State) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        write_rows(
            &tx,
            "feeds",
            "INSERT OR REPLACE INTO feeds (id, at, side, note, logged, ended) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &from.feeds,
            &to.feeds,
            |f| f.id,
            |upsert, f| {
                upsert.execute(params![
                    f.id as i64,
                    f.at,
                    f.side.name(),
                    f.note,
                    f.logged,
                    f.end
                ])
            },
        )?;
        write_rows(
            &tx,
            "pumpings",
            "INSERT OR REPLACE INTO pumpings (id, start, end, amount_ml, side, note, logged) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &from.pumpings,
            &to.pumpings,
            |p| p.id,
            |upsert, p| {
                upsert.execute(params![
                    p.id as i64,
                    p.start,
                    p.end,
                    p.amount_ml,
                    p.side.name(),
                    p.note,
                    p.logged
                ])
            },
        )?;
        let rest = to.without_feeds();
        if rest != from.without_feeds() {
            let json = serde_json::to_string(&rest).map_err(|e| e.to_string())?;
            tx.execute(
                "INSERT OR REPLACE INTO state (key, value) VALUES ('rest', ?1)",
                params![json],
            )
            .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())
}

/// Writes the rows of `table` that differ between `from` and `to` (each row keyed by `id`):
/// those new or changed through `upsert_sql` (filled in by `upsert`), those gone deleted.
fn write_rows<T: PartialEq>(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    upsert_sql: &str,
    from: &[T],
    to: &[T],
    id: impl Fn(&T) -> u64,
    upsert: impl Fn(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
) -> Result<(), String> {
    let before: HashMap<u64, &T> = from.iter().map(|r| (id(r), r)).collect();
    let mut statement = tx.prepare_cached(upsert_sql).map_err(|e| e.to_string())?;
    for r in to {
        if before.get(&id(r)) != Some(&r) {
            upsert(&mut statement, r).map_err(|e| e.to_string())?;
        }
    }
    let after: std::collections::HashSet<u64> = to.iter().map(&id).collect();
    let mut delete = tx
        .prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))
        .map_err(|e| e.to_string())?;
    for r in from.iter().filter(|r| !after.contains(&id(r))) {
        delete
            .execute(params![id(r) as i64])
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
