//! The crash inbox on a real SQLite file: grouping, dedupe of resent events, retention, triage
//! status, and a reader in another connection noticing the writer's changes.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crashloom::crash::{CrashEvent, Exception, Frame, group};
use crashloom::source::store::{CrashStore, EVENTS_KEPT_PER_GROUP, GroupStatus, SCHEMA_VERSION, StoreError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, minute, 0).single().unwrap_or_default()
}

/// A Python `KeyError` raised in `shop/orders.py` `total`, as the collector would store it.
fn key_error(event_id: &str, message: &str) -> CrashEvent {
    CrashEvent {
        event_id: Some(event_id.into()),
        exceptions: vec![Exception {
            ty: "KeyError".into(),
            value: message.into(),
            frames: vec![
                Frame {
                    filename: Some("app.py".into()),
                    function: Some("main".into()),
                    line: Some(10),
                    ..Frame::default()
                },
                Frame {
                    filename: Some("shop/orders.py".into()),
                    function: Some("total".into()),
                    line: Some(42),
                    in_app: Some(true),
                    ..Frame::default()
                },
            ],
            ..Exception::default()
        }],
        release: Some("shop@1.0.0".into()),
        environment: Some("production".into()),
        ..CrashEvent::default()
    }
}

fn zero_division(event_id: &str) -> CrashEvent {
    let mut event = key_error(event_id, "division by zero");
    event.exceptions[0].ty = "ZeroDivisionError".into();
    event.exceptions[0].frames[1].function = Some("average".into());
    event
}

fn store_in(dir: &tempfile::TempDir) -> Result<CrashStore, StoreError> {
    CrashStore::open(dir.path().join("inbox.sqlite"))
}

#[test]
fn the_same_bug_seen_three_times_is_one_group_with_a_count() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;

    let first = store.insert_event(&key_error("a1", "'sku-1'"), at(1))?;
    let mut staging = key_error("a2", "'sku-2'");
    staging.environment = Some("staging".into());
    staging.release = Some("shop@1.1.0".into());
    let second = store.insert_event(&staging, at(5))?;
    let third = store.insert_event(&key_error("a3", "'sku-3'"), at(3))?;

    assert!(first.new_group && !first.duplicate);
    assert!(!second.new_group && !third.new_group);
    assert_eq!(first.signature, group::signature(&key_error("x", "y")));
    assert_eq!(second.signature, first.signature);

    let groups = store.groups(10)?;
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group.signature(), first.signature);
    assert_eq!(group.issue.short_id.as_deref(), Some(group::short_id(&first.signature).as_str()));
    assert_eq!(group.issue.count, Some(3));
    assert_eq!(group.issue.first_seen, Some(at(1)));
    assert_eq!(group.issue.last_seen, Some(at(5)));
    assert_eq!(group.issue.releases, ["shop@1.0.0", "shop@1.1.0"]);
    assert_eq!(group.issue.environments, ["production", "staging"]);
    assert_eq!(group.issue.status.as_deref(), Some("unresolved"));
    assert_eq!(group.exception_type, "KeyError");
    assert_eq!(group.title, "KeyError: 'sku-3'");

    let latest = group.latest_event.as_ref().ok_or("the group has no latest event")?;
    assert_eq!(latest.event_id.as_deref(), Some("a3"));
    assert_eq!(latest.issue.as_ref(), Some(&group.issue), "the latest event carries its group's facts");
    assert_eq!(latest.exceptions, key_error("a3", "'sku-3'").exceptions, "the event round-trips in full");
    Ok(())
}

#[test]
fn an_event_resent_by_the_sdk_is_counted_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;

    store.insert_event(&key_error("fc6d8c0c43fc4630ad850ee518f1b9d0", "'a'"), at(1))?;
    // The same id as a dashed, upper-case UUID: still the same event.
    let resent = store.insert_event(&key_error("FC6D8C0C-43FC-4630-AD85-0EE518F1B9D0", "'a'"), at(2))?;

    assert!(resent.duplicate);
    assert!(!resent.new_group);
    assert_eq!(store.groups(10)?[0].issue.count, Some(1));
    assert_eq!(store.total_event_count()?, 1);
    Ok(())
}

#[test]
fn a_resend_is_recognised_even_after_its_event_was_pruned() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    for n in 0..EVENTS_KEPT_PER_GROUP + 3 {
        store.insert_event(&key_error(&format!("e{n}"), "'a'"), at(1))?;
    }
    assert!(store.insert_event(&key_error("e0", "'a'"), at(2))?.duplicate);
    assert_eq!(store.total_event_count()?, (EVENTS_KEPT_PER_GROUP + 3) as u64);
    Ok(())
}

#[test]
fn only_the_latest_events_of_a_group_are_kept_in_full() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    let events: Vec<CrashEvent> = (0..8).map(|n| key_error(&format!("e{n}"), &format!("'sku-{n}'"))).collect();
    let outcomes = store.insert_events(events.iter().map(|event| (event, at(1))))?;
    let signature = &outcomes[0].signature;

    let kept = store.latest_events(signature, 100)?;
    let ids: Vec<&str> = kept.iter().filter_map(|event| event.event_id.as_deref()).collect();
    assert_eq!(ids, ["e7", "e6", "e5", "e4", "e3"], "newest first, {EVENTS_KEPT_PER_GROUP} kept");
    assert_eq!(store.latest_events(signature, 2)?.len(), 2);
    assert_eq!(store.groups(1)?[0].issue.count, Some(8), "pruning keeps the count");
    Ok(())
}

#[test]
fn a_batch_reports_each_event_including_duplicates_inside_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    let batch = [key_error("k1", "'a'"), zero_division("z1"), key_error("k1", "'a'"), key_error("k2", "'b'")];
    let outcomes = store.insert_events(batch.iter().map(|event| (event, at(1))))?;

    let flags: Vec<(bool, bool)> = outcomes.iter().map(|o| (o.new_group, o.duplicate)).collect();
    assert_eq!(flags, [(true, false), (true, false), (false, true), (false, false)]);
    assert_eq!(store.total_event_count()?, 3);
    Ok(())
}

#[test]
fn groups_come_most_recently_seen_first() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    store.insert_event(&key_error("k1", "'a'"), at(1))?;
    store.insert_event(&zero_division("z1"), at(2))?;

    let titles: Vec<String> = store.groups(10)?.into_iter().map(|group| group.exception_type).collect();
    assert_eq!(titles, ["ZeroDivisionError", "KeyError"]);
    assert_eq!(store.groups(1)?.len(), 1);
    Ok(())
}

#[test]
fn an_sdk_clock_ahead_of_the_collector_does_not_move_last_seen_into_the_future() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    let mut event = key_error("k1", "'a'");
    event.timestamp = Some(at(1) + Duration::days(365));
    store.insert_event(&event, at(1))?;
    let mut earlier = key_error("k0", "'a'");
    earlier.timestamp = Some(at(0));
    store.insert_event(&earlier, at(2))?;

    let issue = &store.groups(1)?[0].issue;
    assert_eq!((issue.first_seen, issue.last_seen), (Some(at(0)), Some(at(1))));
    Ok(())
}

#[test]
fn a_resolved_group_reopens_on_a_new_event_and_an_ignored_one_stays_ignored() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    let key = store.insert_event(&key_error("k1", "'a'"), at(1))?.signature;
    let zero = store.insert_event(&zero_division("z1"), at(1))?.signature;

    store.set_status(&key, GroupStatus::Resolved)?;
    store.set_status(&zero, GroupStatus::Ignored)?;
    assert_eq!(store.group(&key)?.and_then(|g| g.issue.status).as_deref(), Some("resolved"));

    store.insert_event(&key_error("k2", "'a'"), at(2))?;
    store.insert_event(&zero_division("z2"), at(2))?;
    assert_eq!(store.group(&key)?.and_then(|g| g.issue.status).as_deref(), Some("unresolved"));
    assert_eq!(store.group(&zero)?.and_then(|g| g.issue.status).as_deref(), Some("ignored"));

    assert!(matches!(store.set_status("0000000000000000", GroupStatus::Resolved), Err(StoreError::UnknownGroup(_))));
    assert!(store.group("0000000000000000")?.is_none());
    Ok(())
}

#[test]
fn a_reader_in_another_connection_notices_new_events_from_the_change_marker() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut collector = store_in(&dir)?;
    let mut language_server = store_in(&dir)?;

    let before = language_server.change_marker()?;
    collector.insert_event(&key_error("k1", "'a'"), at(1))?;
    let after_insert = language_server.change_marker()?;
    assert!(after_insert > before);
    assert_eq!(language_server.groups(10)?.len(), 1);

    collector.insert_event(&key_error("k1", "'a'"), at(1))?;
    assert_eq!(language_server.change_marker()?, after_insert, "a duplicate changes nothing");

    let signature = language_server.groups(1)?[0].issue.id.clone();
    language_server.set_status(&signature, GroupStatus::Resolved)?;
    assert!(collector.change_marker()? > after_insert, "status changes count too");
    Ok(())
}

#[test]
fn a_reopened_store_keeps_everything_and_its_schema_version() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let mut store = store_in(&dir)?;
        store.insert_event(&key_error("k1", "'a'"), at(1))?;
    }
    let store = store_in(&dir)?;
    assert_eq!(store.schema_version()?, SCHEMA_VERSION);
    assert_eq!(store.groups(10)?[0].issue.count, Some(1));
    Ok(())
}

#[test]
fn a_store_from_a_newer_crashloom_is_refused_with_a_clear_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("inbox.sqlite");
    drop(CrashStore::open(&path)?);
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)?;
    drop(conn);

    let error = CrashStore::open(&path).err().ok_or("a newer schema was accepted")?;
    assert!(matches!(error, StoreError::NewerSchema { .. }));
    assert!(error.to_string().contains("newer Crashloom"));
    Ok(())
}

#[test]
fn event_ids_are_forgotten_a_month_after_the_newest_arrival_and_not_before() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = store_in(&dir)?;
    let long_ago = at(1) - Duration::days(45);
    store.insert_event(&key_error("old-1", "'a'"), long_ago)?;
    store.insert_event(&key_error("recent-1", "'a'"), at(1) - Duration::days(20))?;
    store.insert_event(&key_error("new-1", "'a'"), at(1))?;
    assert_eq!(store.forget_old_event_ids()?, 1, "only the id older than a month before the newest goes");

    // A resend of the recent one is still recognised; the forgotten one counts as new.
    assert!(store.insert_event(&key_error("recent-1", "'a'"), at(2))?.duplicate);
    assert!(!store.insert_event(&key_error("old-1", "'a'"), at(3))?.duplicate);
    assert_eq!(store.forget_old_event_ids()?, 0, "nothing else is old enough");
    Ok(())
}

#[test]
fn a_schema_1_store_keeps_recognising_its_event_ids_after_the_upgrade() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("inbox.sqlite");
    {
        let mut store = CrashStore::open(&path)?;
        store.insert_event(&key_error("k1", "'a'"), at(1))?;
    }
    // Turn the file back into schema 1, as an older Crashloom wrote it.
    let conn = rusqlite::Connection::open(&path)?;
    conn.execute_batch(
        "DROP INDEX seen_event_ids_by_time; ALTER TABLE seen_event_ids DROP COLUMN seen_at; PRAGMA user_version = 1;",
    )?;
    drop(conn);

    let mut store = CrashStore::open(&path)?;
    assert_eq!(store.schema_version()?, SCHEMA_VERSION);
    assert!(store.insert_event(&key_error("k1", "'a'"), at(5))?.duplicate, "the kept id survived the upgrade");
    assert!(!store.insert_event(&key_error("k2", "'a'"), at(6))?.duplicate);
    assert_eq!(store.groups(10)?[0].issue.count, Some(2));
    Ok(())
}
