import { h, clear, banner, stateBadge, fmtDate, fmtDuration, isoDurationMs, toast, modal } from '../dom';
import * as api from '../api';
import { title, Ctx } from '../main';
import { labelChips, keyRows, pager, namespaces, setQuery } from './common';

const STATES = ['CREATED', 'RUNNING', 'PAUSED', 'SUCCESS', 'WARNING', 'FAILED', 'KILLING', 'KILLED', 'RESTARTED', 'QUEUED', 'CANCELLED', 'RETRYING', 'RETRIED'];
const RANGES: Record<string, number> = { '': 0, PT1H: 3600e3, P1D: 86400e3, P7D: 7 * 86400e3, P30D: 30 * 86400e3 };

export function executionsPage(c: Ctx) {
  title('Executions');
  c.root.append(h('div', { class: 'page-head' }, h('h1', null, 'Executions')));
  return executionsList(c.root, { query: c.query });
}

// kill/restart/delete of many: Kestra's by-ids routes (DELETE /executions/kill/by-ids,
// POST /executions/restart/by-ids, DELETE /executions/by-ids) answer {count}; when
// an id cannot take the action nothing is done and the 400 lists {invalidValue, message}
async function bulk(action: 'kill' | 'restart' | 'delete', ids: string[]) {
  const path = action === 'delete' ? '/executions/by-ids' : `/executions/${action}/by-ids`;
  try {
    const r: any = await api.json(action === 'restart' ? 'POST' : 'DELETE', path, ids);
    return `${action}: ${r.count} execution(s)`;
  } catch (e: any) {
    const inv: any[] = e instanceof api.ApiError && Array.isArray(e.body?.invalids) ? e.body.invalids : [];
    if (!inv.length) throw e;
    const why = inv.slice(0, 3).map(i => `${i.invalidValue}: ${i.message}`).join('; ');
    throw new Error(`${action}: nothing done, ${inv.length} of ${ids.length} refused: ${why}${inv.length > 3 ? '…' : ''}`);
  }
}

export async function executionsList(root: HTMLElement, o: { namespace?: string; flowId?: string; embedded?: boolean; query: URLSearchParams }) {
  const q = o.query;
  let page = +(q.get('page') || 1) || 1;
  const size = +(q.get('size') || 25) || 25;
  const ns = h('select', { 'aria-label': 'namespace' }, h('option', { value: '' }, 'All namespaces')) as HTMLSelectElement;
  const flow = h('input', { type: 'search', placeholder: 'flow id', value: q.get('flowId') || '', 'aria-label': 'flow', class: 'narrow' }) as HTMLInputElement;
  const state = h('select', { 'aria-label': 'state' }, h('option', { value: '' }, 'Any state'), STATES.map(s => h('option', { value: s, selected: q.get('state') === s }, s))) as HTMLSelectElement;
  const range = h('select', { 'aria-label': 'time range' }, h('option', { value: '' }, 'Any time'), h('option', { value: 'PT1H' }, 'Last hour'), h('option', { value: 'P1D' }, 'Last day'), h('option', { value: 'P7D' }, 'Last week'), h('option', { value: 'P30D' }, 'Last 30 days')) as HTMLSelectElement;
  range.value = q.get('range') || '';
  const labels = h('input', { type: 'text', placeholder: 'labels k:v, k2:v2', value: q.getAll('labels').join(', '), 'aria-label': 'labels', class: 'narrow' }) as HTMLInputElement;
  const sel = new Set<string>();
  const actions = h('span', { class: 'bulk' });
  const body = h('div');
  if (!o.embedded) {
    namespaces().then(list => list.forEach(n => ns.append(h('option', { value: n, selected: n === q.get('namespace') }, n))));
    root.append(h('div', { class: 'filters' }, ns, flow, state, range, labels, actions));
  } else root.append(h('div', { class: 'filters' }, state, range, labels, actions));
  root.append(body);
  const bulkBtn = (a: 'kill' | 'restart' | 'delete', label: string) => h('button', {
    class: a === 'delete' ? 'danger small' : 'small', onclick: () => {
      if (!sel.size) return;
      modal(`${label} ${sel.size} execution(s)?`, h('p', null, [...sel].slice(0, 10).join(', ') + (sel.size > 10 ? '…' : '')), [{
        label, primary: true, run: async () => {
          try { toast(await bulk(a, [...sel])); sel.clear(); load(); } catch (e: any) { toast(e.message, 'error'); load(); }
        }
      }]);
    }
  }, label);
  clear(actions, h('span', { class: 'muted small sel-count' }, ''), bulkBtn('kill', 'Kill'), bulkBtn('restart', 'Restart'), bulkBtn('delete', 'Delete'));
  const updateSel = () => { (actions.querySelector('.sel-count') as HTMLElement).textContent = sel.size ? `${sel.size} selected` : ''; };
  async function load() {
    const nsv = o.namespace || ns.value || q.get('namespace') || '';
    const fl = o.flowId || flow.value;
    const ls = labels.value.split(',').map(x => x.trim()).filter(Boolean);
    const since = RANGES[range.value] ? new Date(Date.now() - RANGES[range.value]).toISOString() : undefined;
    if (!o.embedded) setQuery({ namespace: nsv || undefined, flowId: flow.value || undefined, state: state.value || undefined, range: range.value || undefined, labels: ls, page: page > 1 ? String(page) : undefined });
    let d: any;
    try { d = await api.get(`/executions/search${api.qs({ namespace: nsv, flowId: fl, state: state.value, startDate: since, labels: ls, page, size })}`); }
    catch (e: any) { clear(body, banner(e.message)); return; }
    const rows: any[] = d.results || [];
    if (!rows.length) { clear(body, h('p', { class: 'empty' }, 'No execution matches.')); return; }
    const all = h('input', { type: 'checkbox', 'aria-label': 'select all' }) as HTMLInputElement;
    const tb = h('tbody');
    keyRows(tb);
    const boxes: HTMLInputElement[] = [];
    for (const x of rows) {
      const b = h('input', { type: 'checkbox', checked: sel.has(x.id), 'aria-label': `select ${x.id}` }) as HTMLInputElement;
      b.addEventListener('change', () => { b.checked ? sel.add(x.id) : sel.delete(x.id); updateSel(); });
      boxes.push(b);
      const st = x.state || {};
      const dur = isoDurationMs(st.duration) || (st.startDate && !st.endDate ? Date.now() - +new Date(st.startDate) : NaN);
      tb.append(h('tr', { tabindex: 0, 'data-id': x.id },
        h('td', null, b),
        h('td', null, h('a', { href: `/ui/executions/${x.id}`, 'data-link': '', class: 'mono' }, x.id)),
        h('td', null, h('a', { href: `/ui/flows/${api.enc(x.namespace)}/${api.enc(x.flowId)}`, 'data-link': '' }, `${x.namespace}.${x.flowId}`), h('span', { class: 'muted small' }, ` r${x.flowRevision ?? ''}`)),
        h('td', null, stateBadge(st.current)),
        h('td', null, fmtDate(st.startDate)), h('td', { class: 'num' }, fmtDuration(dur)),
        h('td', null, labelChips(x.labels))));
    }
    all.addEventListener('change', () => { boxes.forEach((b, i) => { b.checked = all.checked; all.checked ? sel.add(rows[i].id) : sel.delete(rows[i].id); }); updateSel(); });
    clear(body, h('table', { class: 'list' }, h('thead', null, h('tr', null, h('th', null, all), ...['Execution', 'Flow', 'State', 'Started', 'Duration', 'Labels'].map(t => h('th', null, t)))), tb),
      pager(page, size, d.total ?? rows.length, p => { page = p; load(); }));
    updateSel();
  }
  for (const e of [ns, state, range]) e.addEventListener('change', () => { page = 1; load(); });
  let t: any;
  for (const e of [flow, labels]) e.addEventListener('input', () => { clearTimeout(t); t = setTimeout(() => { page = 1; load(); }, 300); });
  await load();
  const timer = setInterval(() => { if (!document.hidden && !document.querySelector('.modal-back')) load(); }, 5000);
  return () => clearInterval(timer);
}
