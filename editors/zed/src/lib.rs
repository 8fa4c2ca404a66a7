//! Crashloom for Zed: starts `crashloom lsp` (the `lsp.crashloom.binary` setting, else `crashloom`
//! on the worktree's PATH) and passes `lsp.crashloom.initialization_options` to it.

use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

struct Crashloom;

impl zed::Extension for Crashloom {
    fn new() -> Self {
        Crashloom
    }

    fn language_server_command(&mut self, id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.binary);
        let command =
            binary.as_ref().and_then(|b| b.path.clone()).or_else(|| worktree.which("crashloom")).ok_or_else(|| {
                "crashloom is not on PATH: build it (cargo build --release) and set lsp.crashloom.binary.path"
                    .to_owned()
            })?;
        let args = binary.as_ref().and_then(|b| b.arguments.clone()).unwrap_or_else(|| vec!["lsp".to_owned()]);
        let mut env = worktree.shell_env();
        if let Some(extra) = binary.and_then(|b| b.env) {
            env.extend(extra);
        }
        Ok(zed::Command { command, args, env })
    }

    fn language_server_initialization_options(
        &mut self,
        id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.initialization_options))
    }
}

zed::register_extension!(Crashloom);
