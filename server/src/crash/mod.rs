//! Crashes as plain data: the model, the pure parsers (one file per format), and grouping.
//!
//! Parsers are pure: text or JSON in, [`CrashEvent`]s out. No I/O, no globals, no async, and no
//! input can make them panic: truncated or garbled input yields what could be read.

pub mod batch;
pub mod chain;
pub mod detect;
pub mod dotnet;
pub mod envelope;
pub mod file;
pub mod go;
pub mod group;
pub mod javascript;
pub mod jvm;
pub mod library;
pub mod logline;
pub mod model;
pub mod python;
pub mod ruby;
pub mod rust;
pub mod scan;
pub mod sentry;
pub mod testrun;

pub use model::*;
