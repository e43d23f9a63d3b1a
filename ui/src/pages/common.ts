// common.ts: pieces several pages share (lists with keyboard navigation,
// paging, label chips, namespace options).
import { h } from '../dom';
import * as api from '../api';

export function labelsOf(l: any): { key: string; value: string }[] {
  if (!l) return [];
  if (Array.isArray(l)) return l.map((x: any) => ({ key: String(x.key), value: String(x.value) }));
  return Object.keys(l).map(k => ({ key: k, value: String(l[k]) }));
}

export function labelChips(l: any) {
  return h('span', { class: 'labels' }, labelsOf(l).map(x => h('span', { class: 'chip', title: `${x.key}:${x.value}` }, `${x.key}:${x.value}`)));
}

// Arrow keys (or j/k) move between the rows of a table body, Enter opens the row's first link.
export function keyRows(tbody: HTMLElement) {
  tbody.addEventListener('keydown', (e: KeyboardEvent) => {
    const row = (e.target as HTMLElement).closest('tr');
    if (!row) return;
    let to: Element | null = null;
    if (e.key === 'ArrowDown' || e.key === 'j') to = row.nextElementSibling;
    else if (e.key === 'ArrowUp' || e.key === 'k') to = row.previousElementSibling;
    else if (e.key === 'Enter' && e.target === row) { (row.querySelector('a') as HTMLElement | null)?.click(); e.preventDefault(); return; }
    if (to) { (to as HTMLElement).focus(); e.preventDefault(); }
  });
}

export function pager(page: number, size: number, total: number, onPage: (p: number) => void) {
  const last = Math.max(1, Math.ceil(total / size));
  return h('div', { class: 'pager' },
    h('button', { disabled: page <= 1, onclick: () => onPage(page - 1) }, '‹ Prev'),
    h('span', null, `page ${page} of ${last} · ${total} in all`),
    h('button', { disabled: page >= last, onclick: () => onPage(page + 1) }, 'Next ›'));
}

let nsCache: Promise<string[]> | null = null;
export function namespaces(): Promise<string[]> {
  if (!nsCache) nsCache = (async () => {
    const set = new Set<string>();
    try {
      const d = await api.get('/flows/search?size=1000');
      for (const f of d.results || []) set.add(f.namespace);
    } catch { /* the list stays empty */ }
    return [...set].sort();
  })();
  setTimeout(() => { nsCache = null; }, 30000);
  return nsCache;
}

export function setQuery(params: Record<string, string | string[] | undefined>) {
  const u = new URL(location.href);
  for (const k in params) {
    u.searchParams.delete(k);
    const v = params[k];
    if (Array.isArray(v)) v.forEach(x => u.searchParams.append(k, x));
    else if (v) u.searchParams.set(k, v);
  }
  history.replaceState(null, '', u.pathname + u.search);
}

// A small pool: at most n promises at once.
export async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>) {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => { while (i < items.length) await f(items[i++]); }));
}
