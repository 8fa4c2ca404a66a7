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
    /// A batch read now: a generation of its own, every key computed.
    pub fn new(events: Vec<CrashEvent>) -> Self {
        let events: Vec<(String, CrashEvent)> = events.into_iter().map(|e| (group_key(&e), e)).collect();
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

/// The group an event belongs to: the source's issue id when it grouped the event itself (the
/// collector's store uses the signature as the id, so its groups and crash files meet), else
/// Crashloom's signature.
pub fn group_key(event: &CrashEvent) -> String {
    match &event.issue {
        Some(issue) if !issue.id.is_empty() => issue.id.clone(),
        _ => group::signature(event),
    }
}
