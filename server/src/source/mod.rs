//! Where crashes come from: the local crash inbox and the Sentry-compatible collector that feeds it.

pub mod collector;
pub mod store;
