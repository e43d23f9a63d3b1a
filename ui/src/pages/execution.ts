import { h, clear, banner, tabs, stateBadge, fmtDate, fmtDuration, isoDurationMs, toast, modal, download, debounce } from '../dom';
import * as api from '../api';
import { go, title, Ctx } from '../main';
import { virtualList } from '../virtual';
import { labelChips, labelsOf } from './common';
import { inputField } from './flow';

const ENDED = new Set(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'SKIPPED', 'RETRIED']);
const TABS = ['gantt', 'logs', 'outputs', 'overview'];
const t = (iso?: string) => (iso ? +new Date(iso) : NaN);
// Past this many task runs an execution comes without its taskRunList (GET
// /executions/{id}?taskRunsMax=): 10,000 runs are 8 MB the server takes ~2 s to
// build. The Gantt then reads the server's groups and a group's runs in pages.
const RUNS_MAX = 2000, PAGE = 500;
const paged = (x: any) => !Array.isArray(x.taskRunList) && x.taskRunCount > 0;

export async function executionPage(c: Ctx) {
  const id = c.params[0];
  const tab = TABS.includes(c.params[1]) ? c.params[1] : 'gantt';
  title(`Execution ${id} · ${tab}`);
  const base = `/ui/executions/${id}`;
  let x: any;
  try { x = await api.get(`/executions/${id}?taskRunsMax=${RUNS_MAX}`); } catch (e: any) { c.root.append(banner(e.message)); return; }
  title(`${x.namespace}.${x.flowId} ${id} · ${tab}`);
  const badge = h('span', { id: 'exec-state' }, stateBadge(x.state?.current));
  const dur = h('span', { class: 'muted' });
  const acts = h('span', { class: 'actions' });
  const lbl = h('span', null, labelChips(x.labels));
  c.root.append(
    h('div', { class: 'page-head' },
      h('h1', null, h('a', { href: `/ui/flows/${api.enc(x.namespace)}/${api.enc(x.flowId)}`, 'data-link': '' }, `${x.namespace}.${x.flowId}`), ' ', h('span', { class: 'mono small' }, id)),
      badge, dur, lbl, h('span', { class: 'spacer' }), acts),
    tabs(TABS.map(k => ({ id: k, label: k[0].toUpperCase() + k.slice(1), href: `${base}/${k}` })), tab));
  const body = h('section', { class: 'tab-body' });
  c.root.append(body);
  const listeners: ((x: any) => void)[] = [];
  const update = (nx: any) => {
    x = nx;
    clear(badge, stateBadge(x.state?.current));
    const st = x.state || {};
    dur.textContent = fmtDuration(isoDurationMs(st.duration) || (Date.now() - t(st.startDate)));
    clear(lbl, labelChips(x.labels));
    drawActions();
    listeners.forEach(f => f(x));
  };
  function act(label: string, run: () => Promise<any>, cls = '') {
    return h('button', { class: cls, onclick: async () => { try { await run(); } catch (e: any) { toast(e.message, 'error'); } } }, label);
  }
  function drawActions() {
    const s = x.state?.current;
    clear(acts,
      !ENDED.has(s) ? act('Kill', async () => { await api.json('DELETE', `/executions/${id}/kill`); toast('kill requested'); }, 'danger') : null,
      s === 'PAUSED' ? act('Resume…', async () => resume()) : null,
      ['FAILED', 'KILLED', 'WARNING'].includes(s) ? act('Restart', async () => { await api.json('POST', `/executions/${id}/restart`); toast('restarted'); follow(); }) : null,
      ENDED.has(s) ? act('Replay', async () => { const r = await api.json('POST', `/executions/${id}/replay`); go(`/executions/${r.id}`); }) : null,
      act('Labels…', async () => editLabels()),
      ENDED.has(s) ? act('Delete', async () => { await api.json('DELETE', `/executions/${id}`); toast('deleted'); go(`/flows/${api.enc(x.namespace)}/${api.enc(x.flowId)}/executions`); }, 'danger') : null);
  }
  async function resume() {
    // the Pause task's onResume inputs, from the flow's revision
    let inputs: any[] = [];
    try {
      const f = await api.get(`/flows/${api.enc(x.namespace)}/${api.enc(x.flowId)}?revision=${x.flowRevision}`);
      const paused = paged(x) ? (await api.get(`/executions/${id}/taskruns?state=PAUSED&size=1`)).results[0]
        : (x.taskRunList || []).find((r: any) => r.state?.current === 'PAUSED');
      const find = (ts: any[]): any => { for (const tk of ts || []) { if (tk.id === paused?.taskId) return tk; for (const k of ['tasks', 'then', 'else', 'errors', 'finally']) { const r = find(tk[k]); if (r) return r; } } };
      inputs = find(f.tasks)?.onResume || [];
    } catch { /* no inputs then */ }
    const fields = inputs.map(inputField);
    const out = h('div');
    modal('Resume', h('div', null, fields.length ? fields.map((f: any) => f.el) : h('p', null, 'The execution continues after its Pause task.'), out), [{
      label: 'Resume', primary: true, run: async () => {
        const fd = new FormData();
        if (fields.some((f: any) => f.add(fd))) return false;
        try { await api.json('POST', `/executions/${id}/resume`, fd); toast('resumed'); follow(); return true; } catch (e: any) { clear(out, banner(e.message)); return false; }
      }
    }]);
  }
  function editLabels() {
    const ta = h('textarea', { rows: 5, class: 'code' }, labelsOf(x.labels).map(l => `${l.key}:${l.value}`).join('\n')) as HTMLTextAreaElement;
    const out = h('div');
    modal('Labels', h('div', null, h('p', { class: 'muted small' }, 'key:value, one a line'), ta, out), [{
      label: 'Save', primary: true, run: async () => {
        const ls = ta.value.split('\n').map(s => s.trim()).filter(Boolean).map(s => { const i = s.indexOf(':'); return { key: s.slice(0, i), value: s.slice(i + 1) }; });
        if (ls.some(l => !l.key)) { clear(out, banner('each label is key:value')); return false; }
        try { const r = await api.json('POST', `/executions/${id}/labels`, ls); update(r && r.id ? r : { ...x, labels: ls }); toast('labels saved'); return true; }
        catch (e: any) { clear(out, banner(e.message)); return false; }
      }
    }]);
  }
  let stream: api.Stream | null = null;
  function follow() {
    stream?.close();
    stream = api.sse(`/executions/${id}/follow?taskRunsMax=${RUNS_MAX}`, (ev, data) => { if (ev === 'execution' || ev === 'message') { try { update(JSON.parse(data)); } catch { /* partial */ } } },
      e => { if (!ENDED.has(x.state?.current)) toast(`live updates stopped: ${e.message}`, 'error'); });
  }
  update(x);
  if (!ENDED.has(x.state?.current)) follow();
  const tick = setInterval(() => { if (!ENDED.has(x.state?.current)) { update(x); } }, 1000);
  let cleanupTab: (() => void) | void;
  if (tab === 'gantt') cleanupTab = paged(x) ? pagedGanttTab(body, x, listeners) : ganttTab(body, x, listeners);
  else if (tab === 'logs') cleanupTab = logsTab(body, x);
  else if (tab === 'outputs') outputsTab(body, x, listeners);
  else overviewTab(body, x, listeners);
  return () => { stream?.close(); clearInterval(tick); if (cleanupTab) cleanupTab(); };
}

// ---- Gantt -------------------------------------------------------------------------
interface Row { group?: string; runs: any[]; tr?: any; depth: number; }

function ganttTab(root: HTMLElement, x0: any, listeners: ((x: any) => void)[]) {
  let x = x0;
  const expanded = new Set<string>();
  let rows: Row[] = [];
  let t0 = 0, t1 = 1;
  const filter = h('input', { type: 'search', placeholder: 'filter task runs', 'aria-label': 'filter task runs', class: 'narrow' }) as HTMLInputElement;
  const info = h('span', { class: 'muted small' });
  const detail = h('div', { class: 'gantt-detail' });
  const axis = h('div', { class: 'gantt-axis' });
  const list = virtualList(28, i => renderRow(rows[i]), 'gantt');
  root.append(h('div', { class: 'filters' }, filter, info), axis, list.el, detail);
  function build() {
    const trs: any[] = x.taskRunList || [];
    const depth = new Map<string, number>();
    const byId = new Map(trs.map(r => [r.id, r]));
    const dOf = (r: any): number => { if (depth.has(r.id)) return depth.get(r.id)!; const p = r.parentTaskRunId && byId.get(r.parentTaskRunId); const d = p ? dOf(p) + 1 : 0; depth.set(r.id, d); return d; };
    const f = filter.value.toLowerCase();
    const groups = new Map<string, any[]>();
    for (const r of trs) { if (f && !(`${r.taskId} ${r.value ?? ''} ${r.state?.current}`.toLowerCase().includes(f))) continue; const k = `${r.parentTaskRunId || ''}/${r.taskId}`; let g = groups.get(k); if (!g) groups.set(k, g = []); g.push(r); }
    rows = [];
    // iterations of a task (a ForEach's many runs of one task) fold into one row
    for (const [k, g] of groups) {
      const d = dOf(g[0]);
      if (g.length > 1) { rows.push({ group: k, runs: g, depth: d }); if (expanded.has(k)) for (const r of g) rows.push({ tr: r, runs: [r], depth: d + 1 }); }
      else rows.push({ tr: g[0], runs: g, depth: d });
    }
    t0 = t(x.state?.startDate) || Math.min(...trs.map(r => t(r.state?.startDate)).filter(isFinite));
    t1 = t(x.state?.endDate) || Date.now();
    if (!(t1 > t0)) t1 = t0 + 1;
    info.textContent = `${trs.length} task run(s)${rows.length !== trs.length ? ` in ${rows.length} rows` : ''}`;
    const span = t1 - t0;
    clear(axis, h('span', null, ''), h('div', { class: 'ticks' }, [0, 0.25, 0.5, 0.75, 1].map(p => h('span', { style: { left: `${p * 100}%` } }, fmtDuration(span * p)))));
    list.setCount(rows.length);
    list.refresh();
  }
  const bar = (r: any) => barOf(r, t0, t1);
  function renderRow(row: Row) {
    if (row.group) {
      const g = row.runs;
      const counts: Record<string, number> = {};
      let a = Infinity, b = 0;
      for (const r of g) { counts[r.state?.current] = (counts[r.state?.current] || 0) + 1; a = Math.min(a, t(r.state?.startDate) || Infinity); b = Math.max(b, t(r.state?.endDate) || Date.now()); }
      const open = expanded.has(row.group);
      return groupRow(g[0].taskId, row.depth, g.length, counts, a, b, open, () => { open ? expanded.delete(row.group!) : expanded.add(row.group!); build(); }, bar);
    }
    return runRow(row.tr, row.depth, bar, () => showDetail(detail, x, row.tr));
  }
  listeners.push(nx => { x = nx; build(); });
  filter.addEventListener('input', debounce(build, 150));
  build();
  // time marks grow while it runs
  const tm = setInterval(() => { if (!ENDED.has(x.state?.current)) build(); }, 1000);
  return () => clearInterval(tm);
}

// the Gantt's rows: a group of the runs of one task (folded, with counts by
// state and their span) and one task run
function groupRow(taskId: string, depth: number, n: number, counts: Record<string, number>, a: number, b: number, open: boolean,
  toggle: () => void, bar: (r: any) => HTMLElement) {
  const worst = ['FAILED', 'KILLED', 'RUNNING', 'WARNING', 'CREATED', 'SUCCESS'].find(s => counts[s]) || 'SUCCESS';
  return h('div', { class: 'grow group', onclick: toggle },
    h('div', { class: 'glabel', style: { paddingLeft: `${depth * 14 + 4}px` } }, h('span', { class: 'twisty' }, open ? '▾ ' : '▸ '), taskId, h('span', { class: 'muted small' }, ` ×${n} · ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`)),
    h('div', { class: 'gtrack' }, bar({ state: { current: worst, startDate: new Date(a).toISOString(), endDate: new Date(b).toISOString() } })));
}

function runRow(r: any, depth: number, bar: (r: any) => HTMLElement, onclick: () => void) {
  return h('div', { class: 'grow', tabindex: -1, 'data-taskrun': r.id, 'data-task': r.taskId, onclick },
    h('div', { class: 'glabel', style: { paddingLeft: `${depth * 14 + 4}px` } }, r.taskId, r.value !== undefined && r.value !== null ? h('span', { class: 'muted small' }, ` ${String(r.value).slice(0, 40)}`) : null,
      (r.attempts || []).length > 1 ? h('span', { class: 'chip small' }, `${r.attempts.length} attempts`) : null),
    h('div', { class: 'gtrack' }, bar(r)));
}

function showDetail(detail: HTMLElement, x: any, r: any) {
  const st = r.state || {};
  clear(detail, h('h3', null, r.taskId, ' ', stateBadge(st.current)),
    h('div', { class: 'kv' }, h('span', null, 'task run'), h('span', { class: 'mono' }, r.id), h('span', null, 'started'), h('span', null, fmtDate(st.startDate)), h('span', null, 'duration'), h('span', null, fmtDuration(isoDurationMs(st.duration)))),
    h('div', { class: 'actions' },
      h('button', { onclick: async () => { try { const n = await api.json('POST', `/executions/${x.id}/replay${api.qs({ taskRunId: r.id })}`); go(`/executions/${n.id}`); } catch (e: any) { toast(e.message, 'error'); } } }, 'Replay from this task run'),
      h('a', { class: 'button', href: `/ui/executions/${x.id}/logs?taskId=${api.enc(r.taskId)}`, 'data-link': '' }, 'Its logs')),
    r.outputs ? outputsView(x, r.outputs) : null);
}

// A bar on the time line t0..t1 (ms) for a task run, its attempts inside it.
function barOf(r: any, t0: number, t1: number) {
  const st = r.state || {};
  const a = t(st.startDate), b = t(st.endDate) || (ENDED.has(st.current) ? a : Date.now());
  const left = ((a - t0) / (t1 - t0)) * 100, w = Math.max(0.3, ((b - a) / (t1 - t0)) * 100);
  const atts = (r.attempts || []).map((at: any, i: number) => {
    const h0 = at.state?.histories || [];
    const as = t(at.state?.startDate || h0[0]?.date), ae = t(at.state?.endDate || h0[h0.length - 1]?.date) || Date.now();
    if (!isFinite(as) || b <= a) return null;
    return h('span', { class: `attempt st-${String(at.state?.current || '').toLowerCase()}`, title: `attempt ${i + 1}: ${at.state?.current}`, style: { left: `${((as - a) / (b - a)) * 100}%`, width: `${Math.max(1, ((ae - as) / (b - a)) * 100)}%` } });
  });
  return h('div', { class: `bar st-${String(st.current || 'created').toLowerCase()}`, style: { left: `${Math.max(0, left)}%`, width: `${Math.min(100 - Math.max(0, left), w)}%` }, title: `${st.current} · ${fmtDuration(b - a)}` }, atts);
}

// ---- the Gantt of an execution too large to load whole ---------------------------------
// Rows from GET /executions/{id}/taskruns/groups; an unfolded group's runs are read
// PAGE at a time (GET .../taskruns?parentTaskRunId=&taskId=&page=) as they scroll into view.
interface PRow { g: any; i?: number; }
function pagedGanttTab(root: HTMLElement, x0: any, listeners: ((x: any) => void)[]) {
  let x = x0, groups: any[] = [], rows: PRow[] = [];
  const expanded = new Set<string>(), runs = new Map<string, any[]>(), loading = new Set<string>();
  let t0 = 0, t1 = 1;
  const key = (g: any) => `${g.parentTaskRunId || ''}/${g.taskId}`;
  const filter = h('input', { type: 'search', placeholder: 'filter tasks', 'aria-label': 'filter task runs', class: 'narrow' }) as HTMLInputElement;
  const info = h('span', { class: 'muted small' });
  const detail = h('div', { class: 'gantt-detail' });
  const axis = h('div', { class: 'gantt-axis' });
  const bar = (r: any) => barOf(r, t0, t1);
  const list = virtualList(28, i => renderRow(rows[i]), 'gantt');
  root.append(h('div', { class: 'filters' }, filter, info), axis, list.el, detail);
  function layout() {
    const f = filter.value.toLowerCase();
    rows = [];
    for (const g of groups) {
      if (f && !`${g.taskId} ${Object.keys(g.counts).join(' ')}`.toLowerCase().includes(f)) continue;
      rows.push({ g });
      if (g.count > 1 && expanded.has(key(g))) for (let i = 0; i < g.count; i++) rows.push({ g, i });
    }
    t0 = t(x.state?.startDate) || Math.min(...groups.map(g => t(g.startDate)).filter(isFinite));
    t1 = t(x.state?.endDate) || Date.now();
    if (!(t1 > t0)) t1 = t0 + 1;
    info.textContent = `${x.taskRunCount} task run(s) in ${groups.length} groups, read ${PAGE} at a time`;
    const span = t1 - t0;
    clear(axis, h('span', null, ''), h('div', { class: 'ticks' }, [0, 0.25, 0.5, 0.75, 1].map(p => h('span', { style: { left: `${p * 100}%` } }, fmtDuration(span * p)))));
    list.setCount(rows.length);
    list.refresh();
  }
  async function load() {
    try {
      const d = await api.get(`/executions/${x.id}/taskruns/groups`);
      const before = new Map(groups.map(g => [key(g), g.count]));
      groups = d.results || [];
      x = { ...x, taskRunCount: d.total };
      // a group that grew or still runs is read again
      for (const g of groups) if (before.get(key(g)) !== g.count || !Object.keys(g.counts).every(s => ENDED.has(s))) runs.delete(key(g));
      layout();
    } catch (e: any) { clear(detail, banner(e.message)); }
  }
  function page(g: any, i: number) {
    const k = key(g), p = Math.floor(i / PAGE), lk = `${k}#${p}`;
    if (loading.has(lk)) return;
    loading.add(lk);
    api.get(`/executions/${x.id}/taskruns${api.qs({ parentTaskRunId: g.parentTaskRunId || '', taskId: g.taskId, page: p + 1, size: PAGE })}`)
      .then((d: any) => { let a = runs.get(k); if (!a) runs.set(k, a = []); (d.results || []).forEach((r: any, j: number) => { a![p * PAGE + j] = r; }); list.refresh(); })
      .catch((e: any) => toast(e.message, 'error'))
      .finally(() => loading.delete(lk));
  }
  function renderRow(row: PRow) {
    const g = row.g;
    if (row.i === undefined) {
      if (g.count === 1 && g.taskRun) return runRow(g.taskRun, g.depth, bar, () => showDetail(detail, x, g.taskRun));
      const open = expanded.has(key(g));
      return groupRow(g.taskId, g.depth, g.count, g.counts, t(g.startDate), t(g.endDate) || Date.now(), open, () => { open ? expanded.delete(key(g)) : expanded.add(key(g)); layout(); }, bar);
    }
    const r = runs.get(key(g))?.[row.i];
    if (!r) { page(g, row.i); return h('div', { class: 'grow loading' }, h('div', { class: 'glabel muted small', style: { paddingLeft: `${(g.depth + 1) * 14 + 4}px` } }, `${g.taskId} #${row.i + 1} …`), h('div', { class: 'gtrack' })); }
    return runRow(r, g.depth + 1, bar, () => showDetail(detail, x, r));
  }
  listeners.push(nx => { x = { ...nx, taskRunCount: nx.taskRunCount ?? x.taskRunCount }; load(); });
  filter.addEventListener('input', debounce(layout, 150));
  load();
  const tm = setInterval(() => { if (!ENDED.has(x.state?.current)) load(); }, 2000);
  return () => clearInterval(tm);
}

// ---- logs --------------------------------------------------------------------------
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
function logsTab(root: HTMLElement, x: any) {
  const all: any[] = [];
  let shown: number[] = [];
  const q = new URLSearchParams(location.search);
  const level = h('select', { 'aria-label': 'minimum level' }, LEVELS.map(l => h('option', { value: l, selected: l === (q.get('minLevel') || 'TRACE') }, `≥ ${l}`))) as HTMLSelectElement;
  const task = h('select', { 'aria-label': 'task' }, h('option', { value: '' }, 'All tasks')) as HTMLSelectElement;
  const search = h('input', { type: 'search', placeholder: 'search the logs', 'aria-label': 'search logs', class: 'narrow' }) as HTMLInputElement;
  const count = h('span', { class: 'muted small', id: 'log-count' }, '');
  const live = h('span', { class: 'chip', id: 'log-live' }, 'connecting');
  const tasks = new Set<string>();
  const wantTask = q.get('taskId') || '';
  if (wantTask) { tasks.add(wantTask); task.append(h('option', { value: wantTask, selected: true }, wantTask)); }
  const list = virtualList(20, i => {
    const l = all[shown[i]];
    return h('div', { class: `logline lv-${String(l.level).toLowerCase()}` }, h('span', { class: 'ts' }, fmtDate(l.timestamp).slice(11)), h('span', { class: 'lv' }, l.level), h('span', { class: 'tk' }, l.taskId || ''), h('span', { class: 'msg' }, l.message));
  }, 'logs');
  const copy = h('button', { class: 'small', onclick: async () => { await navigator.clipboard?.writeText(shown.map(i => fmt(all[i])).join('\n')); toast(`${shown.length} line(s) copied`); } }, 'Copy');
  const dl = h('button', { class: 'small', onclick: async () => { try { const r = await api.raw('GET', `/logs/${x.id}/download`); download(`${x.id}.log`, await r.blob()); } catch { download(`${x.id}.log`, all.map(fmt).join('\n')); } } }, 'Download');
  root.append(h('div', { class: 'filters' }, level, task, search, live, count, h('span', { class: 'spacer' }), copy, dl), list.el);
  const fmt = (l: any) => `${l.timestamp} ${l.level} ${l.taskId || '-'} ${l.message}`;
  const lvIdx = (l: string) => LEVELS.indexOf(l);
  let minLv = lvIdx(level.value), tk = wantTask, needle = '';
  const keep = (l: any) => lvIdx(l.level) >= minLv && (!tk || l.taskId === tk) && (!needle || String(l.message).toLowerCase().includes(needle));
  const refilter = () => { minLv = lvIdx(level.value); tk = task.value; needle = search.value.toLowerCase(); shown = []; for (let i = 0; i < all.length; i++) if (keep(all[i])) shown.push(i); list.setCount(shown.length); list.refresh(); count.textContent = `${shown.length} of ${all.length} line(s)`; };
  level.addEventListener('change', refilter); task.addEventListener('change', refilter); search.addEventListener('input', debounce(refilter, 200));
  let pending: any[] = [], raf = 0;
  const flush = () => {
    raf = 0;
    for (const l of pending) {
      all.push(l);
      if (l.taskId && !tasks.has(l.taskId)) { tasks.add(l.taskId); task.append(h('option', { value: l.taskId }, l.taskId)); }
      if (keep(l)) shown.push(all.length - 1);
    }
    pending = [];
    list.setCount(shown.length, true);
    count.textContent = `${shown.length} of ${all.length} line(s)`;
  };
  // An ended execution's lines in one GET (the follow stream polls 1,000 lines every
  // 200 ms: 50,000 lines take 10 s that way, 1 s this way); a running one is followed.
  // GET answers 100,000 lines at most: past that the stream has them all.
  let st: api.Stream | null = null;
  const follow = () => {
    st = api.sse(`/logs/${x.id}/follow`, (ev, data) => {
      if (ev !== 'log' && ev !== 'message') return;
      try { pending.push(JSON.parse(data)); } catch { return; }
      if (!raf) raf = requestAnimationFrame(flush);
    }, e => { live.textContent = 'stopped'; live.className = 'chip warn'; toast(`logs: ${e.message}`, 'error'); });
    live.textContent = 'live'; live.className = 'chip ok';
    st.done.then(() => { if (live.textContent === 'live') { live.textContent = 'complete'; live.className = 'chip'; } });
  };
  let gone = false;
  if (ENDED.has(x.state?.current)) {
    live.textContent = 'loading';
    api.get(`/logs/${x.id}`).then((d: any) => {
      if (gone) return;
      if (!Array.isArray(d) || d.length >= 100000) { follow(); return; }
      for (const l of d) pending.push(l);
      flush();
      live.textContent = 'complete'; live.className = 'chip';
    }).catch(() => { if (!gone) follow(); });
  } else follow();
  list.el.focus();
  return () => { gone = true; st?.close(); };
}

// ---- outputs -----------------------------------------------------------------------
function isFileUri(v: any) { return typeof v === 'string' && /^kite:\/\/|^kestra:\/\//.test(v); }

export function outputsView(x: any, outputs: any): HTMLElement {
  const box = h('div', { class: 'outputs' });
  const walk = (v: any, path: string): HTMLElement => {
    if (isFileUri(v)) return h('span', null, h('span', { class: 'mono small' }, v), ' ', filePreviewButton(x, v));
    if (v && typeof v === 'object') return h('ul', { class: 'tree' }, Object.keys(v).map(k => h('li', null, h('span', { class: 'key' }, k + ': '), walk(v[k], `${path}.${k}`))));
    return h('span', { class: 'val' }, JSON.stringify(v));
  };
  box.append(walk(outputs, ''));
  return box;
}

function filePreviewButton(x: any, uri: string) {
  const url = `/executions/${x.id}/file${api.qs({ path: uri })}`;
  const name = uri.split('/').pop() || 'file';
  return h('span', null,
    h('button', { class: 'small', onclick: async () => { const out = h('div', { class: 'preview' }, 'loading…'); modal(name, out, []); try { await preview(out, url, name); } catch (e: any) { clear(out, banner(e.message)); } } }, 'Preview'),
    h('button', { class: 'small', onclick: async () => { try { const r = await api.raw('GET', url); download(name, await r.blob()); } catch (e: any) { toast(e.message, 'error'); } } }, 'Download'));
}

async function preview(out: HTMLElement, url: string, name: string) {
  const r = await api.raw('GET', url);
  const ct = r.headers.get('Content-Type') || '';
  const ext = (name.split('.').pop() || '').toLowerCase();
  if (ct.startsWith('image/') || ['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp'].includes(ext)) { const b = await r.blob(); clear(out, h('img', { src: URL.createObjectURL(b), alt: name, class: 'img-preview' })); return; }
  const text = (await r.text()).slice(0, 512 * 1024);
  const table = (rows: string[][]) => h('div', { class: 'table-scroll' }, h('table', { class: 'list small' }, h('thead', null, h('tr', null, rows[0].map(c => h('th', null, c)))), h('tbody', null, rows.slice(1, 1000).map(r => h('tr', null, r.map(c => h('td', null, c)))))));
  if (ext === 'csv') { clear(out, table(csvRows(text))); return; }
  if (ext === 'ion' || ext === 'jsonl' || ext === 'ndjson') {
    const recs = text.split('\n').filter(Boolean).slice(0, 1000).map(l => { try { return JSON.parse(l); } catch { return ionLine(l); } });
    if (recs.length && recs.every(r => r && typeof r === 'object' && !Array.isArray(r))) {
      const keys = [...new Set(recs.flatMap(r => Object.keys(r)))];
      clear(out, table([keys, ...recs.map(r => keys.map(k => (r[k] === undefined ? '' : typeof r[k] === 'object' ? JSON.stringify(r[k]) : String(r[k]))))]));
      return;
    }
  }
  if (ext === 'json' || ct.includes('json')) { try { clear(out, h('pre', { class: 'code' }, JSON.stringify(JSON.parse(text), null, 2))); return; } catch { /* as text */ } }
  clear(out, h('pre', { class: 'code' }, text));
}

function csvRows(text: string): string[][] {
  const rows: string[][] = []; let row: string[] = [], f = '', q = false;
  for (let i = 0; i < text.length && rows.length < 1001; i++) {
    const ch = text[i];
    if (q) { if (ch === '"') { if (text[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += ch; }
    else if (ch === '"') q = true;
    else if (ch === ',') { row.push(f); f = ''; }
    else if (ch === '\n') { row.push(f.replace(/\r$/, '')); rows.push(row); row = []; f = ''; }
    else f += ch;
  }
  if (f || row.length) { row.push(f); rows.push(row); }
  return rows.length ? rows : [['(empty)']];
}

// Ion text of one flat struct ({a:1,b:"x"}), enough for previews
function ionLine(l: string): any {
  const m = /^\{(.*)\}$/.exec(l.trim());
  if (!m) return l;
  const o: any = {};
  for (const part of m[1].match(/("(?:[^"\\]|\\.)*"|[^,])+/g) || []) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    const k = part.slice(0, i).trim().replace(/^'|'$/g, '').replace(/^"|"$/g, '');
    const v = part.slice(i + 1).trim();
    try { o[k] = JSON.parse(v); } catch { o[k] = v; }
  }
  return o;
}

function outputsTab(root: HTMLElement, x0: any, listeners: ((x: any) => void)[]) {
  const draw = async (x: any) => {
    // a large execution: the outputs of its first PAGE task runs (the Gantt has each one's)
    const all = paged(x) ? ((await api.get(`/executions/${x.id}/taskruns?size=${PAGE}`).catch(() => ({}))).results || []) : x.taskRunList || [];
    const trs = all.filter((r: any) => r.outputs && Object.keys(r.outputs).length);
    clear(root,
      paged(x) ? h('p', { class: 'muted small' }, `the outputs of the first ${PAGE} of ${x.taskRunCount} task runs; the Gantt shows each one's`) : null,
      x.outputs ? h('div', { class: 'card' }, h('h3', null, 'Flow outputs'), outputsView(x, x.outputs)) : null,
      trs.length ? trs.slice(0, 500).map((r: any) => h('div', { class: 'card' }, h('h3', null, r.taskId, r.value !== undefined && r.value !== null ? h('span', { class: 'muted small' }, ` ${r.value}`) : null, ' ', stateBadge(r.state?.current)), outputsView(x, r.outputs))) : h('p', { class: 'empty' }, 'No task run has outputs yet.'));
  };
  listeners.push(draw);
  draw(x0);
}

function overviewTab(root: HTMLElement, x0: any, listeners: ((x: any) => void)[]) {
  const draw = (x: any) => {
    const st = x.state || {};
    clear(root, h('div', { class: 'kv' },
      h('span', null, 'State'), h('span', null, stateBadge(st.current)),
      h('span', null, 'Started'), h('span', null, fmtDate(st.startDate)),
      h('span', null, 'Ended'), h('span', null, fmtDate(st.endDate)),
      h('span', null, 'Duration'), h('span', null, fmtDuration(isoDurationMs(st.duration))),
      h('span', null, 'Revision'), h('span', null, String(x.flowRevision ?? '')),
      h('span', null, 'Labels'), h('span', null, labelChips(x.labels))),
      h('h3', null, 'Inputs'), x.inputs ? outputsView(x, x.inputs) : h('p', { class: 'muted' }, 'none'),
      h('h3', null, 'State history'), h('ul', null, (st.histories || []).map((s: any) => h('li', null, fmtDate(s.date), ' ', stateBadge(s.state)))));
  };
  listeners.push(draw);
  draw(x0);
}
