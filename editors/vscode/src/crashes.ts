// The Crashes view: every crash group of the workspace, built from the diagnostics the server
// publishes (it publishes every file with crash sites, open or not), sorted by events. A group's
// children are its in-app frames (the crash site and its relatedInformation); a click opens the frame.
// The view can be narrowed to a code lens's groups, an environment and a release, all together.
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
  environments?: string[];
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
  /** Every release and environment the group's events name (Sentry's, or events' own). */
  releases: string[];
  environments: string[];
  sites: Site[];
}

/** Strings of a JSON value that should be a list of strings; anything else gives none. */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
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
            release: data.release ?? (strings(data.releases).join(', ') || undefined),
            releases: [...new Set([...strings(data.releases), ...(typeof data.release === 'string' && data.release ? [data.release] : [])])],
            environments: [...new Set(strings(data.environments))],
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

/** What the Crashes view is narrowed to; every part that is set must hold. */
export interface Filter {
  /** Group ids (a code lens click: the crashes of one function). */
  groups?: Set<string>;
  environment?: string;
  release?: string;
}

export function matches(group: Group, filter: Filter): boolean {
  return (
    (!filter.groups || filter.groups.has(group.id)) &&
    (filter.environment === undefined || group.environments.includes(filter.environment)) &&
    (filter.release === undefined || group.releases.includes(filter.release))
  );
}

/** The environment and release filters as the view's description shows them: "production · 1.4.2". */
export function describeFilter(filter: Filter): string | undefined {
  return [filter.environment, filter.release].filter((part) => part !== undefined).join(' · ') || undefined;
}

/** The values of `key` among `groups`, each with how many groups name it, most groups first. */
export function valuesOf(groups: Group[], key: 'environments' | 'releases'): { value: string; groups: number }[] {
  const counts = new Map<string, number>();
  for (const group of groups) {
    for (const value of group[key]) counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts].map(([value, n]) => ({ value, groups: n })).sort((a, b) => b.groups - a.groups || a.value.localeCompare(b.value));
}

export class CrashTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  filter: Filter = {};

  constructor(private readonly model: CrashModel) {
    model.onDidChange(() => this.changed.fire(undefined));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  filtered(): boolean {
    return this.filter.groups !== undefined || this.filter.environment !== undefined || this.filter.release !== undefined;
  }

  visibleGroups(): Group[] {
    return this.model.groups().filter((g) => matches(g, this.filter));
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
      const origins = [];
      if (group.environments.length > 0) origins.push(`environments: ${group.environments.join(', ')}`);
      if (group.releases.length > 0) origins.push(`releases: ${group.releases.join(', ')}`);
      item.tooltip = new vscode.MarkdownString().appendText([group.title, facts.join(' · '), ...origins].join('\n'));
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
