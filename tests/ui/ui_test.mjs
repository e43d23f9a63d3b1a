// tests/ui/ui_test.mjs: kite's web UI in a real browser (Debian's Chromium,
// driven headless by playwright-core) against a real `kite server local`
// that tests/e2e/ui.sh started. Each step prints "PASS name", "FAIL name"
// (with the reason) or "SKIP name: why", the way the e2e suites do.
//
//   KITE_URL    http://127.0.0.1:PORT (the server)
//   KITE_TOKEN  its admin token
//   UI_OUT      the folder for screenshots (one PNG per page, fail-*.png on failure)
//   CHROMIUM    the browser (default /usr/bin/chromium)
//
// Every step also fails on a console error or an uncaught exception in the
// page (HTTP errors a step expects, like the 401 of a wrong token, are named
// by the step), and the last steps fail when any request left 127.0.0.1.
// Waits are generous (30 s): the machine may be loaded; nothing times anything.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const require = createRequire(join(root, 'ui', 'package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.KITE_URL;
const TOKEN = process.env.KITE_TOKEN;
const OUT = process.env.UI_OUT || join(process.env.TMPDIR || '/tmp', 'kite-ui-screens');
const WAIT = 30000;
if (!BASE || !TOKEN) { console.log('FAIL ui test: KITE_URL and KITE_TOKEN must be set'); process.exit(1); }
mkdirSync(OUT, { recursive: true });
const API = `${BASE}/api/v1`;
const NS = 'uitest.demo';

let passed = 0, failed = 0;
const results = {};

// ---- the API from the test itself (checks and set-up, with the bearer token) ----------
async function call(method, path, body, type) {
  const headers = { Authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers['Content-Type'] = type || 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}
async function must(method, path, body, type) {
  const r = await call(method, path, body, type);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
  return r.json;
}
async function until(what, f, ms = WAIT) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await f(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`waited ${ms / 1000} s for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise(r => setTimeout(r, 200));
  }
}
async function waitState(id, states) {
  return until(`execution ${id} in ${states}`, async () => {
    const x = await must('GET', `/executions/${id}`);
    return states.includes(x.state?.current) ? x : null;
  });
}

// ---- the browser ---------------------------------------------------------------------------
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', acceptDownloads: false });
context.setDefaultTimeout(WAIT);
const outside = [];          // requests that left the kite server
const problems = [];         // console errors and page errors of the current step
let allowStatus = [];        // HTTP statuses the current step expects to see refused
await context.route('**/*', route => {
  const u = new URL(route.request().url());
  if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '127.0.0.1') {
    outside.push(route.request().url());
    return route.abort();
  }
  return route.continue();
});
const page = await context.newPage();
page.on('console', m => {
  if (m.type() !== 'error') return;
  const st = /status of (\d+)/.exec(m.text());
  if (st && allowStatus.includes(+st[1])) return;
  problems.push(`console: ${m.text()}${m.location()?.url ? ` (${m.location().url})` : ''}`);
});
page.on('pageerror', e => problems.push(`page error: ${e.message}`));
const requests = [];
page.on('request', r => requests.push(r.url()));

async function shot(name) {
  await page.evaluate(() => document.querySelector('.toasts')?.replaceChildren()); // notices of earlier steps
  await page.waitForTimeout(150); // a frame for the last paint
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}

// step NAME [OPTS] FN: runs FN; PASS, or FAIL with the reason (and a screenshot);
// opts.needs: names of steps that must have passed, else SKIP
async function step(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  for (const n of opts.needs || []) {
    if (!results[n]) { console.log(`SKIP ${name}: needs "${n}"`); results[name] = false; return; }
  }
  problems.length = 0;
  allowStatus = opts.allow || [];
  try {
    const r = await fn();
    if (r && r.skip) { console.log(`SKIP ${name}: ${r.skip}`); results[name] = false; return; }
    await page.waitForTimeout(100);
    if (problems.length) throw new Error(problems.join('\n    '));
    console.log(`PASS ${name}`);
    passed++;
    results[name] = true;
  } catch (e) {
    console.log(`FAIL ${name}`);
    console.log(`    ${String(e?.message || e).split('\n').slice(0, 12).join('\n    ')}`);
    console.log(`    at ${page.url()}`);
    failed++;
    results[name] = false;
    try { await page.screenshot({ path: join(OUT, `fail-${name.replace(/[^\w]+/g, '_').slice(0, 60)}.png`) }); } catch { /* page gone */ }
  }
  allowStatus = [];
}

const ui = p => `${BASE}/ui${p}`;
const text = sel => page.locator(sel).first().innerText();
async function editorSet(src) {
  // (not waitForFunction: when it polls it compiles a string, which the page's CSP refuses)
  await until('the editor', () => page.evaluate(() => !!window.__kiteEditor));
  await page.evaluate(s => { const v = window.__kiteEditor; v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: s } }); v.focus(); }, src);
}
// selects the first occurrence of word on the given line (1-based) of the editor
async function editorSelect(line, word) {
  await page.evaluate(([n, w]) => {
    const v = window.__kiteEditor, l = v.state.doc.line(n), i = l.text.indexOf(w);
    if (i < 0) throw new Error(`no '${w}' on line ${n}: ${l.text}`);
    v.dispatch({ selection: { anchor: l.from + i, head: l.from + i + w.length } });
    v.focus();
  }, [line, word]);
}
// the line numbers the lint gutter marks with an error (as the user sees them: the
// line-number gutter element level with each marker)
async function markedLines() {
  return page.evaluate(() => {
    const nums = [...document.querySelectorAll('.cm-lineNumbers .cm-gutterElement')].filter(e => /^\d+$/.test(e.textContent || ''));
    return [...document.querySelectorAll('.cm-gutter-lint .cm-lint-marker-error')].map(m => {
      const y = m.getBoundingClientRect().top + m.getBoundingClientRect().height / 2;
      const n = nums.find(e => { const r = e.getBoundingClientRect(); return y >= r.top && y < r.bottom; });
      return n ? +n.textContent : -1;
    });
  });
}

const FLOW = `id: hello_inputs
namespace: ${NS}
description: The browser test's flow
labels:
  team: ui
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: count
    type: INT
    defaults: 1
  - id: color
    type: SELECT
    values: [red, green, blue]
    defaults: red
  - id: loud
    type: BOOLEAN
    defaults: false
  - id: data
    type: FILE
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }} x{{ inputs.count }} in {{ inputs.color }} loud={{ inputs.loud }}"
  - id: file
    type: io.kestra.plugin.core.log.Log
    message: "the file says {{ read(inputs.data) }}"
  - id: wait_here
    type: io.kestra.plugin.core.flow.Pause
  - id: bye
    type: io.kestra.plugin.core.log.Log
    message: "bye {{ inputs.name }}"
`;
const BAD_LINE = FLOW.split('\n').findIndex(l => l.includes('"bye {{')) + 1; // the line of bye's message
let execId = '', failedId = '';

// ---- set-up through the API: flows the steps below use ---------------------------------
await step('set-up: flows through the API', async () => {
  await must('POST', '/flows', `id: flaky
namespace: ${NS}
description: fails until the KV key 'gate' exists
tasks:
  - id: gate
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ kv('gate', '${NS}', false) == null }}"
    errorMessage: the gate key is not set
  - id: through
    type: io.kestra.plugin.core.log.Log
    message: through the gate
`, 'application/x-yaml');
  await must('POST', '/flows', `id: nightly
namespace: ${NS}
description: a schedule the test switches off and on
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: nightly
triggers:
  - id: every_night
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 3 1 1 *"
`, 'application/x-yaml');
  await must('POST', '/flows', `id: branches
namespace: ${NS}
description: flowables for the topology
tasks:
  - id: fetch
    type: io.kestra.plugin.core.log.Log
    message: fetch
  - id: fan_out
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.log.Log
        message: left
      - id: right
        type: io.kestra.plugin.core.log.Log
        message: right
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: publish
        type: io.kestra.plugin.core.log.Log
        message: publish
    else:
      - id: hold
        type: io.kestra.plugin.core.log.Log
        message: hold
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    disabled: true
`, 'application/x-yaml');
  await must('POST', '/flows', `id: report
namespace: uitest.other
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: report
`, 'application/x-yaml');
  const x = await must('POST', '/executions/uitest.other/report');
  await waitState(x.id, ['SUCCESS']);
});

// ---- login ---------------------------------------------------------------------------------
await step('login: the app sends a visitor without a session to the login page', { allow: [401] }, async () => {
  await page.goto(ui('/flows'));
  await page.waitForURL(/\/ui\/login\?next=%2Fui%2Fflows/);
  await page.locator('#token').waitFor();
  if (!(await page.title()).startsWith('Log in')) throw new Error(`title: ${await page.title()}`);
});
await step('login: a wrong token shows the reason', { allow: [401] }, async () => {
  await page.fill('#token', 'wrong-token-0000000000000');
  await page.click('button[type=submit]');
  await page.locator('.login-error .banner', { hasText: 'invalid token' }).waitFor();
  await shot('login');
});
await step('login: the admin token opens the flows', async () => {
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/ui\/flows$/);
  await page.locator('h1', { hasText: 'Flows' }).waitFor();
  await page.locator('tr[data-flow="uitest.demo.flaky"]').waitFor();
});

// ---- the editor ----------------------------------------------------------------------------
await step('editor: a new flow from the blank template is valid', { needs: ['login: the admin token opens the flows'] }, async () => {
  await page.click('a:has-text("New flow")');
  await page.waitForURL(/\/ui\/flows\/new$/);
  await page.locator('.cm-editor').waitFor();
  await page.locator('.lint-status.ok').waitFor();
  const doc = await page.evaluate(() => window.__kiteEditor.state.doc.toString());
  if (!doc.includes('io.kestra.plugin.core.log.Log')) throw new Error(`template: ${doc}`);
});
await step('editor: a typo is marked at its line with the message on hover', { needs: ['editor: a new flow from the blank template is valid'] }, async () => {
  await editorSet(FLOW);
  await page.locator('.lint-status.ok').waitFor();
  await editorSelect(BAD_LINE, 'message');
  await page.keyboard.type('mesage');
  await page.keyboard.press('Escape'); // the completion list that typing opened
  await page.locator('.lint-status.err').waitFor();
  const status = await text('.lint-status');
  // the status line names the first error: the task lost its 'message'
  if (!/^2 error\(s\): \d+:5: task 'bye': missing required property 'message'/.test(status)) throw new Error(`status: ${status}`);
  await until('the lint marker', async () => (await markedLines()).length > 0);
  const lines = await markedLines();
  // the missing 'message' is reported on the task's first line, the unknown key on its own line
  if (!lines.includes(BAD_LINE)) throw new Error(`markers on lines ${lines}, want ${BAD_LINE}`);
  const range = page.locator('.cm-lintRange-error', { hasText: 'mesage' });
  await range.hover();
  const tip = page.locator('.cm-tooltip-lint .cm-diagnosticText', { hasText: "unknown property 'mesage' (did you mean 'message'?)" });
  await tip.waitFor();
  await shot('editor-error');
});
await step('editor: fixed, saved with Ctrl-S, it is a flow', { needs: ['editor: a typo is marked at its line with the message on hover'] }, async () => {
  await editorSelect(BAD_LINE, 'mesage');
  await page.keyboard.type('message');
  await page.locator('.lint-status.ok').waitFor();
  if ((await markedLines()).length) throw new Error('a marker stayed after the fix');
  await page.keyboard.press('Control+s');
  await page.waitForURL(/\/ui\/flows\/uitest\.demo\/hello_inputs\/editor$/);
  await page.locator('.meta', { hasText: 'revision 1' }).waitFor();
  const f = await must('GET', `/flows/${NS}/hello_inputs`);
  if (f.revision !== 1 || !f.source.includes('"bye {{ inputs.name }}"')) throw new Error(`stored: revision ${f.revision}`);
});
await step('editor: an edit saved with the button is a new revision', { needs: ['editor: fixed, saved with Ctrl-S, it is a flow'] }, async () => {
  await page.locator('.lint-status.ok').waitFor();
  await editorSelect(3, "The browser test's flow");
  await page.keyboard.type('Says hello, reads a file, waits to be resumed');
  await page.locator('.lint-status.ok', { hasText: 'not saved' }).waitFor();
  await page.click('.toolbar button:has-text("Save")');
  await page.locator('.lint-status.ok', { hasText: 'revision 2' }).waitFor();
  const f = await must('GET', `/flows/${NS}/hello_inputs`);
  if (f.revision !== 2 || f.description !== 'Says hello, reads a file, waits to be resumed') throw new Error(`stored: revision ${f.revision}, ${f.description}`);
  await page.click('.cm-content'); // no tooltip in the picture
  await page.evaluate(() => window.__kiteEditor.dispatch({ selection: { anchor: 0 } }));
  await shot('editor');
});
await step('revisions: the diff between revisions 1 and 2', { needs: ['editor: an edit saved with the button is a new revision'] }, async () => {
  await page.click('nav.tabs a:has-text("Revisions")');
  await page.waitForURL(/\/revisions$/);
  await page.locator('.diff-body .add', { hasText: 'Says hello' }).waitFor();
  await page.locator('.diff-body .del', { hasText: "The browser test's flow" }).waitFor();
  await shot('revisions');
});
await step('topology: the flow drawn as a graph', { needs: ['editor: fixed, saved with Ctrl-S, it is a flow'] }, async () => {
  await page.click('nav.tabs a:has-text("Topology")');
  await page.waitForURL(/\/topology$/);
  for (const t of ['hello', 'file', 'wait_here', 'bye']) await page.locator(`svg.graph g.node[data-task="${t}"]`).waitFor();
  if (await page.locator('.banner').count()) throw new Error(`banner: ${await text('.banner')}`);
});
await step('topology: flowables as clusters, branches, errors and triggers', async () => {
  await page.goto(ui(`/flows/${NS}/branches/topology`));
  for (const t of ['fetch', 'fan_out', 'left', 'right', 'check', 'publish', 'hold', 'alert', 'hourly']) await page.locator(`svg.graph g.node[data-task="${t}"]`).waitFor();
  const labels = await page.locator('svg.graph .cluster-label').allTextContents();
  if (!labels.includes('Parallel') || !labels.includes('If')) throw new Error(`cluster labels: ${labels}`);
  if (!(await page.locator('svg.graph path.edge.rel-error').count())) throw new Error('no error edge');
  if (await page.locator('.banner').count()) throw new Error(`banner: ${await text('.banner')}`);
  await shot('topology');
});

// ---- execute, logs, Gantt --------------------------------------------------------------------
await step('execute: the form has a field per input and starts an execution with them', { needs: ['editor: fixed, saved with Ctrl-S, it is a flow'] }, async () => {
  await page.goto(ui(`/flows/${NS}/hello_inputs`));
  await page.click('a:has-text("▶ Execute")');
  await page.waitForURL(/hello_inputs\/execute$/);
  await page.locator('#in-name').waitFor();
  if ((await page.inputValue('#in-name')) !== 'world') throw new Error('the STRING default is not filled in');
  await page.fill('#in-name', 'Ada');
  await page.fill('#in-count', '3');
  await page.selectOption('#in-color', 'green');
  await page.check('#in-loud');
  await page.setInputFiles('#in-data', { name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('forty-two') });
  await page.fill('#exec-labels', 'run:browser');
  await shot('execute');
  await page.click('form.exec-form button[type=submit]');
  await page.waitForURL(/\/ui\/executions\/[^/]+$/);
  execId = new URL(page.url()).pathname.split('/')[3];
  const x = await must('GET', `/executions/${execId}`);
  const i = x.inputs || {};
  if (i.name !== 'Ada' || i.count !== 3 || i.color !== 'green' || i.loud !== true || !/^(kite|kestra):\/\//.test(i.data || ''))
    throw new Error(`inputs: ${JSON.stringify(i)}`);
  const labels = JSON.stringify(x.labels);
  if (!labels.includes('run') || !labels.includes('browser')) throw new Error(`labels: ${labels}`);
});
await step('logs: lines arrive live (server-sent events) while it runs, and after resume', { needs: ['execute: the form has a field per input and starts an execution with them'] }, async () => {
  await page.click('nav.tabs a:has-text("Logs")');
  await page.waitForURL(/\/logs$/);
  await page.locator('.logline', { hasText: 'Hello Ada x3 in green loud=true' }).waitFor();
  await page.locator('.logline', { hasText: 'the file says forty-two' }).waitFor();
  await waitState(execId, ['PAUSED']);
  await page.locator('#exec-state', { hasText: 'PAUSED' }).waitFor();
  if (await page.locator('.logline', { hasText: 'bye Ada' }).count()) throw new Error('bye before resume');
  if (!requests.some(u => u.includes(`/api/v1/logs/${execId}/follow`))) throw new Error('no request to /logs/{id}/follow');
  await page.click('.actions button:has-text("Resume")');
  await page.click('.modal button:has-text("Resume")');
  // the same page, no reload: the line comes over the stream
  await page.locator('.logline', { hasText: 'bye Ada' }).waitFor();
  await page.locator('#exec-state', { hasText: 'SUCCESS' }).waitFor();
  await page.selectOption('select[aria-label="task"]', 'hello');
  await until('the task filter', async () => (await page.locator('.logline').count()) === 1);
  await page.selectOption('select[aria-label="task"]', '');
  await shot('logs');
});
await step('gantt: a bar per task run, every one a success', { needs: ['logs: lines arrive live (server-sent events) while it runs, and after resume'] }, async () => {
  await page.click('nav.tabs a:has-text("Gantt")');
  await page.waitForURL(/\/gantt$/);
  for (const t of ['hello', 'file', 'wait_here', 'bye']) await page.locator(`.grow[data-task="${t}"] .bar.st-success`).waitFor();
  await page.click('.grow[data-task="hello"]');
  await page.locator('.gantt-detail h3', { hasText: 'hello' }).waitFor();
  await shot('gantt');
});
await step('outputs: the input file previews from the overview', { needs: ['execute: the form has a field per input and starts an execution with them'] }, async () => {
  await page.click('nav.tabs a:has-text("Overview")');
  await page.waitForURL(/\/overview$/);
  await page.locator('.kv', { hasText: 'SUCCESS' }).waitFor();
  await page.click('.outputs button:has-text("Preview")');
  await page.locator('.modal .preview', { hasText: 'forty-two' }).waitFor();
  await page.keyboard.press('Escape');
  await page.locator('.modal').waitFor({ state: 'detached' });
});

// ---- a failing flow, fixed through the KV page, restarted from the UI --------------------------
await step('restart: a failed execution shows its error', async () => {
  await page.goto(ui(`/flows/${NS}/flaky/execute`));
  await page.locator('form.exec-form', { hasText: 'This flow has no inputs.' }).waitFor();
  await page.click('form.exec-form button[type=submit]');
  await page.waitForURL(/\/ui\/executions\/[^/]+$/);
  failedId = new URL(page.url()).pathname.split('/')[3];
  await page.locator('#exec-state', { hasText: 'FAILED' }).waitFor();
  await page.locator('.grow[data-task="gate"] .bar.st-failed').waitFor();
  await page.click('nav.tabs a:has-text("Logs")');
  await page.locator('.logline.lv-error', { hasText: 'the gate key is not set' }).waitFor();
});
await step('kv: a key added on the KV page', async () => {
  await page.goto(ui(`/namespaces/${NS}/kv`));
  await page.locator('.empty', { hasText: 'No key' }).waitFor();
  await page.click('button:has-text("New key")');
  await page.fill('.modal input[placeholder=key]', 'gate');
  await page.fill('.modal textarea', 'open');
  await page.click('.modal button:has-text("Save")');
  await page.locator('table.list td', { hasText: '"open"' }).waitFor();
  const v = await must('GET', `/namespaces/${NS}/kv/gate`);
  if (v.value !== 'open') throw new Error(`stored: ${JSON.stringify(v)}`);
  await shot('kv');
});
await step('restart: the Restart button runs the failed task again, now through', { needs: ['restart: a failed execution shows its error', 'kv: a key added on the KV page'] }, async () => {
  await page.goto(ui(`/executions/${failedId}`));
  await page.locator('#exec-state', { hasText: 'FAILED' }).waitFor();
  await page.click('.actions button:has-text("Restart")');
  await page.locator('#exec-state', { hasText: 'SUCCESS' }).waitFor();
  await page.locator('.grow[data-task="through"] .bar.st-success').waitFor();
  const x = await must('GET', `/executions/${failedId}`);
  const gate = x.taskRunList.find(r => r.taskId === 'gate');
  if (x.state.current !== 'SUCCESS' || (gate.attempts || []).length !== 2) throw new Error(`state ${x.state.current}, gate attempts ${(gate.attempts || []).length}`);
  if (!x.state.histories.some(h => h.state === 'RESTARTED')) throw new Error('no RESTARTED in the history');
});

// ---- triggers --------------------------------------------------------------------------------
const trig = async () => (await must('GET', `/triggers/search?namespace=${NS}&flowId=nightly`)).results.find(r => r.triggerContext.triggerId === 'every_night').triggerContext;
await step('triggers: disabled and enabled again from the flow page', async () => {
  await page.goto(ui(`/flows/${NS}/nightly/triggers`));
  const box = page.locator('input[data-trigger="every_night"]');
  await box.waitFor();
  if (!(await box.isChecked())) throw new Error('the trigger shows disabled');
  await box.uncheck();
  await page.locator('label.switch .chip', { hasText: 'disabled' }).waitFor();
  await until('the API to say disabled', async () => (await trig()).disabled === true);
  await box.check();
  await page.locator('label.switch .chip', { hasText: 'enabled' }).waitFor();
  await until('the API to say enabled', async () => !(await trig()).disabled);
  await shot('triggers');
});

// ---- lists ---------------------------------------------------------------------------------
await step('flows: the list with search, labels, last executions and triggers', { needs: ['gantt: a bar per task run, every one a success'] }, async () => {
  await page.goto(ui('/flows'));
  const row = page.locator('tr[data-flow="uitest.demo.hello_inputs"]');
  await row.locator('.chip', { hasText: 'team:ui' }).waitFor();
  await row.locator('.marks .mark.st-success').waitFor();
  await page.locator('tr[data-flow="uitest.demo.nightly"] .chip', { hasText: 'every_night' }).waitFor();
  await shot('flows');
  await page.keyboard.press('/');
  if (!(await page.evaluate(() => document.activeElement?.getAttribute('type') === 'search'))) throw new Error('/ does not focus the search box');
  await page.keyboard.type('flaky');
  await until('the search', async () => (await page.locator('tbody tr').count()) === 1 && (await page.locator('tr[data-flow="uitest.demo.flaky"]').count()) === 1);
});
await step('executions: the list, its filters, keyboard navigation', { needs: ['gantt: a bar per task run, every one a success'] }, async () => {
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('g');
  await page.keyboard.press('e');
  await page.waitForURL(/\/ui\/executions$/);
  await page.locator(`tr[data-id="${execId}"]`).waitFor();
  await page.locator(`tr[data-id="${failedId}"]`).waitFor();
  await page.selectOption('select[aria-label=state]', 'SUCCESS');
  await page.waitForURL(/state=SUCCESS/);
  await page.locator(`tr[data-id="${execId}"]`).waitFor();
  await page.locator('tbody tr').first().focus();
  await page.keyboard.press('ArrowDown');
  const focused = await page.evaluate(() => document.activeElement?.closest('tr') === document.querySelectorAll('tbody tr')[1]);
  if (!focused) throw new Error('ArrowDown does not move to the next row');
  await shot('executions');
});
await step('executions: bulk delete of selected executions', async () => {
  const probe = await call('DELETE', '/executions/by-ids', []);
  if (probe.status === 404 || probe.status === 405) return { skip: `DELETE /api/v1/executions/by-ids is not on this server yet (${probe.status})` };
  const x = await must('POST', '/executions/uitest.other/report');
  await waitState(x.id, ['SUCCESS']);
  await page.goto(ui('/executions?namespace=uitest.other'));
  const box = page.locator(`tr[data-id="${x.id}"] input[type=checkbox]`);
  await box.check();
  await page.locator('.sel-count', { hasText: '1 selected' }).waitFor();
  await page.click('.bulk button:has-text("Delete")');
  await page.click('.modal button.primary:has-text("Delete")');
  await page.locator(`tr[data-id="${x.id}"]`).waitFor({ state: 'detached' });
  const r = await call('GET', `/executions/${x.id}`);
  if (r.status !== 404) throw new Error(`GET the deleted execution: ${r.status}`);
});
await step('namespaces: the tree with counts of flows and executions', async () => {
  await page.goto(ui('/namespaces'));
  const demo = page.locator('tr', { has: page.locator(`a[href="/ui/namespaces/${NS}"]`) });
  await demo.waitFor();
  const cells = await demo.locator('td').allInnerTexts();
  if (cells[1].trim() !== '4') throw new Error(`flows of ${NS}: ${cells[1]}`);
  if (!/2 success/.test(cells[2])) throw new Error(`executions of ${NS}: ${cells[2]}`);
  const top = page.locator('tr', { has: page.locator('a[href="/ui/namespaces/uitest"]') });
  const tc = await top.locator('td').allInnerTexts();
  if (tc[1].trim() !== '5') throw new Error(`flows under uitest: ${tc[1]}`);
  if (!/3 success/.test(tc[2])) throw new Error(`executions under uitest: ${tc[2]}`);
  await shot('namespaces');
});
await step('dashboard: statistics over the last day', async () => {
  const probe = await call('GET', '/executions/statistics');
  if (probe.status === 404 || probe.status === 405) return { skip: `GET /api/v1/executions/statistics is not on this server yet (${probe.status})` };
  await page.goto(ui('/dashboard'));
  await page.locator('.stats .stat').first().waitFor();
  const stats = await page.locator('.stats').innerText();
  if (!/\d+\s*success/i.test(stats)) throw new Error(`stats: ${stats}`);
  await page.locator('#chart-states canvas').waitFor();
  await shot('dashboard');
});

// ---- a session that ends --------------------------------------------------------------------
await step('401: a session ended elsewhere returns to the login page with the reason', { allow: [401] }, async () => {
  await page.goto(ui('/flows'));
  await page.locator('tr[data-flow="uitest.demo.flaky"]').waitFor();
  const cookies = await context.cookies();
  const sid = cookies.find(c => c.name === 'kite_session');
  if (!sid) throw new Error(`no kite_session cookie: ${cookies.map(c => c.name)}`);
  if (!sid.httpOnly) throw new Error('the session cookie is not HttpOnly');
  const csrf = await page.evaluate(() => sessionStorage.getItem('kite.csrf'));
  const r = await fetch(`${API}/logout`, { method: 'POST', headers: { Cookie: `kite_session=${sid.value}`, 'X-CSRF-Token': csrf } });
  if (r.status !== 204) throw new Error(`logout: ${r.status}`);
  // the next API call of the page meets the 401: the click on Executions, or a call the flows
  // page makes by itself first (then the nav is gone before the click: either way is right)
  let clicked = true;
  try { await page.click('nav.main-nav a:has-text("Executions")', { timeout: 5000 }); } catch { clicked = false; }
  await page.waitForURL(/\/ui\/login\?next=%2Fui%2F(executions|flows)/);
  const reason = await page.locator('.login-error .banner').innerText();
  if (!/session/i.test(reason)) throw new Error(`reason: ${reason}`);
  const back = new URL(page.url()).searchParams.get('next');
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(u => u.pathname === back);
  if (clicked && back !== '/ui/executions') throw new Error(`back to ${back}, not the page clicked`);
});

// ---- themes ---------------------------------------------------------------------------------
const lum = async () => page.evaluate(() => {
  const c = getComputedStyle(document.body).backgroundColor.match(/[\d.]+/g).map(Number);
  return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
});
await step('themes: dark and light, kept across pages', { needs: ['gantt: a bar per task run, every one a success'] }, async () => {
  await page.goto(ui(`/flows/${NS}/branches/topology`));
  await page.locator('svg.graph').waitFor();
  const themeBtn = page.locator('header.top button[title^="Theme"]');
  for (let i = 0; i < 3 && !(await themeBtn.innerText()).includes('dark'); i++) await themeBtn.click();
  if ((await page.evaluate(() => document.documentElement.dataset.theme)) !== 'dark') throw new Error('no dark theme');
  if ((await lum()) > 0.3) throw new Error(`dark theme, light background (${(await lum()).toFixed(2)})`);
  await page.locator('svg.graph').waitFor();
  await shot('topology-dark');
  await page.goto(ui(`/executions/${execId}/gantt`));
  await page.locator('.grow[data-task="bye"]').waitFor();
  if ((await page.evaluate(() => document.documentElement.dataset.theme)) !== 'dark') throw new Error('the theme did not stay after a reload');
  await shot('gantt-dark');
  await page.goto(ui(`/flows/${NS}/hello_inputs/editor`));
  await page.locator('.lint-status.ok').waitFor();
  await shot('editor-dark');
  for (let i = 0; i < 3 && !(await themeBtn.innerText()).includes('light'); i++) await themeBtn.click();
  if ((await lum()) < 0.7) throw new Error(`light theme, dark background (${(await lum()).toFixed(2)})`);
});
await step('titles: the page title and URL name what is shown', { needs: ['gantt: a bar per task run, every one a success'] }, async () => {
  await page.goto(ui(`/executions/${execId}/logs`));
  await page.locator('.logline').first().waitFor();
  const t = await page.title();
  if (!t.includes('uitest.demo.hello_inputs') || !t.includes(execId) || !t.includes('logs')) throw new Error(`title: ${t}`);
});

// ---- what issue 13 left untested: inputs, files, backfill, labels, replay, dependencies ------
const TYPED = `id: typed_inputs
namespace: ${NS}
inputs:
  - id: colors
    type: MULTISELECT
    values: [red, green, blue]
  - id: when
    type: DATETIME
  - id: conf
    type: JSON
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.colors | length }} colors, at {{ inputs.when }}, retries {{ inputs.conf.retries }}"
`;
await step('execute: MULTISELECT, DATETIME and JSON inputs from the form', async () => {
  await must('POST', '/flows', TYPED, 'application/x-yaml');
  await page.goto(ui(`/flows/${NS}/typed_inputs/execute`));
  await page.locator('#in-colors').waitFor();
  await page.check('#in-colors input[value="red"]');
  await page.check('#in-colors input[value="blue"]');
  await page.fill('#in-when', '2026-05-04T10:20:30');
  // JSON that does not parse is refused in the form, at its field
  await page.fill('#in-conf', '{"retries": 3,');
  await page.click('form.exec-form button[type=submit]');
  await page.locator('#in-conf-error', { hasText: 'not JSON' }).waitFor();
  if (!/\/typed_inputs\/execute$/.test(page.url())) throw new Error('submitted with bad JSON');
  await page.fill('#in-conf', '{"retries": 3, "tags": ["a", "b"]}');
  if (await page.locator('#in-conf-error').innerText()) throw new Error('the JSON error stays after the value changed');
  await shot('execute-typed');
  await page.click('form.exec-form button[type=submit]');
  await page.waitForURL(/\/ui\/executions\/[^/]+$/);
  const id = new URL(page.url()).pathname.split('/')[3];
  const x = await waitState(id, ['SUCCESS', 'FAILED']);
  const i = x.inputs || {};
  // the browser sends the local time it shows as an instant (its own time zone)
  const when = await page.evaluate(() => new Date('2026-05-04T10:20:30').getTime());
  if (JSON.stringify(i.colors) !== '["red","blue"]') throw new Error(`colors: ${JSON.stringify(i.colors)}`);
  if (+new Date(i.when) !== when) throw new Error(`when: ${i.when}, want ${new Date(when).toISOString()}`);
  if (JSON.stringify(i.conf) !== '{"retries":3,"tags":["a","b"]}') throw new Error(`conf: ${JSON.stringify(i.conf)}`);
  if (x.state.current !== 'SUCCESS') throw new Error(`state ${x.state.current}`);
  const logs = await must('GET', `/logs/${id}`);
  if (!logs.some(l => /^2 colors, at 2026-05-0[45]T.*retries 3$/.test(l.message))) throw new Error(`logs: ${logs.map(l => l.message)}`);
});

await step('namespace files: a file created, edited and deleted in the Files tab', async () => {
  const P = `/namespaces/${NS}/files`;
  await page.goto(ui(`/namespaces/${NS}/files`));
  await page.locator('.empty', { hasText: 'No file' }).waitFor();
  await page.click('button:has-text("New file")');
  await page.fill('.modal input', '/scripts/hello.sh');
  await page.fill('.modal textarea', 'echo one\n');
  await page.click('.modal button:has-text("Save")');
  await page.locator('.modal').waitFor({ state: 'detached' });
  const f1 = await call('GET', `${P}?path=/scripts/hello.sh`);
  if (f1.status !== 200 || f1.text !== 'echo one\n') throw new Error(`stored: ${f1.status} ${JSON.stringify(f1.text)}`);
  // the folder, then the file in it
  await page.click('table.list a:has-text("scripts")');
  await page.locator('.muted', { hasText: `${NS}:/scripts` }).waitFor();
  await page.click('table.list a:has-text("hello.sh")');
  await page.locator('.modal textarea').waitFor();
  if ((await page.inputValue('.modal textarea')) !== 'echo one\n') throw new Error(`opened: ${await page.inputValue('.modal textarea')}`);
  await page.fill('.modal textarea', 'echo two\n');
  await page.click('.modal button:has-text("Save")');
  await page.locator('.modal').waitFor({ state: 'detached' });
  await until('the edit stored', async () => (await call('GET', `${P}?path=/scripts/hello.sh`)).text === 'echo two\n');
  const row = page.locator('table.list tr', { has: page.locator('a:has-text("hello.sh")') });
  await row.locator('td.num', { hasText: '9' }).waitFor();
  await shot('namespace-files');
  await row.locator('button:has-text("Delete")').click();
  await page.click('.modal button.primary:has-text("Delete")');
  await page.locator('table.list a:has-text("hello.sh")').waitFor({ state: 'detached' });
  const f3 = await call('GET', `${P}?path=/scripts/hello.sh`);
  if (f3.status !== 404) throw new Error(`GET the deleted file: ${f3.status}`);
});

await step('backfill: a schedule backfilled from its trigger makes an execution per tick', async () => {
  await must('POST', '/flows', `id: daily
namespace: ${NS}
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: "for {{ trigger.date }}"
triggers:
  - id: noon
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 12 * * *"
`, 'application/x-yaml');
  await page.goto(ui(`/flows/${NS}/daily/triggers`));
  await page.click('button:has-text("Backfill")');
  const inputs = page.locator('.modal input[type=datetime-local]');
  // noon UTC of 1, 2 and 3 January falls inside these local times in any zone within ±11 h
  await inputs.nth(0).fill('2026-01-01T00:00');
  await inputs.nth(1).fill('2026-01-03T23:59');
  await page.click('.modal button.primary:has-text("Backfill")');
  await page.locator('.toast', { hasText: '3 execution(s) created' }).waitFor();
  const done = await until('3 executions of daily', async () => {
    const d = await must('GET', `/executions/search?namespace=${NS}&flowId=daily&size=10`);
    return d.results.length === 3 && d.results.every(x => x.state.current === 'SUCCESS') ? d.results : null;
  }, 60000);
  // each one ran for its own tick ({{ trigger.date }}), labelled as a backfill
  const said = [];
  for (const x of done) {
    if (!(x.labels || []).some(l => l.key === 'backfill' && l.value === 'true')) throw new Error(`labels of ${x.id}: ${JSON.stringify(x.labels)}`);
    said.push(...(await must('GET', `/logs/${x.id}`)).map(l => l.message.slice(0, 17)));
  }
  if (JSON.stringify(said.sort()) !== JSON.stringify(['for 2026-01-01T12', 'for 2026-01-02T12', 'for 2026-01-03T12'])) throw new Error(`the runs logged: ${said}; trigger: ${JSON.stringify(done[0].trigger)}`);
  await page.click('nav.tabs a:has-text("Executions")');
  await until('3 rows', async () => (await page.locator('tbody tr[data-id]').count()) === 3);
  for (const x of done) await page.locator(`tr[data-id="${x.id}"] .state`, { hasText: 'SUCCESS' }).waitFor();
});

await step('labels: set on an execution in the dialog, then the list filters by them', { needs: ['gantt: a bar per task run, every one a success'] }, async () => {
  await page.goto(ui(`/executions/${execId}/overview`));
  await page.click('.actions button:has-text("Labels")');
  const ta = page.locator('.modal textarea');
  if (!(await ta.inputValue()).includes('run:browser')) throw new Error(`the dialog shows: ${await ta.inputValue()}`);
  // a line without a key is refused in the dialog
  await ta.fill('run:browser\n:nokey');
  await page.click('.modal button.primary:has-text("Save")');
  await page.locator('.modal .banner', { hasText: 'key:value' }).waitFor();
  await ta.fill('run:browser\nstage:qa');
  await page.click('.modal button.primary:has-text("Save")');
  await page.locator('.modal').waitFor({ state: 'detached' });
  await page.locator('.page-head .chip', { hasText: 'stage:qa' }).waitFor();
  const x = await must('GET', `/executions/${execId}`);
  const ls = (x.labels || []).map(l => `${l.key}:${l.value}`);
  if (!ls.includes('stage:qa') || !ls.includes('run:browser')) throw new Error(`labels: ${ls}`);
  await page.goto(ui('/executions'));
  await page.fill('input[aria-label=labels]', 'stage:qa');
  await page.waitForURL(/labels=stage%3Aqa/);
  await until('only the labelled execution', async () => {
    const ids = await page.locator('tbody tr[data-id]').evaluateAll(rs => rs.map(r => r.getAttribute('data-id')));
    return ids.length === 1 && ids[0] === execId;
  });
  await shot('executions-labels');
});

await step('replay: from a task run in the Gantt, a new execution that runs it again', { needs: ['gantt: a bar per task run, every one a success'] }, async () => {
  await page.goto(ui(`/executions/${execId}/gantt`));
  await page.click('.grow[data-task="bye"]');
  await page.click('.gantt-detail button:has-text("Replay from this task run")');
  await page.waitForURL(u => /\/ui\/executions\/[^/]+$/.test(u.pathname) && !u.pathname.includes(execId));
  const nid = new URL(page.url()).pathname.split('/')[3];
  await page.locator('#exec-state', { hasText: 'SUCCESS' }).waitFor();
  const x = await must('GET', `/executions/${nid}`);
  if (x.originalId !== execId) throw new Error(`originalId ${x.originalId}, want ${execId}`);
  const runs = x.taskRunList.map(r => `${r.taskId}:${r.state.current}`).join(' ');
  if (runs !== 'hello:SUCCESS file:SUCCESS wait_here:SUCCESS bye:SUCCESS') throw new Error(`task runs: ${runs}`);
  // hello was kept, not run again: only bye logged in the new execution
  const logs = (await must('GET', `/logs/${nid}`)).map(l => l.taskId);
  if (logs.includes('hello') || !logs.includes('bye')) throw new Error(`tasks that logged: ${logs}`);
  await page.locator('.grow[data-task="bye"] .bar.st-success').waitFor();
});

await step('dependencies: the tab lists the flows a flow calls and the flows that trigger it', async () => {
  await must('POST', '/flows', `id: caller
namespace: ${NS}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: ${NS}
    flowId: flaky
`, 'application/x-yaml');
  await must('POST', '/flows', `id: after_caller
namespace: ${NS}
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: after
triggers:
  - id: on_caller
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlowCondition
        namespace: ${NS}
        flowId: caller
`, 'application/x-yaml');
  const names = async (h) => page.locator('h3', { hasText: h }).locator('xpath=following-sibling::*[1]').innerText();
  await page.goto(ui(`/flows/${NS}/caller/dependencies`));
  await page.locator('h3', { hasText: 'Flows it calls or triggers' }).waitFor();
  const down = await names('Flows it calls or triggers'), up = await names('Flows that call or trigger it');
  if (!down.includes(`${NS}.flaky subflow`) || !down.includes(`${NS}.after_caller flow trigger`)) throw new Error(`downstream: ${down}`);
  if (up.trim() !== 'none') throw new Error(`upstream: ${up}`);
  await shot('dependencies');
  // a link goes to the other flow's tab, which shows the call from the other side
  await page.click(`a:has-text("${NS}.flaky")`);
  await page.waitForURL(/\/flows\/uitest\.demo\/flaky\/dependencies$/);
  await until('flaky upstream', async () => (await names('Flows that call or trigger it')).includes(`${NS}.caller subflow`));
  if ((await names('Flows it calls or triggers')).trim() !== 'none') throw new Error(`flaky downstream: ${await names('Flows it calls or triggers')}`);
});

await step('gantt: an execution of 2,500 task runs comes without them, its rows from the server, runs read a page at a time', async () => {
  await must('POST', '/flows', `id: many_runs
namespace: ${NS}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 2500) }}"
    concurrencyLimit: 0
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "v{{ taskrun.value }}"
`, 'application/x-yaml');
  const x0 = await must('POST', `/executions/${NS}/many_runs`);
  await waitState(x0.id, ['SUCCESS']);
  const light = await must('GET', `/executions/${x0.id}?taskRunsMax=2000`);
  if (light.taskRunList || light.taskRunCount !== 2501) throw new Error(`?taskRunsMax=2000: taskRunList ${!!light.taskRunList}, taskRunCount ${light.taskRunCount}`);
  const seen = [];
  const onResp = r => { if (r.url().includes(`/executions/${x0.id}`)) seen.push(r.url().replace(BASE, '')); };
  page.on('response', onResp);
  await page.goto(ui(`/executions/${x0.id}/gantt`));
  await page.locator('.grow.group', { hasText: 'item ×2500 · 2500 SUCCESS' }).waitFor();
  await page.locator('.gantt .grow[data-task="each"] .bar.st-success').waitFor();
  await page.click('.grow.group:has-text("item")');
  await page.locator('.grow[data-task="item"]').first().waitFor();
  // the last rows: their page is read when they scroll into view
  await page.evaluate(() => { const el = document.querySelector('.vlist.gantt'); el.scrollTop = el.scrollHeight; });
  const last = page.locator('.grow[data-task="item"]', { hasText: '2500' });
  await last.waitFor();
  await last.click();
  await page.locator('.gantt-detail .val', { hasText: '"v2500"' }).waitFor();
  page.off('response', onResp);
  await shot('gantt-paged');
  const whole = seen.filter(u => /\/executions\/[^/?]+(\?|$)/.test(u) && !u.includes('taskRunsMax'));
  if (whole.length) throw new Error(`the whole execution was read: ${whole}`);
  const pages = seen.filter(u => u.includes('/taskruns?')).map(u => new URL(BASE + u).searchParams.get('page'));
  if (!pages.includes('1') || !pages.includes('5') || pages.length > 4) throw new Error(`pages read: ${pages}`);
});

// ---- the whole run ----------------------------------------------------------------------------
await step('no request left the kite server', async () => {
  if (outside.length) throw new Error(`requests outside 127.0.0.1: ${[...new Set(outside)].slice(0, 10).join(', ')}`);
  if (!requests.length || !requests.every(u => u.startsWith(BASE) || u.startsWith('data:') || u.startsWith('blob:'))) throw new Error(`requests: ${requests.filter(u => !u.startsWith(BASE)).slice(0, 5)}`);
});

await browser.close();
writeFileSync(join(OUT, 'requests.txt'), requests.join('\n') + '\n');
console.log(`screenshots: ${OUT}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
