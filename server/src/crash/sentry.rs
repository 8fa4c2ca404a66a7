//! Sentry events as JSON: the raw snake_case payload SDKs send (and `/events/{id}/json/` returns),
//! and the Web API's camelCase event. (stub: to be implemented)

use super::CrashEvent;

#[derive(Debug, thiserror::Error)]
pub enum SentryEventError {
    #[error("not a Sentry event: {0}")]
    NotAnEvent(String),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Reads one Sentry event, raw or Web API shape.
pub fn parse_event(value: &serde_json::Value) -> Result<CrashEvent, SentryEventError> {
    let _ = value;
    Err(SentryEventError::NotAnEvent("unimplemented".into()))
}
