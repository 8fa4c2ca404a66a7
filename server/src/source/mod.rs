//! Where crashes come from. Every source yields plain [`crate::crash::CrashEvent`]s.

pub mod files;
