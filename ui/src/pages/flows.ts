import { h, clear, banner, stateMark, debounce, fmtDate } from '../dom';
import * as api from '../api';
import { title, Ctx } from '../main';
import { labelChips, keyRows, pager, namespaces, setQuery, pool } from './common';

export async function flowsPage(c: Ctx) {
  title('Flows');
  const q = c.query;
  let page = +(q.get('page') || 1) || 1;
  const size = 25;
  const search = h('input', { type: 'search', placeholder: 'Search flows (id or source)  [/]', value: q.get('q') || '', 'aria-label': 'search flows' });
  const ns = h('select', { 'aria-label': 'namespace' }, h('option', { value: '' }, 'All namespaces'));
  const labels = h('input', { type: 'text', placeholder: 'label key:value', value: q.get('labels') || '', 'aria-label': 'label filter', class: 'narrow' });
  const body = h('div');
  c.root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Flows'), h('a', { class: 'button primary', href: '/ui/flows/new', 'data-link': '' }, '+ New flow')),
    h('div', { class: 'filters' }, search, ns, labels),
    body);
  namespaces().then(list => {
    for (const n of list) ns.append(h('option', { value: n, selected: n === q.get('namespace') }, n));
  });
  let alive = true;
  async function load() {
    setQuery({ q: search.value || undefined, namespace: ns.value || q.get('namespace') || undefined, labels: labels.value || undefined, page: page > 1 ? String(page) : undefined });
    const nsv = ns.value || q.get('namespace') || '';
    let d: any;
    try {
      d = await api.get(`/flows/search${api.qs({ q: search.value, namespace: nsv, page, size: labels.value ? 1000 : size })}`);
    } catch (e: any) { clear(body, banner(e.message)); return; }
    let rows: any[] = d.results || [];
    let total = d.total ?? rows.length;
    if (labels.value) {
      const [k, v] = labels.value.split(':');
      rows = rows.filter(f => { const l = f.labels || []; return (Array.isArray(l) ? l : Object.keys(l).map(x => ({ key: x, value: l[x] }))).some((x: any) => x.key === k && (v === undefined || String(x.value) === v)); });
      total = rows.length;
      rows = rows.slice((page - 1) * size, page * size);
    }
    if (!rows.length) { clear(body, h('p', { class: 'empty' }, search.value || nsv ? 'No flow matches.' : 'No flow yet: create one with "New flow".')); return; }
    const tb = h('tbody');
    keyRows(tb);
    for (const f of rows) {
      const marks = h('span', { class: 'marks' });
      const href = `/ui/flows/${api.enc(f.namespace)}/${api.enc(f.id)}`;
      tb.append(h('tr', { tabindex: 0, 'data-flow': `${f.namespace}.${f.id}` },
        h('td', null, h('a', { href, 'data-link': '' }, f.id), f.disabled ? h('span', { class: 'chip warn' }, 'disabled') : null,
          f.description ? h('div', { class: 'muted small' }, String(f.description).slice(0, 120)) : null),
        h('td', null, h('a', { href: `/ui/flows?namespace=${api.enc(f.namespace)}`, 'data-link': '' }, f.namespace)),
        h('td', null, labelChips(f.labels)),
        h('td', null, marks),
        h('td', null, (f.triggers || []).map((t: any) => h('span', { class: 'chip', title: t.type }, t.id))),
        h('td', { class: 'num' }, String(f.revision ?? ''))));
      (f as any)._marks = marks;
    }
    clear(body, h('table', { class: 'list' },
      h('thead', null, h('tr', null, h('th', null, 'Flow'), h('th', null, 'Namespace'), h('th', null, 'Labels'), h('th', null, 'Last executions'), h('th', null, 'Triggers'), h('th', null, 'Rev.'))), tb),
      pager(page, size, total, p => { page = p; load(); }));
    await pool(rows, 4, async f => {
      if (!alive) return;
      try {
        const e = await api.get(`/executions/search${api.qs({ namespace: f.namespace, flowId: f.id, size: 10 })}`);
        const ex = (e.results || []).filter((x: any) => x.namespace === f.namespace).slice(0, 10).reverse();
        for (const x of ex) f._marks.append(h('a', { href: `/ui/executions/${x.id}`, 'data-link': '' }, stateMark(x.state?.current || 'CREATED', `${x.state?.current} ${fmtDate(x.state?.startDate)}`)));
        if (!ex.length) f._marks.append(h('span', { class: 'muted small' }, 'never run'));
      } catch { /* marks stay empty */ }
    });
  }
  const reload = debounce(() => { page = 1; load(); }, 250);
  search.addEventListener('input', reload);
  labels.addEventListener('input', reload);
  ns.addEventListener('change', () => { q.set('namespace', ns.value); page = 1; load(); });
  await load();
  return () => { alive = false; };
}
