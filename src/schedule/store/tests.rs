use super::*;
use crate::schedule::{Rule, Side};
use jiff::Timestamp;

const NOW: Timestamp = Timestamp::constant(1_800_000_000, 0);

fn some_state() -> State {
    let mut st = State::default();
    st.log_feed(
        NOW,
        Timestamp::from_second(1_799_990_000).unwrap(),
        None,
        Side::Left,
        "n \"q\" ');",
    );
    st.log_feed(
        NOW,
        Timestamp::from_second(1_799_995_000).unwrap(),
        None,
        Side::Both,
        "",
    );
    st.add_schedule(
        NOW,
        Rule::Daily {
            hour: 6,
            minute: 30,
        },
        "x",
    );
    st
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn state_round_trips_and_every_kind_of_change_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, loaded) = Store::open(dir.path());
    assert_eq!(loaded.state, State::default());
    assert!(loaded.warnings.is_empty());
    assert!(
        names(dir.path()).is_empty(),
        "created files before any change"
    );
    let mut st = some_state();
    store.save(st.clone()).unwrap();
    assert_eq!(Store::open(dir.path()).1.state, st);
    // Correct one feed, delete the other, add one, change a schedule.
    let first = st.feeds[0].id;
    let second = st.feeds[1].id;
    assert!(st.correct_feed(
        first,
        Timestamp::from_second(1_799_999_000).unwrap(),
        Some(Side::Right)
    ));
    assert!(st.delete_feed(second));
    st.log_feed(NOW, NOW, None, Side::Unknown, "third");
    st.missed_untold.push("told later".into());
    store.save(st.clone()).unwrap();
    let again = Store::open(dir.path()).1.state;
    assert_eq!(again, st);
    assert_eq!(again.feeds.len(), 2);
}

#[test]
fn a_corrupt_database_is_moved_aside_with_its_bytes_and_a_new_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let junk = b"SQLite format 3\0 but not really; {\"feeds\": []}".repeat(50);
    std::fs::write(dir.path().join(FILE_NAME), &junk).unwrap();
    let (mut store, loaded) = Store::open(dir.path());
    assert_eq!(loaded.state, State::default());
    assert!(
        loaded.warnings.iter().any(|w| w.contains("moved it to")),
        "{:?}",
        loaded.warnings
    );
    let aside: Vec<_> = names(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("state.sqlite3.unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", names(dir.path()));
    // A change now writes a new file and never touches the old bytes.
    store.save(some_state()).unwrap();
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), junk);
    assert_eq!(Store::open(dir.path()).1.state, some_state());
}

#[test]
fn an_unreadable_path_is_moved_aside_before_anything_is_written() {
    // A directory where the database should be: it cannot be opened as one (even by root,
    // unlike a file without read permission).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
    std::fs::write(dir.path().join(FILE_NAME).join("keep"), b"mine").unwrap();
    let (mut store, loaded) = Store::open(dir.path());
    assert!(
        loaded.warnings.iter().any(|w| w.contains("moved it to")),
        "{:?}",
        loaded.warnings
    );
    store.save(some_state()).unwrap();
    let aside = names(dir.path())
        .into_iter()
        .find(|n| n.starts_with("state.sqlite3.unreadable-"))
        .expect("not moved aside");
    assert_eq!(
        std::fs::read(dir.path().join(aside).join("keep")).unwrap(),
        b"mine"
    );
}

#[test]
fn a_file_that_cannot_be_moved_aside_is_never_written() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    if std::fs::metadata(dir.path()).unwrap().uid() == 0 {
        eprintln!("skipped: root can move a file out of a read-only directory");
        return;
    }
    let junk = b"not a database at all".to_vec();
    std::fs::write(dir.path().join(FILE_NAME), &junk).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
    let (mut store, loaded) = Store::open(dir.path());
    let err = store.save(some_state()).unwrap_err();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(err.contains("left untouched"), "{err}");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("could not be moved aside"))
    );
    assert_eq!(std::fs::read(dir.path().join(FILE_NAME)).unwrap(), junk);
}

#[test]
fn the_json_file_of_earlier_versions_is_migrated_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let st = some_state();
    let json = serde_json::to_vec_pretty(&st).unwrap();
    std::fs::write(dir.path().join(LEGACY_FILE_NAME), &json).unwrap();
    let (_, loaded) = Store::open(dir.path());
    assert_eq!(loaded.state, st);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("moved the feeds")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(
        std::fs::read(dir.path().join("state.json.migrated")).unwrap(),
        json,
        "the old file's bytes were not kept"
    );
    assert!(!dir.path().join(LEGACY_FILE_NAME).exists());
    // Opened again, the database is what is read (the migration happens once).
    let (_, again) = Store::open(dir.path());
    assert_eq!(again.state, st);
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
}

#[test]
fn a_corrupt_json_file_of_earlier_versions_is_moved_aside_with_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LEGACY_FILE_NAME), b"{ not json").unwrap();
    let (mut store, loaded) = Store::open(dir.path());
    assert_eq!(loaded.state, State::default());
    assert!(loaded.warnings.iter().any(|w| w.contains("moved it to")));
    store.save(some_state()).unwrap();
    let aside = names(dir.path())
        .into_iter()
        .find(|n| n.starts_with("state.json.corrupt-"))
        .expect("not moved aside");
    assert_eq!(
        std::fs::read(dir.path().join(aside)).unwrap(),
        b"{ not json"
    );
}

#[test]
fn a_database_deleted_while_running_gets_the_whole_state_at_the_next_change() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = Store::open(dir.path());
    let mut st = some_state();
    store.save(st.clone()).unwrap();
    for f in names(dir.path()) {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    st.log_feed(NOW, NOW, None, Side::Right, "after");
    store.save(st.clone()).unwrap();
    assert_eq!(
        Store::open(dir.path()).1.state,
        st,
        "earlier feeds were lost"
    );
}

#[test]
fn a_failed_write_changes_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut store, _) = Store::open(&data);
    let st = some_state();
    store.save(st.clone()).unwrap();
    // The directory replaced by a file: nothing can be written at the path.
    std::fs::rename(&data, dir.path().join("away")).unwrap();
    std::fs::write(&data, b"x").unwrap();
    let mut next = st.clone();
    next.log_feed(NOW, NOW, None, Side::Left, "lost");
    assert!(store.save(next).is_err());
    assert_eq!(store.on_disk(), &st);
    std::fs::remove_file(&data).unwrap();
    std::fs::rename(dir.path().join("away"), &data).unwrap();
    assert_eq!(Store::open(&data).1.state, st);
}

/// A database of the first schema (no feed ends, no sync) is read, moved to the current one in
/// place, and keeps every feed; what the sync adds is written and read back.
#[test]
fn a_first_schema_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE feeds (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, side TEXT NOT NULL,
                                 note TEXT NOT NULL, logged INTEGER NOT NULL);
             CREATE INDEX feeds_at ON feeds(at);
             CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO feeds VALUES (3, 1799990000, 'left', 'old', 1799990100);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let (mut store, loaded) = Store::open(dir.path());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.state.feeds.len(), 1);
    assert_eq!(loaded.state.feeds[0].note, "old");
    assert_eq!(loaded.state.feeds[0].end, None);
    let mut next = loaded.state.clone();
    next.feeds[0].end = Some(1_799_991_000);
    next.babybuddy.queue(3, Some(1_799_990_000), 1_800_000_000);
    store.save(next.clone()).unwrap();
    let (_, again) = Store::open(dir.path());
    assert_eq!(again.state, next);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, db::SCHEMA);
}
