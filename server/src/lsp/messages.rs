//! What the server's tasks send each other: reload triggers (from the crash file watcher, the
//! inbox, Sentry tasks, notifications) to the reload task, and status changes to Sentry tasks.
//! A leaf of `lsp/`, so the state and the tasks that talk to it do not import each other.

use tokio::sync::oneshot;

use crate::source::sentry_api::SentryError;
use crate::source::store::GroupStatus;

/// Why the crash picture is built again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadReason {
    Startup,
    CrashFilesChanged,
    InboxChanged,
    SentryChanged,
    WorkspaceFilesChanged,
    SettingsChanged,
}

/// A status change asked of a Sentry task; the answer says whether that task knew the issue.
pub struct StatusRequest {
    pub issue_id: String,
    pub status: GroupStatus,
    pub reply: oneshot::Sender<Option<std::result::Result<(), SentryError>>>,
}
