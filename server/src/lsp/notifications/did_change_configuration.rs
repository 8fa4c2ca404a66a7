//! `workspace/didChangeConfiguration` (and `initializationOptions`): the editor's settings merged
//! over `crashloom.toml` key by key; the Sentry token kept out of the configuration.

use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::lsp::state::{State, read, write};

/// Reads `crashloom.toml` and the editor's settings; returns a message for the user when they are
/// not valid (the last good settings stay in force).
pub(crate) fn load_settings(state: &State) -> Option<String> {
    let root = state.root()?;
    let mut settings = read(&state.editor_settings).clone();
    // The token is a secret: kept in memory, never part of the configuration.
    if let Some(token) = settings.as_object_mut().and_then(|s| s.remove("sentryToken")) {
        *write(&state.sentry_token) = token.as_str().map(str::to_owned);
    }
    match Config::load(&root).and_then(|file| with_settings_merged(file, &settings)) {
        Ok(config) => {
            *write(&state.config) = Arc::new(config);
            None
        }
        Err(e) => {
            tracing::error!("{e}");
            Some(format!("Crashloom: {e}. Using the previous settings."))
        }
    }
}

/// The editor's settings over `crashloom.toml`'s, key by key: `{diagnostics: {frames: false}}`
/// changes that one key and keeps the file's other diagnostics settings. A list (`sources`)
/// replaces the file's list; `null` leaves the file's value.
fn with_settings_merged(file: Config, settings: &serde_json::Value) -> std::result::Result<Config, ConfigError> {
    if !settings.is_object() {
        return Ok(file);
    }
    let mut merged = serde_json::to_value(&file).map_err(|e| ConfigError::InvalidEditorSettings(e.to_string()))?;
    let mut settings = settings.clone();
    // The file's `[[source]]` may be spelled `sources` in the editor: one key, not two.
    if let Some(sources) = settings.as_object_mut().and_then(|s| s.remove("sources")) {
        settings["source"] = sources;
    }
    merge_key_by_key(&mut merged, &settings);
    file.with_editor_settings(&merged)
}

fn merge_key_by_key(base: &mut serde_json::Value, overrides: &serde_json::Value) {
    match (base, overrides) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overrides)) => {
            for (key, value) in overrides {
                match base.get_mut(key) {
                    Some(existing) => merge_key_by_key(existing, value),
                    None if !value.is_null() => {
                        base.insert(key.clone(), value.clone());
                    }
                    None => {}
                }
            }
        }
        (_, serde_json::Value::Null) => {}
        (base, overrides) => *base = overrides.clone(),
    }
}
