//! Events as they were read together (one crash file, one inbox read, one Sentry refresh), each
//! with its group key computed once. A batch that was not read again keeps its generation, so the
//! crash picture can tell at a glance which groups got new events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::CrashEvent;
use super::group;

/// Events read together, with their group keys. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct EventBatch {
    /// Unique per batch read; the same batch kept from an earlier read keeps its generation.
    pub generation: u64,
    /// The events, with the key of the group each belongs to (see [`group_key`]).
    pub events: Arc<[(String, CrashEvent)]>,
}

static GENERATIONS: AtomicU64 = AtomicU64::new(1);

impl EventBatch {
    /// A batch read now: a generation of its own, every key computed, and only the events that
    /// can stand for their group kept whole (see [`keep_only_newest_whole`]).
    pub fn new(events: Vec<CrashEvent>) -> Self {
        let mut events: Vec<(String, CrashEvent)> = events.into_iter().map(|e| (group_key(&e), e)).collect();
        keep_only_newest_whole(&mut events);
        Self { generation: GENERATIONS.fetch_add(1, Ordering::Relaxed), events: events.into() }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn events(&self) -> impl Iterator<Item = &CrashEvent> {
        self.events.iter().map(|(_, event)| event)
    }
}

/// A group is shown by its newest event (the last read among equal timestamps); the others are
/// only counted: their time, release, environment, origin and issue. Of each group's events in a
/// batch, all but the one that can be its newest lose their frames, threads and tags, so a crash
/// file of a hundred thousand times the same trace holds one stack, not a hundred thousand.
fn keep_only_newest_whole(events: &mut [(String, CrashEvent)]) {
    let mut newest: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for (i, (key, event)) in events.iter().enumerate() {
        // Events without an exception belong to no group (they are skipped when grouping).
        if event.exceptions.is_empty() {
            continue;
        }
        let at = newest.entry(key.as_str()).or_insert(i);
        if event.timestamp >= events[*at].1.timestamp {
            *at = i;
        }
    }
    if newest.len() == events.len() {
        return;
    }
    let mut whole = vec![false; events.len()];
    for i in newest.into_values() {
        whole[i] = true;
    }
    for ((_, event), whole) in events.iter_mut().zip(whole) {
        if !whole && !event.exceptions.is_empty() {
            event.keep_only_what_counts();
        }
    }
}

/// The group an event belongs to: the source's issue id when it grouped the event itself (the
/// collector's store uses the signature as the id, so its groups and crash files meet), else
/// Crashloom's signature.
pub fn group_key(event: &CrashEvent) -> String {
    match &event.issue {
        Some(issue) if !issue.id.is_empty() => issue.id.clone(),
        _ => group::signature(event),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::crash::file::parse_crash_file;

    fn event(message: &str, second: Option<u32>) -> CrashEvent {
        let trace = format!(
            "Traceback (most recent call last):\n  File \"app/a.py\", line 2, in f\n    boom()\nValueError: {message}\n"
        );
        let mut event = parse_crash_file(trace.as_bytes(), "crash.txt").events.remove(0);
        event.timestamp = second.map(|s| Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, s).unwrap());
        event.tags = vec![("host".to_owned(), "web-1".to_owned())];
        event
    }

    fn whole(batch: &EventBatch) -> Vec<String> {
        batch.events().filter(|e| !e.exceptions[0].frames.is_empty()).map(|e| e.exceptions[0].value.clone()).collect()
    }

    #[test]
    fn of_each_group_only_the_event_that_can_be_its_newest_keeps_its_stack() {
        // The same ValueError (one group, messages aside) four times; the newest is kept whole, and
        // among equal times the last read.
        let batch = EventBatch::new(vec![
            event("a", Some(1)),
            event("b", Some(3)),
            event("c", None),
            event("d", Some(3)),
            event("e", Some(2)),
        ]);
        assert_eq!(whole(&batch), ["d"]);
        let counted = batch.events().find(|e| e.exceptions[0].value == "b").unwrap();
        assert!(counted.tags.is_empty());
        assert_eq!(counted.timestamp, Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 3).unwrap()));
        assert_eq!(counted.exceptions[0].ty, "ValueError", "still counted as its exception");
        assert!(counted.origin.is_some());

        // Without times, the last read stands for the group.
        let batch = EventBatch::new(vec![event("a", None), event("b", None)]);
        assert_eq!(whole(&batch), ["b"]);
        // One event per group: nothing dropped.
        let mut other = event("x", Some(1));
        other.exceptions[0].ty = "KeyError".to_owned();
        let batch = EventBatch::new(vec![event("a", Some(1)), other]);
        assert_eq!(whole(&batch), ["a", "x"]);
    }
}
