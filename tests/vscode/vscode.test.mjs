// Crashloom in real VS Code: code-server with the extension installed from the built .vsix,
// driven in headless Chromium. On a copy of examples/shop-python it checks what a user sees: the
// Problems panel lists the crash at its line, the hover shows it, the Crashes view lists the groups
// with their frames and filters them by environment and release, "Investigate crash" runs with
// progress and opens the report, and "Apply validated fix" shows the diff first, changes nothing
// when declined, and changes the file when accepted.
//
// Needs: CRASHLOOM_BIN (the server), VSIX (the built extension), code-server and playwright-core
// under tests/.tools/vscode, sentry-sdk in .venv (tests/setup-tools.sh), Debian's chromium.
// SHOTS=<dir> keeps screenshots; KEEP=1 keeps the temporary folder (with the servers' logs).
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tools = path.join(repo, 'tests/.tools/vscode/node_modules');
const { chromium } = await import(path.join(tools, 'playwright-core/index.mjs'));
const codeServer = path.join(tools, '.bin/code-server');
const crashloom = process.env.CRASHLOOM_BIN ?? path.join(repo, 'target/debug/crashloom');
const vsix = process.env.VSIX ?? path.join(repo, 'editors/vscode/crashloom.vsix');
const shots = process.env.SHOTS;
const python = path.join(repo, '.venv/bin/python');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crashloom-vscode-'));
const workspace = path.join(tmp, 'shop');
const cart = path.join(tmp, 'cart');
const workspaceFile = path.join(tmp, 'crashes.code-workspace');
const orders = path.join(workspace, 'shop/orders.py');
let server;
let browser;
let page;
let shot = 0;

async function snap(name) {
  if (shots) {
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${String(++shot).padStart(2, '0')}-${name}.png`) });
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer at ${url}`);
}

/** What a row of a tree shows: its label, then its description. */
async function rowText(row) {
  const label = await row.locator('.label-name').first().innerText();
  const description = await row.locator('.label-description').first().innerText().catch(() => '');
  return `${label} ${description}`.replace(/\s+/g, ' ').trim();
}

/** The text of an editor as shown (Monaco renders spaces as no-break spaces). */
async function editorText(locator) {
  return (await locator.innerText()).replace(/\u00a0/g, ' ');
}

/** Runs a command from the command palette by its title. */
async function palette(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible' });
  await input.press('Enter');
  await input.waitFor({ state: 'hidden' });
}

async function until(what, predicate, ms = 30000) {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function openAt(relative, line, column = 1) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  // The absolute path: in a multi-root workspace a relative one can match files of both folders.
  await input.fill(`${path.join(workspace, relative)}:${line}:${column}`);
  const focused = page.locator('.quick-input-list .monaco-list-row.focused .label-name');
  await until(`${relative} in quick open`, async () => (await focused.count()) === 1 && (await focused.innerText()) === path.basename(relative));
  await input.press('Enter');
  await input.waitFor({ state: 'hidden' });
  await page.locator('.monaco-editor.focused').waitFor();
  await page.locator(`.tabs-container .tab.active`, { hasText: path.basename(relative) }).waitFor();
  await page.locator('.statusbar-item', { hasText: `Ln ${line}, Col ${column}` }).waitFor();
}

/** Opens the quick fix menu at the cursor and picks the action whose title starts with `title`. */
async function quickFix(title) {
  await page.keyboard.press('Control+.');
  const menu = page.locator('.action-widget:not(.action-list-submenu-panel)');
  await menu.waitFor({ state: 'visible' });
  const item = menu.locator('.monaco-list-row', { hasText: title }).first();
  await item.waitFor({ state: 'visible' });
  const titles = await menu.locator('.monaco-list-row').allInnerTexts();
  await snap(`quick-fix-${title.split(' ')[0].toLowerCase()}`);
  await item.click();
  return titles.map((t) => t.trim());
}

/** Runs the shop with sentry-sdk as a deployment in `environment` at `release`; returns the
 * envelopes the SDK sent (decompressed), as a local stand-in for sentry.io received them. */
async function reportFromShop(environment, release, data) {
  const envelopes = [];
  const sentry = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const encoding = request.headers['content-encoding'];
      envelopes.push(encoding === 'br' ? zlib.brotliDecompressSync(body) : encoding === 'gzip' ? zlib.gunzipSync(body) : body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => sentry.listen(0, '127.0.0.1', resolve));
  const dsn = `http://public@127.0.0.1:${sentry.address().port}/1`;
  // The shop crashes (exit status 1) after the SDK has sent the event.
  await promisify(execFile)(python, [path.join(repo, 'tests/vscode/shop_with_sentry.py'), environment, release, data], {
    cwd: workspace,
    env: { ...process.env, SENTRY_DSN: dsn },
  }).catch((e) => assert.equal(e.code, 1, `${e.message}\n${e.stderr}`));
  await new Promise((resolve) => sentry.close(resolve));
  assert.ok(envelopes.some((e) => e.includes('"type":"event"')), `no event from the shop in ${environment}`);
  return envelopes;
}

before(async () => {
  assert.ok(fs.existsSync(crashloom), `build the server first: ${crashloom}`);
  assert.ok(fs.existsSync(vsix), `build the extension first (npm run package in editors/vscode): ${vsix}`);
  const copy = (from, to) =>
    fs.cpSync(path.join(repo, 'examples', from), to, {
      recursive: true,
      filter: (p) => !p.includes('__pycache__') && !p.includes(`${path.sep}reports`) && !p.endsWith('crashloom.db'),
    });
  // A multi-root workspace: each folder gets its own server.
  copy('shop-python', workspace);
  copy('cart-node', cart);
  fs.writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: workspace }, { path: cart }] }));
  const data = path.join(tmp, 'data');
  const extensions = path.join(tmp, 'extensions');
  fs.mkdirSync(path.join(data, 'User'), { recursive: true });
  // A user's key binding that passes the environment to the filter command.
  fs.writeFileSync(
    path.join(data, 'User/keybindings.json'),
    JSON.stringify([{ key: 'ctrl+alt+shift+e', command: 'crashloom.filterByEnvironment', args: 'staging' }]),
  );
  fs.writeFileSync(
    path.join(data, 'User/settings.json'),
    JSON.stringify({
      'crashloom.server.path': crashloom,
      'workbench.startupEditor': 'none',
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'security.workspace.trust.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'workbench.tips.enabled': false,
      'extensions.ignoreRecommendations': true,
      'update.mode': 'none',
      'chat.disableAIFeatures': true,
      'editor.hover.delay': 100,
      // Sent to the server as initializationOptions; the pause keeps the progress on screen.
      'crashloom.validate.reproduce': 'python3 -m shop.app --fail-fast data/guest-orders.json',
      'crashloom.validate.test': "sh -c 'sleep 2 && python3 -m unittest -q'",
    }),
  );
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'config'), XDG_DATA_HOME: path.join(tmp, 'share') };
  const common = ['--user-data-dir', data, '--extensions-dir', extensions];
  execFileSync(codeServer, [...common, '--install-extension', vsix], { env, stdio: 'pipe' });
  const installed = fs.readdirSync(extensions);
  assert.ok(installed.some((e) => e.startsWith('crashloom.crashloom-')), `not installed: ${installed}`);

  const port = await freePort();
  server = spawn(
    codeServer,
    [...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', '--disable-getting-started-override'],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  server.stdout.on('data', (d) => (log += d));
  server.stderr.on('data', (d) => (log += d));
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 30000).catch((e) => {
    throw new Error(`${e.message}\n${log}`);
  });

  browser = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30000);
  await page.goto(`http://127.0.0.1:${port}/?workspace=${encodeURIComponent(workspaceFile)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
});

afterEach(async (t) => {
  await snap(`end-${t.name.slice(0, 30).replace(/\W+/g, '-')}`);
});

after(async () => {
  await browser?.close();
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (process.env.KEEP) console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
});

test('the Problems panel lists the crash at its line', async () => {
  // The servers publish every file with crashes; the status bar counts the groups of both folders.
  await page.locator('.statusbar-item', { hasText: /^\s*3 crashes\s*$/ }).waitFor({ timeout: 60000 });
  await palette('View: Focus Problems');
  const panel = page.locator('.markers-panel');
  await panel.locator('.monaco-list-row').first().waitFor();
  // The filter shows the marks of one crash group.
  await page.locator('.viewpane-filter input').fill('CL-54E9F7');
  const crash = panel.locator('.monaco-list-row', { hasText: "TypeError: 'NoneType' object is not subscriptable — crashed here 1 time" });
  await crash.first().waitFor();
  await snap('problems');
  const row = (await crash.first().innerText()).replace(/\s+/g, ' ');
  assert.match(row, /crashloom\W*CL-54E9F7\W*\[Ln 26, Col 5\]/);
  // The other group's marks are filtered out; none is on a line that never crashed.
  const rows = (await panel.locator('.monaco-list-row').allInnerTexts()).join('\n');
  assert.doesNotMatch(rows, /OrderError: order 102/);
  assert.doesNotMatch(rows, /\[Ln 25,/);
  await page.locator('.viewpane-filter input').fill('OrderError: order 102 cannot be priced — crashed');
  const other = panel.locator('.monaco-list-row', { hasText: 'OrderError: order 102 cannot be priced — crashed here 2 times' });
  await other.first().waitFor();
  assert.match((await other.first().innerText()).replace(/\s+/g, ' '), /\[Ln 21, Col 9\]/);
  await page.locator('.viewpane-filter input').fill('');
});

test('the hover shows the crash, and a line without a crash shows none', async () => {
  await openAt('shop/orders.py', 26, 5);
  await palette('Show or Focus Hover');
  const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: 'In-app stack' });
  await hover.first().waitFor();
  await snap('hover');
  const text = await hover.first().innerText();
  assert.match(text, /TypeError: 'NoneType' object is not subscriptable/);
  assert.match(text, /CL-54E9F7 · 1 time/);
  assert.match(text, /shop\/orders\.py:26 ← here/);
  await page.keyboard.press('Escape');

  await openAt('shop/orders.py', 3, 5);
  await palette('Show or Focus Hover');
  await page.waitForTimeout(1500);
  assert.equal(await page.locator('.monaco-hover:not(.hidden)').filter({ hasText: 'In-app stack' }).count(), 0);
  await page.keyboard.press('Escape');
});

test('the Crashes view lists the groups by events, with their frames', async () => {
  const badge = page.locator('.activitybar .action-item', { has: page.locator('a[aria-label^="Crashloom"]') }).locator('.badge-content');
  assert.equal((await badge.innerText()).trim(), '3');
  await page.locator('.activitybar .action-item[aria-label="Crashloom - 3 crash groups"]').click();
  const tree = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Crashes' }) });
  const groups = tree.locator('.monaco-list-row[aria-level="1"]');
  await groups.nth(2).waitFor();
  const labels = [];
  for (const row of await groups.all()) labels.push(await rowText(row));
  assert.equal(labels.length, 3);
  assert.match(labels[0], /^CL-\w+ OrderError: order 102 cannot be priced 2× · last 2026-11-23 23:53 UTC · shop$/);
  assert.match(labels[1], /^CL-54E9F7 TypeError: 'NoneType' object is not subscriptable 1× · shop$/);
  assert.match(labels[2], /^CL-810D07 TypeError: Cannot read properties of undefined \(reading 'percent'\) 1× · cart$/);
  await groups.nth(1).click();
  const frames = tree.locator('.monaco-list-row[aria-level="2"]');
  await frames.first().waitFor();
  await snap('crashes-view');
  const frameLabels = [];
  for (const row of await frames.all()) frameLabels.push(await rowText(row));
  assert.deepEqual(frameLabels, ['shop/orders.py:26 crash site', 'shop/app.py:27 frame 2 of 3 in main', 'shop/app.py:42 frame 3 of 3 in <module>']);
  // Clicking a frame opens its file at its line.
  await frames.nth(1).click();
  await page.locator('.tabs-container .tab.active', { hasText: 'app.py' }).waitFor();
  await page.locator('.statusbar-item', { hasText: /^Ln 27, Col 45 \(32 selected\)$/ }).waitFor();
});

test('a code lens shows the crashes of its function in the Crashes view', async () => {
  await openAt('shop/orders.py', 17);
  const lens = page.locator('.monaco-editor.focused .codelens-decoration a', { hasText: '1 crash · 2 events' }).first();
  await lens.click();
  const tree = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Crashes' }) });
  const rows = tree.locator('.monaco-list-row[aria-level="1"]');
  await until('the filtered Crashes view', async () => (await rows.count()) === 1);
  assert.match(await rowText(rows.first()), /^CL-\w+ OrderError: order 102 cannot be priced 2×/);
  await page.getByText('1 of 3 crash groups (filtered by the code lens).').waitFor();
  await snap('code-lens-filter');
  await page.locator('.action-label[aria-label="Show all crashes"]:visible').click();
  await until('all crash groups again', async () => (await rows.count()) === 3);
});

test('the Crashes view filters by environment and release, together, and shows all again', async () => {
  // Two deployments of the shop report to Sentry: the guest checkout crashes in staging, order 102
  // in production. Their envelopes go into the shop's crash files, beside the plain traces.
  const crashes = path.join(workspace, '.crashloom/crashes');
  const added = [];
  for (const [environment, release, data] of [
    ['staging', 'shop@1.4.2', 'data/guest-orders.json'],
    ['production', 'shop@1.4.1', 'data/orders.json'],
  ]) {
    for (const [i, envelope] of (await reportFromShop(environment, release, data)).entries()) {
      const file = path.join(crashes, `sentry-${environment}-${i}.envelope`);
      fs.writeFileSync(path.join(tmp, 'envelope'), envelope);
      fs.renameSync(path.join(tmp, 'envelope'), file);
      added.push(file);
    }
  }
  const tree = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Crashes' }) });
  if (!(await tree.isVisible())) await page.locator('.activitybar .action-item[aria-label^="Crashloom"]').click();
  const rows = tree.locator('.monaco-list-row[aria-level="1"]');
  // The rows are redrawn as the servers publish: a row gone while read reads as no rows.
  const labels = async () => Promise.all((await rows.all()).map(rowText)).catch(() => []);
  try {
    // The same two crashes as the traces: their groups count the new events and name the releases.
    await until('the events from Sentry in the Crashes view', async () => {
      const all = (await labels()).join('\n');
      return /OrderError: order 102 cannot be priced 3×.* · shop@1\.4\.1 · shop/.test(all) && /CL-54E9F7 .* 2× .*shop@1\.4\.2 · shop/.test(all);
    });
    assert.equal(await rows.count(), 3);
    const sidebar = page.locator('.part.sidebar');
    // The view's description (in its pane header; the sidebar shows it when it holds several views).
    const description = tree.locator('.pane-header .description').first();
    const described = (text) => until(`the description "${text}"`, async () => ((await description.textContent().catch(() => '')) ?? '') === text);
    const badge = page.locator('.activitybar .action-item', { has: page.locator('a[aria-label^="Crashloom"]') }).locator('.badge-content');

    /** Clicks a filter button of the view and returns the choices it offers. */
    async function pick(button, choice) {
      // The label ends in the key binding when there is one.
      await page.locator(`.action-label[aria-label^="${button}"]:visible`).click();
      const list = page.locator('.quick-input-widget .quick-input-list');
      await list.locator('.monaco-list-row').first().waitFor();
      const offered = await Promise.all((await list.locator('.monaco-list-row').all()).map(rowText));
      await snap(`filter-${choice.replace(/\W+/g, '-')}`);
      await list.locator('.monaco-list-row', { hasText: choice }).first().click();
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
      return offered;
    }

    // By environment: only production's group, the badge counts it, the view says why.
    const environments = await pick('Filter crashes by environment…', 'production');
    assert.equal(environments.length, 3, environments.join(' | '));
    assert.match(environments[0], /^All environments/);
    assert.match(environments.join(' | '), /production 1 crash group/);
    assert.match(environments.join(' | '), /staging 1 crash group/);
    await until('only production\'s crash', async () => (await rows.count()) === 1);
    assert.match(await rowText(rows.first()), /^CL-\w+ OrderError: order 102 cannot be priced 3×/);
    await described('production');
    await sidebar.getByText('1 of 3 crash groups (environment production).').waitFor();
    await until('the badge counts one group', async () => (await badge.innerText()).trim() === '1');

    // The releases offered are production's; with one picked both filters hold.
    const releases = await pick('Filter crashes by release…', 'shop@1.4.1');
    assert.deepEqual(releases.map((r) => r.split(' ')[0]), ['All', 'shop@1.4.1']);
    await described('production · shop@1.4.1');
    assert.equal(await rows.count(), 1);

    // A key binding passes the environment itself: staging has no crash of release 1.4.1.
    await page.keyboard.press('Control+Alt+Shift+E');
    await described('staging · shop@1.4.1');
    await until('no crash is shown', async () => (await rows.count()) === 0);
    await sidebar.getByText('0 of 3 crash groups (environment staging, release shop@1.4.1).').waitFor();
    assert.equal(await sidebar.getByText('No crashes in this workspace').count(), 0);
    await until('no badge', async () => !(await badge.isVisible()));
    await snap('filter-nothing');

    // All releases again: staging's crash, the guest checkout.
    await pick('Filter crashes by release…', 'All releases');
    await described('staging');
    await until('only staging\'s crash', async () => (await rows.count()) === 1);
    assert.match(await rowText(rows.first()), /^CL-54E9F7 TypeError: 'NoneType' object is not subscriptable 2×/);

    // The code lens narrows further: order 102 (production) is not among staging's crashes.
    await openAt('shop/orders.py', 17);
    await page.locator('.monaco-editor.focused .codelens-decoration a', { hasText: /^1 crash · \d+ events$/ }).first().click();
    await until('no crash of price_order in staging', async () => (await rows.count()) === 0);
    await sidebar.getByText('0 of 3 crash groups (filtered by the code lens, environment staging).').waitFor();

    // "Show all crashes" clears every filter.
    await page.locator('.action-label[aria-label="Show all crashes"]:visible').click();
    await until('all crash groups again', async () => (await rows.count()) === 3);
    await described('');
    await until('no filter message', async () => (await sidebar.getByText(/crash groups \(/).count()) === 0);
    await until('the badge counts all groups', async () => (await badge.innerText()).trim() === '3');
    assert.equal(await page.locator('.action-label[aria-label="Show all crashes"]:visible').count(), 0);
  } finally {
    // The later tests see the example's own crashes, unfiltered.
    for (const file of added) fs.rmSync(file, { force: true });
    await palette('Crashloom: Show all crashes').catch(() => {});
  }
  // Without the Sentry events the groups are the traces' again.
  await until('the events from Sentry gone', async () => /OrderError: order 102 cannot be priced 2×/.test((await labels()).join('\n')));
  assert.doesNotMatch((await labels()).join('\n'), /shop@1\.4/);
});

test('"Investigate crash" runs with progress and opens the report', async () => {
  await openAt('shop/orders.py', 26, 5);
  const titles = await quickFix('Investigate crash CL-54E9F7');
  // Before an investigation there is no fix to apply.
  assert.ok(!titles.some((t) => t.startsWith('Apply validated fix')), titles.join(' | '));
  const progress = page.locator('.notification-toast', { hasText: 'Investigating crash CL-54E9F7' }).first();
  await progress.waitFor({ timeout: 30000 });
  await snap('progress');
  // The agent steps show in the notification, which has a Cancel button.
  await progress.filter({ hasText: /Sandbox Validator/ }).waitFor({ timeout: 60000 });
  assert.equal(await progress.getByRole('button', { name: 'Cancel' }).count(), 1);
  const report = page.locator('.tabs-container .tab', { hasText: 'Preview CL-54E9F7.md' });
  await report.waitFor({ timeout: 240000 });
  // The shop's only proposed change raises OrderError instead: the report and the notification say
  // it is NOT validated.
  await page.locator('.notification-toast', { hasText: 'Crash CL-54E9F7: fix NOT validated' }).waitFor();
  const preview = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  await preview.locator('h1', { hasText: 'Crash CL-54E9F7: fix NOT validated' }).waitFor();
  await snap('report');
  // The preview keeps the keyboard; closing it gives it back to the editor.
  await report.click({ button: 'middle' });
  await report.waitFor({ state: 'detached' });
  assert.ok(fs.existsSync(path.join(workspace, '.crashloom/reports/CL-54E9F7.md')));
});

test('a fix that is not validated is never offered; a validated alternative shows its diff, changes nothing when declined, and changes the file when accepted', async () => {
  const app = path.join(workspace, 'shop/app.py');
  const before = fs.readFileSync(app, 'utf8');
  await openAt('shop/orders.py', 26, 5);
  const titles = await quickFix('Apply alternative 2');
  assert.ok(!titles.some((t) => t.startsWith('Apply validated fix')), titles.join(' | '));
  assert.ok(titles.some((t) => t.startsWith('Show fix for CL-54E9F7 (NOT validated)')), titles.join(' | '));
  assert.ok(
    titles.some((t) => t.startsWith('Apply alternative 2 (hides the symptom): Skip the element in `main`')),
    titles.join(' | '),
  );
  // The alternative is judged again in the sandbox, then shown before anything changes.
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 120000 });
  const diff = page.locator('.monaco-diff-editor');
  await diff.waitFor();
  await snap('diff-preview');
  assert.match(await page.locator('.tabs-container .tab.active').innerText(), /app\.py: current ↔ with the fix/);
  assert.match(await editorText(diff.locator('.editor.modified')), /except TypeError:/);
  assert.doesNotMatch(await editorText(diff.locator('.editor.original')), /except TypeError:/);
  await dialog.locator('.monaco-button', { hasText: 'Cancel' }).click();
  await page.locator('.notification-toast', { hasText: 'the fix was not applied' }).waitFor();
  assert.equal(fs.readFileSync(app, 'utf8'), before);

  await openAt('shop/orders.py', 26, 5);
  await quickFix('Apply alternative 2');
  await dialog.waitFor({ timeout: 120000 });
  await dialog.locator('.monaco-button', { hasText: 'Apply' }).click();
  await dialog.waitFor({ state: 'hidden' });
  // The preview closes after the dialog (and takes the focus back to an editor when it does).
  await page.locator('.tabs-container .tab', { hasText: 'current ↔ with the fix' }).waitFor({ state: 'detached' });
  await openAt('shop/app.py', 27);
  await page.locator('.monaco-editor.focused .view-lines', { hasText: 'except TypeError:' }).waitFor();
  await page.keyboard.press('Control+S');
  await until('the saved file has the change', async () => /except TypeError:\n\s+continue/.test(fs.readFileSync(app, 'utf8')));
  await snap('applied');
});

test('"Investigate crash" from the Crashes view goes to the server of the crash\'s folder', async () => {
  const tree = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Crashes' }) });
  if (!(await tree.isVisible())) await page.locator('.activitybar .action-item[aria-label^="Crashloom"]').click();
  const group = tree.locator('.monaco-list-row[aria-level="1"]', { hasText: 'CL-810D07' });
  // The row's inline action shows on hover: wait until it is there, so the click lands on it.
  const investigate = group.locator('.action-label[aria-label="Investigate crash"]');
  await group.hover();
  await investigate.waitFor({ state: 'visible' });
  await investigate.click();
  await page.locator('.tabs-container .tab', { hasText: 'Preview CL-810D07.md' }).waitFor({ timeout: 240000 });
  assert.ok(fs.existsSync(path.join(cart, '.crashloom/reports/CL-810D07.md')));
  assert.ok(!fs.existsSync(path.join(workspace, '.crashloom/reports/CL-810D07.md')));
  await page.locator('.tabs-container .tab', { hasText: 'Preview CL-810D07.md' }).click({ button: 'middle' });
});

test('a server path that is not a program gets a clear message with a button to the setting', async () => {
  await palette('Preferences: Open User Settings');
  await page.locator('.settings-editor').waitFor();
  await page.keyboard.type('crashloom.server.path');
  // The server path is a machine setting: under code-server it is set for the remote machine.
  await page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: /^Remote/ }).click();
  const setting = page.locator('.settings-editor .setting-item-contents', { hasText: 'Path' }).filter({ has: page.locator('input') }).first();
  const input = setting.locator('input').first();
  await input.waitFor();
  const missing = path.join(tmp, 'no-such-crashloom');
  await input.fill(missing);
  await input.press('Tab');
  const toast = page.locator('.notification-toast', { hasText: `the setting crashloom.server.path names ${missing}, which is not an executable file` }).first();
  await toast.waitFor({ timeout: 30000 });
  await page.locator('.statusbar-item', { hasText: 'Crashloom' }).locator('.codicon-error').waitFor();
  await snap('no-server');
  await toast.getByRole('button', { name: 'Open setting' }).click();
  await page.locator('.settings-editor .settings-header', { hasText: 'crashloom.server.path' }).waitFor();
  // Back to a working path: the server starts again and the crashes come back.
  await page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: /^Remote/ }).click();
  await input.fill('');
  await input.press('Tab');
  await page.locator('.statusbar-item', { hasText: /^\s*3 crashes\s*$/ }).waitFor({ timeout: 30000 });
});
