// Finding the crashloom program: the `crashloom.server.path` setting, else the binary shipped
// inside the extension for this platform (bin/<platform>-<arch>/crashloom), else `crashloom` on PATH.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Found {
  program: string;
  how: 'setting' | 'bundled' | 'path';
}

export interface NotFound {
  problem: string;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

const exe = process.platform === 'win32' ? 'crashloom.exe' : 'crashloom';

export function bundledServer(extensionPath: string): string {
  return path.join(extensionPath, 'bin', `${process.platform}-${process.arch}`, exe);
}

export function onPath(envPath: string | undefined): string | undefined {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, exe))) {
      return path.join(dir, exe);
    }
  }
  return undefined;
}

export function findServer(setting: string | null | undefined, folder: string, extensionPath: string): Found | NotFound {
  if (setting && setting.trim()) {
    const program = path.resolve(folder, setting.trim());
    if (isExecutable(program)) {
      return { program, how: 'setting' };
    }
    return { problem: `the setting crashloom.server.path names ${program}, which is not an executable file` };
  }
  const bundled = bundledServer(extensionPath);
  if (isExecutable(bundled)) {
    return { program: bundled, how: 'bundled' };
  }
  const found = onPath(process.env.PATH);
  if (found) {
    return { program: found, how: 'path' };
  }
  return {
    problem: `no crashloom server: crashloom.server.path is not set, this extension ships no binary for ${process.platform}-${process.arch}, and crashloom is not on PATH`,
  };
}
