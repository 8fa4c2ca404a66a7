// "Apply validated fix" shows the change in VS Code's diff editor and asks before any file
// changes: the server sends the fix as workspace/applyEdit, and this middleware stands between.
import * as vscode from 'vscode';
import type { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult } from 'vscode-languageclient/node';

export const PREVIEW_SCHEME = 'crashloom-fix';

/** The fixed text of each file, served to the diff editor under the crashloom-fix scheme. */
export class FixedText implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  put(original: vscode.Uri, text: string): vscode.Uri {
    const uri = original.with({ scheme: PREVIEW_SCHEME, query: original.scheme });
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }
}

/** The text after the edits, applied from the last to the first. */
export function applied(document: vscode.TextDocument, edits: readonly vscode.TextEdit[]): string {
  let text = document.getText();
  const sorted = [...edits].sort((a, b) => document.offsetAt(b.range.start) - document.offsetAt(a.range.start));
  for (const edit of sorted) {
    text = text.slice(0, document.offsetAt(edit.range.start)) + edit.newText + text.slice(document.offsetAt(edit.range.end));
  }
  return text;
}

async function closePreviews(): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === PREVIEW_SCHEME);
  await vscode.window.tabGroups.close(tabs);
}

export async function previewThenApply(
  params: ApplyWorkspaceEditParams,
  next: (params: ApplyWorkspaceEditParams) => Promise<ApplyWorkspaceEditResult>,
  convert: (edit: ApplyWorkspaceEditParams['edit']) => Promise<vscode.WorkspaceEdit>,
  fixed: FixedText,
): Promise<ApplyWorkspaceEditResult> {
  if (!vscode.workspace.getConfiguration('crashloom').get<boolean>('applyFix.preview', true)) {
    return next(params);
  }
  const edit = await convert(params.edit);
  const files: string[] = [];
  for (const [uri, edits] of edit.entries()) {
    const document = await vscode.workspace.openTextDocument(uri);
    const preview = fixed.put(uri, applied(document, edits));
    const name = vscode.workspace.asRelativePath(uri);
    files.push(name);
    await vscode.commands.executeCommand('vscode.diff', uri, preview, `${name}: current ↔ with the fix`, {
      preview: true,
    } satisfies vscode.TextDocumentShowOptions);
  }
  const what = params.label ?? 'the validated fix';
  const choice = await vscode.window.showInformationMessage(
    `Apply ${what}?`,
    { modal: true, detail: `Changes ${files.join(', ')}, as shown in the diff editor.` },
    'Apply',
  );
  await closePreviews();
  if (choice !== 'Apply') {
    return { applied: false, failureReason: 'the user declined the fix in the preview' };
  }
  return next(params);
}
