//! One file per notification the server acts on. Each finishes its state changes before the
//! caller awaits anything.

pub mod did_change;
pub mod did_change_configuration;
pub mod did_change_watched_files;
pub mod did_open;
