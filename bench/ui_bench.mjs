// bench/ui_bench.mjs: the web UI's times in headless Chromium (playwright-core)
// against a `kite server local` that bench/bench_ui.sh started. Figures only:
// nothing here asserts a time.
//   - a 500-task flow: open its editor until validated, then draw its topology
//   - an execution of 10,000 task runs (a ForEach): open its Gantt, expand the
//     iterations, scroll through them (frame times, long tasks)
//   - 100,000 log lines streamed to the logs page (long tasks, event-loop lag)
// KITE_URL, KITE_TOKEN; RUNS (default 5) for the medians.
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(root, 'ui', 'package.json'))('playwright-core');
const BASE = process.env.KITE_URL, TOKEN = process.env.KITE_TOKEN;
const RUNS = +(process.env.RUNS || 5);
const API = `${BASE}/api/v1`;
const WAIT = 300000;

async function must(method, path, body, type) {
  const headers = { Authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers['Content-Type'] = type || 'application/json';
  const r = await fetch(API + path, { method, headers, body });
  const t = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${t.slice(0, 300)}`);
  try { return JSON.parse(t); } catch { return t; }
}
async function finished(id) {
  for (;;) {
    const x = await must('GET', `/executions/${id}`);
    if (['SUCCESS', 'FAILED', 'WARNING', 'KILLED'].includes(x.state.current)) return x;
    await new Promise(r => setTimeout(r, 500));
  }
}
// waits until f (run in the page) is true, polled from here: playwright's waitForFunction
// compiles its predicate from a string when it has to poll, which the page's CSP refuses
async function pageUntil(f, arg) {
  while (!(await page.evaluate(f, arg))) await new Promise(r => setTimeout(r, 20));
}
const median = a => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const ms = v => `${v.toFixed(0)} ms`;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(WAIT);
await context.addInitScript(() => {
  window.__long = [];
  try { new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true }); } catch { /* no longtask */ }
});
const page = await context.newPage();
page.on('pageerror', e => console.log(`ui: page error: ${e.message}`));
await page.goto(`${BASE}/ui/login`);
await page.fill('#token', TOKEN);
await page.click('button[type=submit]');
await page.waitForURL(/\/ui\/flows/);
const longTasks = () => page.evaluate(() => { const l = window.__long; window.__long = []; return l; });

// ---- a 500-task flow: 20 Parallel groups of 24 Log tasks, 500 tasks in all ----------------------
let src = 'id: big500\nnamespace: bench.ui\ntasks:\n';
for (let g = 0; g < 20; g++) {
  src += `  - id: group_${g}\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n`;
  for (let i = 0; i < 24; i++) src += `      - id: t_${g}_${i}\n        type: io.kestra.plugin.core.log.Log\n        message: "task ${g}.${i} of {{ flow.id }}"\n`;
}
await must('POST', '/flows', src, 'application/x-yaml');
const opens = [], draws = [], layouts = [];
let engine = '';
for (let r = 0; r < RUNS; r++) {
  await page.goto(`${BASE}/ui/flows`);
  await page.locator('h1').waitFor();
  let t0 = Date.now();
  await page.evaluate(() => { history.pushState(null, '', '/ui/flows/bench.ui/big500/editor'); dispatchEvent(new PopStateEvent('popstate')); });
  await page.locator('.lint-status.ok').waitFor();
  opens.push(Date.now() - t0);
  t0 = Date.now();
  await page.click('nav.tabs a:has-text("Topology")');
  await pageUntil(() => document.querySelectorAll('svg.graph g.node').length >= 500);
  await page.evaluate(() => new Promise(requestAnimationFrame));
  draws.push(Date.now() - t0);
  layouts.push(await page.evaluate(() => +(/layout (\d+) ms/.exec(document.querySelector('.graph-tools')?.textContent || '') || [0, NaN])[1]));
  engine = await page.evaluate(() => document.querySelector('svg.graph')?.getAttribute('data-layout') || '?');
}
const nodes = await page.evaluate(() => document.querySelectorAll('svg.graph g.node').length);
console.log(`ui: 500-task flow (${nodes} nodes): editor open + validate ${ms(median(opens))}, topology fetch + layout + draw ${ms(median(draws))} (layout and SVG ${ms(median(layouts))}, ${engine} layout), together ${ms(median(opens.map((o, i) => o + draws[i])))} (median of ${RUNS})`);

// ---- an execution of 10,000 task runs ------------------------------------------------------------
await must('POST', '/flows', `id: big_foreach
namespace: bench.ui
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 9999) }}"
    concurrencyLimit: 0
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
`, 'application/x-yaml');
const fx = await finished((await must('POST', '/executions/bench.ui/big_foreach')).id);
const runs = fx.taskRunList.length;
const gOpen = [], frames = [], longs = [];
for (let r = 0; r < RUNS; r++) {
  await page.goto(`${BASE}/ui/flows`);
  await page.locator('h1').waitFor();
  await longTasks();
  const t0 = Date.now();
  await page.evaluate(id => { history.pushState(null, '', `/ui/executions/${id}/gantt`); dispatchEvent(new PopStateEvent('popstate')); }, fx.id);
  await page.locator('.grow.group', { hasText: 'item' }).waitFor();
  gOpen.push(Date.now() - t0);
  await page.click('.grow.group:has-text("item")');
  await page.locator('.grow[data-task="item"]').first().waitFor();
  // scroll to the end in 1,500 px steps, one a frame; the longest frame is the figure
  const f = await page.evaluate(async () => {
    const el = document.querySelector('.vlist.gantt');
    const gaps = [];
    let last = performance.now();
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 2) {
      el.scrollTop += 1500;
      await new Promise(requestAnimationFrame);
      const now = performance.now(); gaps.push(now - last); last = now;
    }
    const rows = document.querySelectorAll('.vlist.gantt .vrow').length;
    return { max: Math.max(...gaps), avg: gaps.reduce((a, b) => a + b, 0) / gaps.length, n: gaps.length, rows };
  });
  frames.push(f);
  longs.push(Math.max(0, ...(await longTasks())));
}
console.log(`ui: execution of ${runs} task runs: Gantt open ${ms(median(gOpen))} (fetch, group, draw); scroll through ${frames[0].n} screens: frame avg ${ms(median(frames.map(f => f.avg)))}, longest ${ms(median(frames.map(f => f.max)))}, ${frames[0].rows} rows in the DOM; longest task ${ms(median(longs))} (median of ${RUNS})`);

// ---- 100,000 log lines: four tasks of 25,000 lines (a task logs 50,000 at most) -------------------
let lsrc = 'id: many_logs\nnamespace: bench.ui\ntasks:\n';
for (let i = 0; i < 4; i++) lsrc += `  - id: sh${i}\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - ${i === 0 ? 'sleep 3; ' : ''}seq 1 25000 | sed 's/^/log line ${i}./'\n`;
await must('POST', '/flows', lsrc, 'application/x-yaml');
const lrows = [];
for (let r = 0; r < Math.min(RUNS, 3); r++) {
  await page.goto(`${BASE}/ui/flows`);
  await page.locator('h1').waitFor();
  const x = await must('POST', '/executions/bench.ui/many_logs');
  await page.evaluate(id => { history.pushState(null, '', `/ui/executions/${id}/logs`); dispatchEvent(new PopStateEvent('popstate')); }, x.id);
  await page.locator('#log-live').waitFor();
  await longTasks();
  // event-loop lag: a 50 ms timer's lateness, while the lines come
  await page.evaluate(() => { window.__lag = 0; let t = performance.now(); window.__lagT = setInterval(() => { const n = performance.now(); window.__lag = Math.max(window.__lag, n - t - 50); t = n; }, 50); });
  const t0 = Date.now();
  const done = await finished(x.id);
  const run = (new Date(done.state.endDate) - new Date(done.state.startDate)) / 1000;
  const want = (await must('GET', `/logs/${x.id}`)).length;
  await pageUntil(n => (document.getElementById('log-count')?.textContent || '').includes(`of ${n} line`), want);
  const secs = (Date.now() - t0) / 1000;
  const lag = await page.evaluate(() => { clearInterval(window.__lagT); return window.__lag; });
  const lt = await longTasks();
  // still responsive: a search over every line, then back
  const s0 = Date.now();
  await page.fill('input[aria-label="search logs"]', 'line 3.24999');
  await pageUntil(() => /^1 of /.test(document.getElementById('log-count')?.textContent || ''));
  const search = Date.now() - s0;
  lrows.push({ want, run, secs, lag, longest: Math.max(0, ...lt), total: lt.reduce((a, b) => a + b, 0), count: lt.length, search });
}
const L = k => median(lrows.map(r => r[k]));
console.log(`ui: ${lrows[0].want} log lines streamed live: all shown ${L('secs').toFixed(1)} s after the start, the run itself ${L('run').toFixed(1)} s; longest task ${ms(L('longest'))}, ${L('count')} long tasks (${ms(L('total'))} in all), event-loop lag at most ${ms(L('lag'))}; a search over every line ${ms(L('search'))} (median of ${lrows.length})`);
await browser.close();
