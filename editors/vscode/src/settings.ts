// The settings sent to the server: `crashloom.*` in the shape of crashloom.toml (snake_case keys,
// `source` for the sources). Only settings the user set are sent, so crashloom.toml keeps every
// section VS Code does not override. The Sentry token comes from SecretStorage, never settings.json.
import * as vscode from 'vscode';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** VS Code setting (under `crashloom.`) → [section, key] of crashloom.toml. */
const KEYS: Record<string, [string, string] | [string]> = {
  sources: ['source'],
  'mapping.roots': ['mapping', 'roots'],
  'mapping.dependencyFolders': ['mapping', 'dependency_folders'],
  'diagnostics.frames': ['diagnostics', 'frames'],
  'diagnostics.maxLogMib': ['diagnostics', 'max_log_mib'],
  'validate.reproduce': ['validate', 'reproduce'],
  'validate.test': ['validate', 'test'],
  'validate.build': ['validate', 'build'],
  'validate.timeoutSecs': ['validate', 'timeout_secs'],
  'sandbox.bwrap': ['sandbox', 'bwrap'],
  'sandbox.allowUnisolated': ['sandbox', 'allow_unisolated'],
  'sandbox.allowCiConfig': ['sandbox', 'allow_ci_config'],
  'sandbox.allowLockfiles': ['sandbox', 'allow_lockfiles'],
  'sandbox.allowSecretsFiles': ['sandbox', 'allow_secrets_files'],
  'sandbox.passEnv': ['sandbox', 'pass_env'],
};

export const SENTRY_TOKEN_SECRET = 'crashloom.sentryToken';

/** The value the user set (folder, workspace or user settings), or undefined for the default. */
function explicit(config: vscode.WorkspaceConfiguration, key: string): Json | undefined {
  const seen = config.inspect<Json>(key);
  const value = seen?.workspaceFolderValue ?? seen?.workspaceValue ?? seen?.globalValue;
  // An empty string is the default of the string settings: not set.
  return value === null || value === '' ? undefined : value;
}

export function serverSettings(folder: vscode.WorkspaceFolder, sentryToken: string | undefined): Record<string, Json> {
  const config = vscode.workspace.getConfiguration('crashloom', folder.uri);
  const out: Record<string, Json> = {};
  for (const [setting, [section, key]] of Object.entries(KEYS)) {
    const value = explicit(config, setting);
    if (value === undefined) {
      continue;
    }
    if (key === undefined) {
      out[section] = value;
    } else {
      const table = (out[section] ?? {}) as Record<string, Json>;
      table[key] = value;
      out[section] = table;
    }
  }
  if (sentryToken) {
    out.sentryToken = sentryToken;
  }
  return out;
}

export function affectsServer(event: vscode.ConfigurationChangeEvent, folder: vscode.WorkspaceFolder): boolean {
  return Object.keys(KEYS).some((key) => event.affectsConfiguration(`crashloom.${key}`, folder.uri));
}
