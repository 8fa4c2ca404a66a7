// The Crashes view: every crash group of the workspace, built from the diagnostics the server
// publishes (it publishes every file with crash sites, open or not), sorted by events. A group's
// children are its in-app frames (the crash site and its relatedInformation); a click opens the frame.
import * as path from 'node:path';
import * as vscode from 'vscode';

export interface CrashData {
  group?: string;
  shortId?: string;
  role?: 'crash_site' | 'root_cause' | 'frame';
  count?: number;
  lastSeen?: string;
  title?: string;
  release?: string;
  releases?: string[];
}

export interface Site {
  uri: vscode.Uri;
  range: vscode.Range;
  label: string;
}

export interface Group {
  folder: vscode.WorkspaceFolder;
  id: string;
  shortId: string;
  title: string;
  count: number;
  lastSeen?: string;
  release?: string;
  sites: Site[];
}

export function crashData(diagnostic: vscode.Diagnostic): CrashData | undefined {
  if (diagnostic.source !== 'crashloom') {
    return undefined;
  }
  const data: unknown = Reflect.get(diagnostic, 'data');
  return typeof data === 'object' && data !== null ? data : {};
}

/** "TypeError: … — crashed here 3 times, last 2026-11-23 23:53 UTC" → title, count, last seen. */
export function parseMessage(message: string): { title: string; count?: number; lastSeen?: string } {
  const first = message.split('\n')[0];
  const dash = first.lastIndexOf(' — ');
  const title = dash >= 0 ? first.slice(0, dash) : first;
  const count = /(\d+) times?\b/.exec(first.slice(dash >= 0 ? dash : 0));
  const last = /last (\d{4}-\d\d-\d\d \d\d:\d\d UTC)/.exec(first);
  return { title, count: count ? Number(count[1]) : undefined, lastSeen: last?.[1] };
}

function relative(folder: vscode.WorkspaceFolder, uri: vscode.Uri): string {
  const rel = path.relative(folder.uri.fsPath, uri.fsPath);
  return rel.startsWith('..') ? uri.fsPath : rel.split(path.sep).join('/');
}

export class CrashModel {
  /** folder uri → file uri → that file's crash diagnostics. */
  private readonly files = new Map<string, { folder: vscode.WorkspaceFolder; byUri: Map<string, vscode.Diagnostic[]> }>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  set(folder: vscode.WorkspaceFolder, uri: vscode.Uri, diagnostics: readonly vscode.Diagnostic[]): void {
    const key = folder.uri.toString();
    let entry = this.files.get(key);
    if (!entry) {
      entry = { folder, byUri: new Map() };
      this.files.set(key, entry);
    }
    const mine = diagnostics.filter((d) => crashData(d) !== undefined);
    if (mine.length === 0) {
      entry.byUri.delete(uri.toString());
    } else {
      entry.byUri.set(uri.toString(), mine);
    }
    this.changed.fire();
  }

  forget(folder: vscode.WorkspaceFolder): void {
    this.files.delete(folder.uri.toString());
    this.changed.fire();
  }

  /** The folder whose server published the group. */
  folderOf(groupId: string): vscode.WorkspaceFolder | undefined {
    return this.groups().find((g) => g.id === groupId)?.folder;
  }

  groups(): Group[] {
    const groups = new Map<string, Group & { rank: number }>();
    for (const { folder, byUri } of this.files.values()) {
      for (const [uriText, diagnostics] of byUri) {
        const uri = vscode.Uri.parse(uriText);
        for (const diagnostic of diagnostics) {
          const data = crashData(diagnostic) ?? {};
          const code = typeof diagnostic.code === 'object' ? String(diagnostic.code.value) : String(diagnostic.code ?? '');
          const id = data.group ?? code;
          const key = `${folder.uri.toString()}|${id}`;
          const parsed = parseMessage(diagnostic.message);
          // The crash site describes the group best; a root cause next; a frame last.
          const rank = data.role === 'crash_site' ? 0 : data.role === 'root_cause' ? 1 : 2;
          const known = groups.get(key);
          if (known && known.rank <= rank) {
            continue;
          }
          const here: Site = { uri, range: diagnostic.range, label: data.role === 'root_cause' ? 'root cause' : 'crash site' };
          const sites = [here];
          for (const related of diagnostic.relatedInformation ?? []) {
            sites.push({ uri: related.location.uri, range: related.location.range, label: related.message });
          }
          if (rank === 2) {
            here.label = 'frame';
          }
          groups.set(key, {
            folder,
            id,
            shortId: data.shortId ?? code,
            title: data.title ?? (rank === 0 ? parsed.title : parsed.title.replace(/^.*? — root cause of /, '')),
            count: data.count ?? parsed.count ?? 0,
            lastSeen: data.lastSeen ?? parsed.lastSeen,
            release: data.release ?? data.releases?.join(', '),
            sites,
            rank,
          });
        }
      }
    }
    return [...groups.values()].sort((a, b) => b.count - a.count || a.shortId.localeCompare(b.shortId));
  }
}

type Node = { kind: 'group'; group: Group } | { kind: 'site'; group: Group; site: Site };

export class CrashTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Group ids to show (a code lens click), or everything. */
  filter: Set<string> | undefined;

  constructor(private readonly model: CrashModel) {
    model.onDidChange(() => this.changed.fire(undefined));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  visibleGroups(): Group[] {
    const all = this.model.groups();
    return this.filter ? all.filter((g) => this.filter?.has(g.id)) : all;
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      return this.visibleGroups().map((group) => ({ kind: 'group', group }));
    }
    if (node.kind === 'group') {
      return node.group.sites.map((site) => ({ kind: 'site', group: node.group, site }));
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const multiRoot = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
    if (node.kind === 'group') {
      const { group } = node;
      const item = new vscode.TreeItem(`${group.shortId} ${group.title}`, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `${group.folder.uri.toString()}|${group.id}`;
      const facts = [`${group.count}×`];
      if (group.lastSeen) facts.push(`last ${group.lastSeen}`);
      if (group.release) facts.push(group.release);
      if (multiRoot) facts.push(group.folder.name);
      item.description = facts.join(' · ');
      item.tooltip = new vscode.MarkdownString().appendText(`${group.title}\n${facts.join(' · ')}`);
      item.contextValue = 'crashGroup';
      item.iconPath = new vscode.ThemeIcon('bug', new vscode.ThemeColor('problemsErrorIcon.foreground'));
      return item;
    }
    const { site, group } = node;
    const where = `${relative(group.folder, site.uri)}:${site.range.start.line + 1}`;
    const item = new vscode.TreeItem(where, vscode.TreeItemCollapsibleState.None);
    item.id = `${group.folder.uri.toString()}|${group.id}|${site.uri.toString()}:${site.range.start.line}`;
    item.description = site.label;
    item.resourceUri = site.uri;
    item.iconPath = new vscode.ThemeIcon(site.label === 'crash site' || site.label === 'root cause' ? 'error' : 'debug-stackframe');
    item.command = {
      command: 'vscode.open',
      title: 'Open frame',
      arguments: [site.uri, { selection: site.range } satisfies vscode.TextDocumentShowOptions],
    };
    return item;
  }
}
