//! Where crashes come from. Every source yields plain [`crate::crash::CrashEvent`]s.

pub mod collector;
pub mod files;
pub mod inbox;
pub mod sentry_api;
pub mod store;
