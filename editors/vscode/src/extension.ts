// Crashloom for VS Code: one `crashloom lsp` per workspace folder that has crashloom.toml or
// .crashloom/ (the server serves one root). The commands the server offers are the extension's
// own, registered once, and sent to the server of the folder the crash belongs to.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  ResponseError,
  WorkDoneProgressCreateRequest,
  type DynamicFeature,
  type LanguageClientOptions,
  type ServerOptions,
  type StaticFeature,
} from 'vscode-languageclient/node';

import { CrashModel, CrashTree, describeFilter, matches, valuesOf, type Filter } from './crashes';
import { NotificationProgressFeature } from './progress';
import { FixedText, PREVIEW_SCHEME, previewThenApply } from './preview';
import { findServer } from './server';
import { SENTRY_TOKEN_SECRET, affectsServer, serverSettings } from './settings';

/** Commands of the server that take a crash group id. */
const GROUP_COMMANDS = [
  'crashloom.investigate',
  'crashloom.applyFix',
  'crashloom.showFix',
  'crashloom.showReport',
  'crashloom.openInSentry',
  'crashloom.resolveInSentry',
  'crashloom.ignoreInSentry',
] as const;

/** A client that leaves the server's commands to the extension: with one server per folder,
 * vscode-languageclient would register the same command names once per server and fail. */
class CrashloomClient extends LanguageClient {
  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    const method = (feature as Partial<DynamicFeature<unknown>>).registrationType?.method;
    if (method === ExecuteCommandRequest.method) {
      return;
    }
    // Progress is NotificationProgressFeature's (it shows investigations as notifications).
    if ((feature.getState() as { id?: string }).id === WorkDoneProgressCreateRequest.method) {
      return;
    }
    super.registerFeature(feature);
  }
}

interface Running {
  folder: vscode.WorkspaceFolder;
  client: LanguageClient;
}

export function hasCrashes(folder: vscode.WorkspaceFolder): boolean {
  const root = folder.uri.fsPath;
  return fs.existsSync(path.join(root, 'crashloom.toml')) || fs.existsSync(path.join(root, '.crashloom'));
}

/** The running servers, stopped by deactivate. */
const clients = new Map<string, Running>();

export function activate(context: vscode.ExtensionContext): void {
  const starting = new Map<string, Promise<void>>();
  const model = new CrashModel();
  const tree = new CrashTree(model);
  const fixed = new FixedText();
  const view = vscode.window.createTreeView('crashloom.crashes', { treeDataProvider: tree, showCollapseAll: true });
  const status = vscode.window.createStatusBarItem('crashloom.status', vscode.StatusBarAlignment.Left, 10);
  status.name = 'Crashloom';
  status.command = 'crashloom.crashes.focus';
  let problem: string | undefined;

  const refreshCounts = (): void => {
    const groups = tree.visibleGroups();
    const all = model.groups().length;
    // The badge counts the groups the view shows; the status bar item counts them all.
    const shown = groups.length;
    view.badge = shown > 0 ? { value: shown, tooltip: `${shown} crash group${shown === 1 ? '' : 's'}` } : undefined;
    // Set only when they change: each assignment redraws the view's title.
    const description = describeFilter(tree.filter);
    if (view.description !== description) view.description = description;
    let message: string | undefined;
    if (tree.filtered()) {
      const why = [];
      if (tree.filter.groups) why.push('filtered by the code lens');
      if (tree.filter.environment !== undefined) why.push(`environment ${tree.filter.environment}`);
      if (tree.filter.release !== undefined) why.push(`release ${tree.filter.release}`);
      message = `${shown} of ${all} crash groups (${why.join(', ')}).`;
    }
    if (view.message !== message) view.message = message;
    if (problem) {
      status.text = '$(error) Crashloom';
      status.tooltip = problem;
    } else if (clients.size === 0 && starting.size === 0) {
      status.hide();
      return;
    } else {
      status.text = `$(bug) ${all} crash${all === 1 ? '' : 'es'}`;
      status.tooltip = `Crashloom: ${all} crash group${all === 1 ? '' : 's'} in ${clients.size} folder${clients.size === 1 ? '' : 's'}`;
    }
    status.show();
  };

  /** Narrows the Crashes view (the parts given; `undefined` in a part clears it). */
  async function setFilter(change: Partial<Filter>): Promise<void> {
    tree.filter = { ...tree.filter, ...change };
    await vscode.commands.executeCommand('setContext', 'crashloom.filtered', tree.filtered());
    tree.refresh();
    refreshCounts();
  }

  /** "Filter crashes by environment/release…": the value given, else one picked among the groups'. */
  async function filterBy(key: 'environment' | 'release', arg: unknown): Promise<void> {
    let value: string | undefined;
    if (typeof arg === 'string' || arg === null) {
      value = arg || undefined;
    } else {
      // The values of the groups the other filters leave, each with how many groups name it.
      const others: Filter = { ...tree.filter, [key]: undefined };
      const values = valuesOf(model.groups().filter((g) => matches(g, others)), key === 'environment' ? 'environments' : 'releases');
      const clear = key === 'environment' ? 'All environments' : 'All releases';
      const current = tree.filter[key];
      const items: (vscode.QuickPickItem & { value?: string })[] = [
        { label: clear, description: current === undefined ? 'shown' : undefined },
        ...values.map(({ value: v, groups }) => ({
          label: v,
          value: v,
          description: `${groups} crash group${groups === 1 ? '' : 's'}${v === current ? ' · shown' : ''}`,
        })),
      ];
      const picked = await vscode.window.showQuickPick(items, {
        title: `Crashloom: filter crashes by ${key}`,
        placeHolder:
          values.length > 0 ? `Show the crashes of one ${key}` : `No crash here names a${key === 'environment' ? 'n' : ''} ${key}`,
      });
      if (!picked) return;
      value = picked.value;
    }
    await setFilter({ [key]: value });
    await vscode.commands.executeCommand('crashloom.crashes.focus');
  }
  model.onDidChange(refreshCounts);

  const secret = (): Thenable<string | undefined> => context.secrets.get(SENTRY_TOKEN_SECRET);

  async function start(folder: vscode.WorkspaceFolder): Promise<void> {
    const key = folder.uri.toString();
    if (clients.has(key) || starting.has(key) || !hasCrashes(folder)) {
      return;
    }
    const config = vscode.workspace.getConfiguration('crashloom', folder.uri);
    const found = findServer(config.get<string | null>('server.path'), folder.uri.fsPath, context.extensionPath);
    if ('problem' in found) {
      problem = `Crashloom: ${found.problem}.`;
      refreshCounts();
      void vscode.window.showErrorMessage(problem, 'Open setting').then((choice) => {
        if (choice) {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'crashloom.server.path');
        }
      });
      return;
    }
    const serverOptions: ServerOptions = {
      command: found.program,
      args: ['lsp', ...config.get<string[]>('server.extraArgs', [])],
      options: { cwd: folder.uri.fsPath },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file', pattern: `${folder.uri.fsPath}/**/*` }],
      workspaceFolder: folder,
      initializationOptions: serverSettings(folder, await secret()),
      middleware: {
        handleDiagnostics: (uri, diagnostics, next) => {
          model.set(folder, uri, diagnostics);
          next(uri, diagnostics);
        },
        window: {
          // Reports open as a rendered Markdown preview, the rest as ordinary editors.
          showDocument: async (params, token, next) => {
            if (params.uri.endsWith('.md') && !params.external) {
              await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.parse(params.uri));
              return { success: true };
            }
            return next(params, token);
          },
        },
        workspace: {
          handleApplyEdit: (params, next) =>
            previewThenApply(
              params,
              async (accepted) => {
                const result = await next(accepted, new vscode.CancellationTokenSource().token);
                if (result instanceof ResponseError) throw result;
                return result;
              },
              (edit) => client.protocol2CodeConverter.asWorkspaceEdit(edit),
              fixed,
            ),
        },
      },
    };
    const client = new CrashloomClient('crashloom', `Crashloom (${folder.name})`, serverOptions, clientOptions);
    client.registerFeature(new NotificationProgressFeature(client));
    const run = client
      .start()
      .then(() => {
        clients.set(key, { folder, client });
        problem = undefined;
      })
      .catch((error: unknown) => {
        problem = `Crashloom could not start ${found.program}: ${String(error)}`;
        void vscode.window.showErrorMessage(problem, 'Open setting').then((choice) => {
          if (choice) {
            void vscode.commands.executeCommand('workbench.action.openSettings', 'crashloom.server.path');
          }
        });
      })
      .finally(() => {
        starting.delete(key);
        refreshCounts();
      });
    starting.set(key, run);
    refreshCounts();
    await run;
  }

  async function stop(folder: vscode.WorkspaceFolder): Promise<void> {
    const key = folder.uri.toString();
    await starting.get(key);
    const running = clients.get(key);
    clients.delete(key);
    model.forget(folder);
    await running?.client.stop();
  }

  async function startAll(): Promise<void> {
    await Promise.all((vscode.workspace.workspaceFolders ?? []).map(start));
  }

  async function pushSettings(folder: vscode.WorkspaceFolder): Promise<void> {
    const running = clients.get(folder.uri.toString());
    if (running) {
      await running.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { crashloom: serverSettings(folder, await secret()) },
      });
    }
  }

  /** The server of the folder a crash group belongs to (else of the active editor's folder). */
  function clientFor(groupId: string | undefined): Running | undefined {
    const folder =
      (groupId ? model.folderOf(groupId) : undefined) ??
      (vscode.window.activeTextEditor && vscode.workspace.getWorkspaceFolder(vscode.window.activeTextEditor.document.uri));
    return (folder && clients.get(folder.uri.toString())) ?? [...clients.values()][0];
  }

  function groupArgument(arg: unknown): string | undefined {
    if (typeof arg === 'string') return arg;
    const node = arg as { group?: { id?: string } } | undefined;
    return node?.group?.id;
  }

  async function runServerCommand(command: string, arg: unknown, rest: unknown[] = []): Promise<unknown> {
    const groupId = groupArgument(arg);
    const running = clientFor(groupId);
    if (!running || !groupId) {
      void vscode.window.showWarningMessage('Crashloom: no crash to run this on (open a file with a crash, or pick one in the Crashes view).');
      return undefined;
    }
    try {
      // Further arguments (which alternative of the fix search) go to the server as given.
      return await running.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [groupId, ...rest] });
    } catch (error) {
      void vscode.window.showErrorMessage(`Crashloom: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  for (const command of GROUP_COMMANDS) {
    context.subscriptions.push(
      vscode.commands.registerCommand(command, async (arg: unknown, ...rest: unknown[]) => {
        const result = (await runServerCommand(command, arg, rest)) as
          | { verdict?: string; validated?: boolean; applied?: boolean; reason?: string | null; error?: string; cancelled?: boolean }
          | null
          | undefined;
        if (command === 'crashloom.investigate' && result?.verdict) {
          const group = model.groups().find((g) => g.id === groupArgument(arg));
          const actions = result.validated ? ['Apply validated fix', 'Show fix'] : [];
          void vscode.window
            .showInformationMessage(`Crash ${group?.shortId ?? ''}: ${result.verdict}.`, ...actions)
            .then((choice) => {
              if (choice === 'Apply validated fix') void vscode.commands.executeCommand('crashloom.applyFix', arg);
              if (choice === 'Show fix') void vscode.commands.executeCommand('crashloom.showFix', arg);
            });
        }
        if (command === 'crashloom.applyFix' && result && result.applied === false && result.reason) {
          void vscode.window.showInformationMessage(`Crashloom: the fix was not applied (${result.reason}).`);
        }
        return result;
      }),
    );
  }

  context.subscriptions.push(
    view,
    status,
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, fixed),
    vscode.commands.registerCommand('crashloom.showCrashes', async (_uri: unknown, _line: unknown, groups: unknown) => {
      await setFilter({ groups: Array.isArray(groups) ? new Set(groups.map(String)) : undefined });
      await vscode.commands.executeCommand('crashloom.crashes.focus');
    }),
    vscode.commands.registerCommand('crashloom.filterByEnvironment', (arg: unknown) => filterBy('environment', arg)),
    vscode.commands.registerCommand('crashloom.filterByRelease', (arg: unknown) => filterBy('release', arg)),
    vscode.commands.registerCommand('crashloom.clearFilter', () => setFilter({ groups: undefined, environment: undefined, release: undefined })),
    vscode.commands.registerCommand('crashloom.setSentryToken', async () => {
      const token = await vscode.window.showInputBox({
        title: 'Crashloom: Sentry token',
        prompt: 'An auth token with event:read and org:read (event:write to resolve). Kept in VS Code\'s secret storage.',
        password: true,
        ignoreFocusOut: true,
      });
      if (token) {
        await context.secrets.store(SENTRY_TOKEN_SECRET, token.trim());
      }
    }),
    vscode.commands.registerCommand('crashloom.clearSentryToken', () => context.secrets.delete(SENTRY_TOKEN_SECRET)),
    vscode.commands.registerCommand('crashloom.restart', async () => {
      await Promise.all([...clients.values()].map((r) => stop(r.folder)));
      problem = undefined;
      await startAll();
    }),
    context.secrets.onDidChange(async (event) => {
      if (event.key === SENTRY_TOKEN_SECRET) {
        await Promise.all([...clients.values()].map((r) => pushSettings(r.folder)));
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      for (const folder of vscode.workspace.workspaceFolders ?? []) {
        if (event.affectsConfiguration('crashloom.server', folder.uri)) {
          await stop(folder);
          problem = undefined;
          await start(folder);
        } else if (affectsServer(event, folder)) {
          await pushSettings(folder);
        }
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(async (event) => {
      await Promise.all(event.removed.map(stop));
      await Promise.all(event.added.map(start));
    }),
  );
  // A folder that gets crashloom.toml or .crashloom/ later gets its server then.
  const watcher = vscode.workspace.createFileSystemWatcher('**/{crashloom.toml,.crashloom/crashes/*}', false, true, true);
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate(async (uri) => {
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      if (folder) await start(folder);
    }),
  );
  void startAll();
}

export async function deactivate(): Promise<void> {
  const running = [...clients.values()];
  clients.clear();
  await Promise.all(running.map((r) => r.client.stop()));
}
