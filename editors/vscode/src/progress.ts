// Server progress (window/workDoneProgress/create + $/progress). vscode-languageclient shows every
// progress in the status bar only; a progress the server lets the user cancel (an investigation)
// shows here as a notification with a Cancel button, the others stay in the status bar.
import * as vscode from 'vscode';
import {
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  type ClientCapabilities,
  type FeatureState,
  type LanguageClient,
  type ProgressToken,
  type StaticFeature,
  type WorkDoneProgressBegin,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';

export class NotificationProgressFeature implements StaticFeature {
  private readonly active = new Set<() => void>();

  constructor(private readonly client: LanguageClient) {}

  getState(): FeatureState {
    return { kind: 'static' };
  }

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => this.track(token));
  }

  clear(): void {
    for (const end of this.active) end();
    this.active.clear();
  }

  private track(token: ProgressToken): void {
    let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
    let reported = 0;
    let finish: (() => void) | undefined;
    let ended = false;
    const report = (value: WorkDoneProgressBegin | WorkDoneProgressReport): void => {
      const percentage = value.percentage === undefined ? undefined : Math.max(0, Math.min(value.percentage, 100));
      const increment = percentage === undefined ? undefined : Math.max(0, percentage - reported);
      reported += increment ?? 0;
      progress?.report({ message: value.message, increment });
    };
    const end = (): void => {
      ended = true;
      listener.dispose();
      this.active.delete(end);
      finish?.();
    };
    this.active.add(end);
    const listener = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (value.kind === 'begin') {
        const location = value.cancellable ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
        void vscode.window.withProgress({ location, title: value.title, cancellable: value.cancellable }, (p, cancel) => {
          progress = p;
          cancel.onCancellationRequested(() => {
            void this.client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
          });
          report(value);
          return new Promise<void>((resolve) => {
            finish = resolve;
            if (ended) resolve();
          });
        });
      } else if (value.kind === 'report') {
        report(value);
      } else {
        // The end message is the verdict ("Crash CL-…: validated fix ready"): it stays on screen.
        if (value.message) {
          void vscode.window.showInformationMessage(value.message.endsWith('.') ? value.message : `${value.message}.`);
        }
        end();
      }
    });
  }
}
