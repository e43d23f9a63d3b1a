import { h, clear, banner, tabs, toast, fmtDate, stateBadge } from '../dom';
import * as api from '../api';
import { go, title, Ctx } from '../main';
import { flowEditor, FlowEditor } from '../editor';
import { graphOf, drawGraph, FlowGraph } from '../graph';
import { executionsList } from './executions';
import { labelChips } from './common';

const BLANK = `id: my_flow
namespace: company.team

description: A new flow

inputs:
  - id: name
    type: STRING
    defaults: world

tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}"
`;

const TABS = ['editor', 'topology', 'execute', 'executions', 'triggers', 'revisions', 'dependencies'];

export function newFlowPage(c: Ctx) {
  title('New flow');
  c.root.append(h('div', { class: 'page-head' }, h('h1', null, 'New flow'), h('span', { class: 'muted' }, 'Ctrl/Cmd-S creates it')));
  return editorTab(c.root, null, c.query.get('template') === 'none' ? '' : BLANK);
}

export async function flowPage(c: Ctx) {
  const [ns, id] = c.params;
  const tab = TABS.includes(c.params[2]) ? c.params[2] : 'editor';
  title(`${ns}.${id} · ${tab}`);
  const base = `/ui/flows/${api.enc(ns)}/${api.enc(id)}`;
  const head = h('div', { class: 'page-head' },
    h('h1', null, h('span', { class: 'muted' }, ns + ' / '), id),
    h('span', { class: 'spacer' }),
    h('a', { class: 'button primary', href: `${base}/execute`, 'data-link': '' }, '▶ Execute'));
  c.root.append(head, tabs(TABS.map(t => ({ id: t, label: t[0].toUpperCase() + t.slice(1), href: `${base}/${t}` })), tab));
  const body = h('section', { class: 'tab-body' });
  c.root.append(body);
  let flow: any;
  try { flow = await api.get(`/flows/${api.enc(ns)}/${api.enc(id)}`); }
  catch (e: any) { body.append(banner(e.message)); return; }
  if (flow.disabled) head.insertBefore(h('span', { class: 'chip warn' }, 'disabled'), head.children[1]);
  head.insertBefore(h('span', { class: 'meta' }, `revision ${flow.revision}`, labelChips(flow.labels)), head.children[1]);
  switch (tab) {
    case 'editor': return editorTab(body, flow, flow.source || '');
    case 'topology': return topologyTab(body, flow);
    case 'execute': return executeTab(body, flow);
    case 'executions': return executionsList(body, { namespace: ns, flowId: id, embedded: true, query: c.query });
    case 'triggers': return triggersTab(body, flow);
    case 'revisions': return revisionsTab(body, flow);
    case 'dependencies': return dependenciesTab(body, flow);
  }
}

// ---- editor -----------------------------------------------------------------------
function editorTab(root: HTMLElement, flow: any | null, src: string) {
  const status = h('div', { class: 'lint-status', 'aria-live': 'polite' }, 'validating…');
  const saveBtn = h('button', { class: 'primary', title: 'Save (Ctrl/Cmd-S)' }, flow ? 'Save' : 'Create');
  const host = h('div', { class: 'editor', 'data-testid': 'editor' });
  let dirty = false;
  const bar = h('div', { class: 'toolbar' }, saveBtn, status);
  root.append(bar, host);
  async function save(text: string) {
    const r = ed.last();
    saveBtn.disabled = true;
    try {
      const f = flow ? await api.yaml('PUT', `/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}`, text) : await api.yaml('POST', '/flows', text);
      dirty = false;
      toast(flow ? `saved: revision ${f.revision}` : `created ${f.namespace}.${f.id}`);
      if (!flow || f.id !== flow.id || f.namespace !== flow.namespace) go(`/flows/${api.enc(f.namespace)}/${api.enc(f.id)}/editor`);
      else { flow = f; status.textContent = `saved · revision ${f.revision}`; status.className = 'lint-status ok'; }
    } catch (e: any) {
      const errs = e.body?.errors;
      status.className = 'lint-status err';
      status.textContent = `not saved: ${errs?.length ? errs.map((x: any) => `${x.line}:${x.column}: ${x.message}`).join('; ') : e.message}`;
      if (r) ed.lintNow();
    } finally { saveBtn.disabled = false; }
  }
  const ed: FlowEditor = flowEditor(host, src, {
    onSave: save,
    onChange: () => { dirty = true; status.textContent = 'validating…'; status.className = 'lint-status'; },
    onLint: r => {
      if (!r.messages.length) { status.className = 'lint-status ok'; status.textContent = dirty ? '✓ valid (not saved)' : '✓ valid'; }
      else { status.className = 'lint-status err'; status.textContent = `${r.diagnostics.filter(d => d.severity === 'error').length} error(s): ${r.messages[0]}`; }
    },
  });
  (window as any).__kiteEditor = ed.view;
  saveBtn.addEventListener('click', () => save(ed.view.state.doc.toString()));
  ed.view.focus();
  const warn = (e: BeforeUnloadEvent) => { if (dirty) { e.preventDefault(); e.returnValue = ''; } };
  window.addEventListener('beforeunload', warn);
  return () => { window.removeEventListener('beforeunload', warn); ed.view.destroy(); };
}

// ---- topology ---------------------------------------------------------------------
async function topologyTab(root: HTMLElement, flow: any) {
  let g: FlowGraph;
  try {
    g = await api.get(`/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}/graph`);
    if (!g || !Array.isArray(g.nodes)) throw new Error('the graph route answered no nodes');
  } catch (e: any) {
    root.append(banner(`the server's graph (GET /flows/{namespace}/{id}/graph) is not available (${e.message}): drawn from the flow's tasks`, 'info'));
    g = graphOf(flow);
  }
  root.append(drawGraph(g, undefined, n => { if (n.task?.id) toast(`${n.task.id}: ${n.task.type}`); }));
}

// ---- execute ----------------------------------------------------------------------
export function inputField(inp: any): { el: HTMLElement; add(fd: FormData): string | null } {
  const id = `in-${inp.id}`;
  const t = String(inp.type || 'STRING').toUpperCase();
  const def = inp.defaults ?? inp.prefill;
  const req = inp.required !== false && def === undefined;
  let ctl: HTMLElement, add: (fd: FormData) => string | null;
  const input = (type: string, extra: any = {}) => h('input', { id, name: inp.id, type, ...extra });
  switch (t) {
    case 'BOOLEAN': case 'BOOL': {
      const c = input('checkbox', { checked: def === true || def === 'true' }) as HTMLInputElement;
      ctl = h('label', { class: 'check' }, c, ' true');
      add = fd => { fd.append(inp.id, String(c.checked)); return null; };
      break;
    }
    case 'SELECT': case 'ENUM': {
      const sel = h('select', { id, name: inp.id }, req ? h('option', { value: '' }, '— choose —') : h('option', { value: '' }, '(none)'),
        (inp.values || []).map((v: any) => h('option', { value: String(v), selected: String(v) === String(def) }, String(v)))) as HTMLSelectElement;
      if (inp.allowCustomValue) { const o = input('text', { placeholder: 'or a custom value', class: 'narrow' }) as HTMLInputElement; ctl = h('span', null, sel, o); add = fd => { const v = o.value || sel.value; if (v) fd.append(inp.id, v); return !v && req ? 'choose a value' : null; }; }
      else { ctl = sel; add = fd => { if (sel.value) fd.append(inp.id, sel.value); return !sel.value && req ? 'choose a value' : null; }; }
      break;
    }
    case 'MULTISELECT': {
      const defs = new Set(Array.isArray(def) ? def.map(String) : []);
      const boxes = (inp.values || inp.options || []).map((v: any) => { const c = h('input', { type: 'checkbox', value: String(v), checked: defs.has(String(v)) }) as HTMLInputElement; return { v: String(v), c }; });
      ctl = h('div', { class: 'multi', id, role: 'group' }, boxes.map((b: any) => h('label', { class: 'check' }, b.c, ' ' + b.v)));
      add = fd => { const vals = boxes.filter((b: any) => b.c.checked).map((b: any) => b.v); if (vals.length || !req) fd.append(inp.id, JSON.stringify(vals)); return !vals.length && req ? 'choose at least one value' : null; };
      break;
    }
    case 'INT': case 'FLOAT': {
      const c = input('number', { step: t === 'INT' ? '1' : 'any', value: def ?? '', min: inp.min, max: inp.max }) as HTMLInputElement;
      ctl = c; add = fd => { if (c.value !== '') fd.append(inp.id, c.value); return req && c.value === '' ? 'a number is needed' : null; };
      break;
    }
    case 'DATETIME': case 'DATE': case 'TIME': {
      const c = input(t === 'DATETIME' ? 'datetime-local' : t.toLowerCase(), { step: t === 'DATE' ? undefined : '1' }) as HTMLInputElement;
      if (def) c.value = t === 'DATETIME' ? String(def).replace(/Z$/, '').slice(0, 19) : String(def);
      ctl = c;
      add = fd => {
        if (!c.value) return req ? 'a value is needed' : null;
        fd.append(inp.id, t === 'DATETIME' ? new Date(c.value).toISOString() : c.value);
        return null;
      };
      break;
    }
    case 'FILE': {
      const c = input('file') as HTMLInputElement;
      ctl = c; add = fd => { const f = c.files?.[0]; if (f) fd.append(inp.id, f, f.name); return req && !f ? 'choose a file' : null; };
      break;
    }
    case 'JSON': case 'YAML': case 'ARRAY': {
      const c = h('textarea', { id, name: inp.id, rows: 4, class: 'code', placeholder: t === 'ARRAY' ? '["a", "b"]' : t === 'JSON' ? '{"key": "value"}' : 'key: value' }) as HTMLTextAreaElement;
      if (def !== undefined) c.value = typeof def === 'string' ? def : JSON.stringify(def, null, 2);
      ctl = c;
      add = fd => {
        if (!c.value.trim()) return req ? 'a value is needed' : null;
        if (t !== 'YAML') { try { JSON.parse(c.value); } catch (e: any) { return `not JSON: ${e.message}`; } }
        fd.append(inp.id, c.value); return null;
      };
      break;
    }
    case 'SECRET': { const c = input('password', { autocomplete: 'off' }) as HTMLInputElement; ctl = c; add = fd => { if (c.value) fd.append(inp.id, c.value); return req && !c.value ? 'a value is needed' : null; }; break; }
    default: {
      const c = input(t === 'EMAIL' ? 'email' : t === 'URI' ? 'url' : 'text', { value: def ?? '', placeholder: t === 'DURATION' ? 'PT5M' : '' }) as HTMLInputElement;
      ctl = c; add = fd => { if (c.value !== '') fd.append(inp.id, c.value); return req && c.value === '' ? 'a value is needed' : null; };
    }
  }
  const err = h('div', { class: 'field-error', id: `${id}-error` });
  ctl.addEventListener('input', () => { err.textContent = ''; }); // an error stays only until the value changes
  const el = h('div', { class: 'field', 'data-input': inp.id },
    h('label', { for: id }, inp.displayName || inp.id, req ? h('span', { class: 'req', title: 'required' }, ' *') : null, h('span', { class: 'type' }, t)),
    inp.description ? h('div', { class: 'muted small' }, inp.description) : null, ctl, err);
  return { el, add: fd => { const m = add(fd); err.textContent = m || ''; return m; } };
}

function executeTab(root: HTMLElement, flow: any) {
  const fields = (flow.inputs || []).map(inputField);
  const labels = h('textarea', { id: 'exec-labels', rows: 2, class: 'code', placeholder: 'key:value, one a line' }) as HTMLTextAreaElement;
  const err = h('div');
  const btn = h('button', { class: 'primary', type: 'submit' }, '▶ Execute');
  const form = h('form', {
    class: 'exec-form', onsubmit: async (e: Event) => {
      e.preventDefault();
      err.textContent = '';
      const fd = new FormData();
      let bad = 0;
      for (const f of fields) if (f.add(fd)) bad++;
      if (bad) return;
      const ls = labels.value.split(/\n|,/).map(x => x.trim()).filter(Boolean);
      for (const l of ls) if (!/^[^:]+:.*$/.test(l)) { err.append(banner(`label '${l}' is not key:value`)); return; }
      btn.disabled = true;
      try {
        const x = await api.json('POST', `/executions/${api.enc(flow.namespace)}/${api.enc(flow.id)}${api.qs({ labels: ls })}`, fd);
        go(`/executions/${x.id}`);
      } catch (x: any) {
        const m = /input '([^']+)'/.exec(x.message || '');
        const fe = m && form.querySelector(`[data-input="${CSS.escape(m[1])}"] .field-error`);
        if (fe) fe.textContent = x.message; else err.append(banner(x.message));
        btn.disabled = false;
      }
    }
  },
    fields.length ? fields.map((f: any) => f.el) : h('p', { class: 'muted' }, 'This flow has no inputs.'),
    h('div', { class: 'field' }, h('label', { for: 'exec-labels' }, 'Labels'), labels),
    err, h('div', { class: 'actions' }, btn));
  root.append(form);
  (form.querySelector('input,select,textarea') as HTMLElement | null)?.focus();
}

// ---- triggers ---------------------------------------------------------------------
export async function triggersTable(root: HTMLElement, q: { namespace?: string; flowId?: string }) {
  const d = await api.get(`/triggers/search${api.qs({ ...q, size: 1000 })}`);
  const rows = (d.results || []).filter((r: any) => !q.flowId || r.triggerContext?.flowId === q.flowId);
  if (!rows.length) { root.append(h('p', { class: 'empty' }, 'No trigger.')); return; }
  const tb = h('tbody');
  for (const r of rows) {
    const t = r.abstractTrigger || {}, c = r.triggerContext || {};
    const box = h('input', { type: 'checkbox', checked: !c.disabled, 'aria-label': `enable ${c.triggerId}`, 'data-trigger': c.triggerId }) as HTMLInputElement;
    const state = h('span', { class: c.disabled ? 'chip warn' : 'chip ok' }, c.disabled ? 'disabled' : 'enabled');
    box.addEventListener('change', async () => {
      box.disabled = true;
      try {
        await api.json('PUT', '/triggers', { namespace: c.namespace, flowId: c.flowId, triggerId: c.triggerId, disabled: !box.checked });
        state.textContent = box.checked ? 'enabled' : 'disabled'; state.className = box.checked ? 'chip ok' : 'chip warn';
        toast(`${c.triggerId} ${box.checked ? 'enabled' : 'disabled'}`);
      } catch (e: any) { box.checked = !box.checked; toast(e.message, 'error'); }
      box.disabled = false;
    });
    const backfill = /Schedule$/.test(t.type || '') ? h('button', {
      class: 'small', onclick: () => {
        const start = h('input', { type: 'datetime-local', step: 1 }) as HTMLInputElement, end = h('input', { type: 'datetime-local', step: 1 }) as HTMLInputElement;
        const out = h('div');
        import('../dom').then(({ modal }) => modal(`Backfill ${c.triggerId}`, h('div', null, h('label', null, 'From'), start, h('label', null, 'To'), end, out), [{
          label: 'Backfill', primary: true, run: async () => {
            try {
              const x = await api.json('PUT', '/triggers', { namespace: c.namespace, flowId: c.flowId, triggerId: c.triggerId, backfill: { start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString() } });
              toast(`${x?.backfillExecutions ?? 0} execution(s) created`); return true;
            } catch (e: any) { clear(out, banner(e.message)); return false; }
          }
        }]));
      }
    }, 'Backfill…') : null;
    tb.append(h('tr', null,
      h('td', null, c.triggerId), h('td', null, h('a', { href: `/ui/flows/${api.enc(c.namespace)}/${api.enc(c.flowId)}/triggers`, 'data-link': '' }, `${c.namespace}.${c.flowId}`)),
      h('td', { class: 'small' }, t.type), h('td', { class: 'small' }, t.cron || t.key ? (t.cron || 'webhook') : ''),
      h('td', null, fmtDate(c.date)), h('td', null, fmtDate(c.nextExecutionDate)),
      h('td', null, h('label', { class: 'switch' }, box, state), c.lastError ? h('div', { class: 'field-error' }, c.lastError) : null), h('td', null, backfill)));
  }
  root.append(h('table', { class: 'list' }, h('thead', null, h('tr', null, ['Trigger', 'Flow', 'Type', 'Schedule', 'Last fired', 'Next', 'Enabled', ''].map(x => h('th', null, x)))), tb));
}

async function triggersTab(root: HTMLElement, flow: any) {
  try { await triggersTable(root, { namespace: flow.namespace, flowId: flow.id }); } catch (e: any) { root.append(banner(e.message)); }
}

// ---- revisions --------------------------------------------------------------------
export function diffLines(a: string[], b: string[]): { op: ' ' | '-' | '+'; text: string }[] {
  const n = a.length, m = b.length;
  if (n * m > 4e6) return [...a.map(t => ({ op: '-' as const, text: t })), ...b.map(t => ({ op: '+' as const, text: t }))];
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out: { op: ' ' | '-' | '+'; text: string }[] = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push({ op: ' ', text: a[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', text: a[i++] });
    else out.push({ op: '+', text: b[j++] });
  }
  while (i < n) out.push({ op: '-', text: a[i++] });
  while (j < m) out.push({ op: '+', text: b[j++] });
  return out;
}

async function revisionsTab(root: HTMLElement, flow: any) {
  let revs: any[];
  try { const d = await api.get(`/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}/revisions`); revs = Array.isArray(d) ? d : d.results || []; }
  catch (e: any) { root.append(banner(e.message)); return; }
  const left = h('select', { 'aria-label': 'older revision' }) as HTMLSelectElement, right = h('select', { 'aria-label': 'newer revision' }) as HTMLSelectElement;
  for (const r of revs) { left.append(h('option', { value: String(r.revision) }, `revision ${r.revision}${r.deleted ? ' (deleted)' : ''}`)); right.append(h('option', { value: String(r.revision) }, `revision ${r.revision}${r.deleted ? ' (deleted)' : ''}`)); }
  if (revs.length > 1) left.value = String(revs[revs.length - 2].revision);
  right.value = String(revs[revs.length - 1]?.revision);
  const out = h('div', { class: 'diff' });
  const srcOf = async (rev: string) => { const r = revs.find(x => String(x.revision) === rev); return r?.source ?? (await api.get(`/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}?revision=${rev}`)).source ?? ''; };
  async function show() {
    const [a, b] = await Promise.all([srcOf(left.value), srcOf(right.value)]);
    const d = diffLines(a.split('\n'), b.split('\n'));
    const adds = d.filter(x => x.op === '+').length, dels = d.filter(x => x.op === '-').length;
    clear(out, h('div', { class: 'muted small' }, `+${adds} −${dels}`), h('pre', { class: 'diff-body' }, d.map(x => h('div', { class: x.op === '+' ? 'add' : x.op === '-' ? 'del' : '' }, `${x.op} ${x.text}`))));
  }
  const restore = h('button', {
    onclick: async () => {
      try { const f = await api.yaml('PUT', `/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}`, await srcOf(left.value)); toast(`revision ${left.value} restored as revision ${f.revision}`); go(`/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}/revisions`, true); }
      catch (e: any) { toast(e.message, 'error'); }
    }
  }, 'Restore the left one');
  left.addEventListener('change', show); right.addEventListener('change', show);
  root.append(h('div', { class: 'filters' }, left, h('span', null, '→'), right, restore), out);
  await show();
}

// ---- dependencies -----------------------------------------------------------------
async function dependenciesTab(root: HTMLElement, flow: any) {
  // Kestra's FlowTopologyGraph: nodes {uid, namespace, id}, edges {source, target, relation}
  // with relation FLOW_TASK (source calls target) or FLOW_TRIGGER (source's end starts target)
  let d: { nodes: { uid: string; namespace: string; id: string }[]; edges: { source: string; target: string; relation: string }[] };
  try { d = await api.get(`/flows/${api.enc(flow.namespace)}/${api.enc(flow.id)}/dependencies`); }
  catch (e: any) { root.append(banner(`dependencies: ${e.message}`)); return; }
  const byUid = new Map(d.nodes.map(n => [n.uid, n]));
  const link = (u: string) => { const n = byUid.get(u); return n ? h('a', { href: `/ui/flows/${api.enc(n.namespace)}/${api.enc(n.id)}/dependencies`, 'data-link': '' }, `${n.namespace}.${n.id}`) : u; };
  const me = d.nodes.find(x => x.namespace === flow.namespace && x.id === flow.id)?.uid;
  const what: Record<string, string> = { FLOW_TASK: 'subflow', FLOW_TRIGGER: 'flow trigger' };
  const list = (es: typeof d.edges, end: 'source' | 'target') => es.length
    ? h('ul', null, es.map(e => h('li', null, link(e[end]), ' ', h('span', { class: 'muted small' }, what[e.relation] || e.relation))))
    : h('p', { class: 'muted' }, 'none');
  root.append(h('h3', null, 'Flows it calls or triggers'), list(d.edges.filter(e => e.source === me), 'target'),
    h('h3', null, 'Flows that call or trigger it'), list(d.edges.filter(e => e.target === me), 'source'));
  void stateBadge;
}
