// dom.ts: h() builds elements; a few helpers shared by the pages.
type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, any> | null;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...kids: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs, ...kids: Child[]): HTMLElement;
export function h(tag: string, attrs?: Attrs, ...kids: Child[]): HTMLElement {
  const e = document.createElement(tag);
  if (attrs) for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') e.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(e.style, v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'multiple') (e as any)[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  add(e, kids);
  return e;
}

function add(e: Node, kids: Child[]) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(e, k);
    else e.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
  }
}

export function clear(e: Element, ...kids: Child[]) {
  e.textContent = '';
  add(e, kids);
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s(tag: string, attrs?: Record<string, any> | null, ...kids: (Node | string)[]): SVGElement {
  const e = document.createElementNS(SVGNS, tag);
  if (attrs) for (const k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
  for (const k of kids) e.appendChild(typeof k === 'string' ? document.createTextNode(k) : k);
  return e;
}

export function fmtDate(iso?: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(+d)) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(ms: number): string {
  if (!isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

// Kestra's ISO-8601 durations ("PT1.5S") and the duration the state says
export function isoDurationMs(d?: string | number | null): number {
  if (d === null || d === undefined) return NaN;
  if (typeof d === 'number') return d * 1000;
  const m = /^P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(d);
  if (!m) return NaN;
  return (((+(m[1] || 0) * 24 + +(m[2] || 0)) * 60 + +(m[3] || 0)) * 60 + +(m[4] || 0)) * 1000;
}

export function stateBadge(state?: string) {
  const st = state || 'CREATED';
  return h('span', { class: `state st-${st.toLowerCase()}`, title: st }, st);
}

export function stateMark(state: string, title?: string) {
  return h('span', { class: `mark st-${state.toLowerCase()}`, title: title || state });
}

export function debounce<T extends any[]>(fn: (...a: T) => void, ms: number) {
  let t: any = 0;
  return (...a: T) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

export function download(name: string, text: string | Blob, type = 'text/plain') {
  const b = text instanceof Blob ? text : new Blob([text], { type });
  const a = h('a', { href: URL.createObjectURL(b), download: name });
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

export function banner(msg: string, kind: 'error' | 'info' | 'warn' = 'error') {
  return h('div', { class: `banner ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, msg);
}

let toastBox: HTMLElement | null = null;
export function toast(msg: string, kind: 'error' | 'info' = 'info') {
  if (!toastBox) { toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' }); document.body.appendChild(toastBox); }
  const t = h('div', { class: `toast ${kind}` }, msg);
  toastBox.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 3500);
}

export function tabs(items: { id: string; label: string; href: string }[], active: string) {
  return h('nav', { class: 'tabs', role: 'tablist' }, items.map(t =>
    h('a', { href: t.href, role: 'tab', 'aria-selected': String(t.id === active), class: t.id === active ? 'active' : '', 'data-link': '' }, t.label)));
}

export function modal(title: string, body: Node, actions: { label: string; primary?: boolean; run: () => any }[]) {
  const close = () => back.remove();
  const back = h('div', { class: 'modal-back', onclick: (e: Event) => { if (e.target === back) close(); } },
    h('div', { class: 'modal', role: 'dialog', 'aria-label': title },
      h('h2', null, title), body,
      h('div', { class: 'actions' },
        actions.map(a => h('button', { class: a.primary ? 'primary' : '', onclick: async () => { if ((await a.run()) !== false) close(); } }, a.label)),
        h('button', { onclick: close }, 'Cancel'))));
  back.addEventListener('keydown', (e: KeyboardEvent) => { if (e.key === 'Escape') close(); });
  document.body.appendChild(back);
  (back.querySelector('input,textarea,select,button') as HTMLElement | null)?.focus();
  return close;
}
