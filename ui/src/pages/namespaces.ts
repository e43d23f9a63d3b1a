import { h, clear, banner, tabs, toast, modal, stateMark, download } from '../dom';
import * as api from '../api';
import { title, Ctx } from '../main';
import { keyRows } from './common';

// The namespaces as a tree, with counts of flows and of executions by state
// (GET /namespaces, or counted from the flows when the server has no such route).
export async function namespacesPage(c: Ctx) {
  title('Namespaces');
  c.root.append(h('div', { class: 'page-head' }, h('h1', null, 'Namespaces')));
  let list: { id: string; flows: number; executions?: Record<string, number>; tree?: Record<string, number> }[] = [];
  try {
    const d = await api.get('/namespaces?size=1000');
    const rows = Array.isArray(d) ? d : d.results || [];
    list = rows.map((r: any) => ({ id: r.id || r.namespace, flows: r.flowCount ?? r.flows ?? 0, executions: r.executionCounts || r.executionCountByState || r.executions || r.executionsByState, tree: r.treeExecutionCounts }));
  } catch (e: any) {
    c.root.append(banner(`GET /api/v1/namespaces is not available (${e.message}): counted from the flows`, 'info'));
    try {
      const d = await api.get('/flows/search?size=1000');
      const m = new Map<string, number>();
      for (const f of d.results || []) m.set(f.namespace, (m.get(f.namespace) || 0) + 1);
      list = [...m].map(([id, flows]) => ({ id, flows }));
    } catch (e2: any) { c.root.append(banner(e2.message)); return; }
  }
  // a tree: each dotted prefix is a node
  interface Node { name: string; full: string; own?: typeof list[0]; kids: Map<string, Node>; }
  const top: Node = { name: '', full: '', kids: new Map() };
  for (const n of list) {
    let cur = top;
    n.id.split('.').forEach((part, i, a) => {
      const full = a.slice(0, i + 1).join('.');
      if (!cur.kids.has(part)) cur.kids.set(part, { name: part, full, kids: new Map() });
      cur = cur.kids.get(part)!;
    });
    cur.own = n;
  }
  const total = (n: Node): number => (n.own?.flows || 0) + [...n.kids.values()].reduce((a, k) => a + total(k), 0);
  const tb = h('tbody');
  keyRows(tb);
  const walk = (n: Node, depth: number) => {
    for (const k of [...n.kids.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      // the executions of the namespace and the ones under it, as the flows column counts them
      const ex = k.own?.tree || k.own?.executions || {};
      tb.append(h('tr', { tabindex: 0 },
        h('td', { style: { paddingLeft: `${depth * 18 + 8}px` } }, h('a', { href: `/ui/namespaces/${api.enc(k.full)}`, 'data-link': '' }, depth ? k.name : k.full)),
        h('td', { class: 'num' }, String(total(k))),
        h('td', null, Object.keys(ex).filter(s => ex[s]).map(s => h('span', { class: 'count' }, stateMark(s), ` ${ex[s]} ${s.toLowerCase()}`))),
        h('td', null, h('a', { href: `/ui/flows?namespace=${api.enc(k.full)}`, 'data-link': '' }, 'flows'), ' · ',
          h('a', { href: `/ui/executions?namespace=${api.enc(k.full)}`, 'data-link': '' }, 'executions'), ' · ',
          h('a', { href: `/ui/namespaces/${api.enc(k.full)}/kv`, 'data-link': '' }, 'KV'), ' · ',
          h('a', { href: `/ui/namespaces/${api.enc(k.full)}/files`, 'data-link': '' }, 'files'))));
      walk(k, depth + 1);
    }
  };
  walk(top, 0);
  c.root.append(list.length ? h('table', { class: 'list' }, h('thead', null, h('tr', null, ['Namespace', 'Flows', 'Executions', ''].map(x => h('th', null, x)))), tb) : h('p', { class: 'empty' }, 'No namespace yet: a namespace exists once a flow is in it.'));
}

export async function namespacePage(c: Ctx) {
  const ns = c.params[0];
  const tab = ['kv', 'files'].includes(c.params[1]) ? c.params[1] : 'kv';
  title(`${ns} · ${tab === 'kv' ? 'KV store' : 'files'}`);
  const base = `/ui/namespaces/${api.enc(ns)}`;
  c.root.append(h('div', { class: 'page-head' }, h('h1', null, h('a', { href: '/ui/namespaces', 'data-link': '', class: 'muted' }, 'Namespaces / '), ns)),
    tabs([{ id: 'kv', label: 'KV store', href: `${base}/kv` }, { id: 'files', label: 'Files', href: `${base}/files` }], tab));
  const body = h('section', { class: 'tab-body' });
  c.root.append(body);
  if (tab === 'kv') await kvTab(body, ns); else await filesTab(body, ns);
}

async function kvTab(root: HTMLElement, ns: string) {
  const P = `/namespaces/${api.enc(ns)}/kv`;
  const list = h('div');
  const edit = (key = '', value = '', type = 'STRING') => {
    const k = h('input', { value: key, placeholder: 'key', disabled: !!key }) as HTMLInputElement;
    const v = h('textarea', { rows: 8, class: 'code' }, value) as HTMLTextAreaElement;
    const ttl = h('input', { placeholder: 'ttl, e.g. PT1H (optional)', class: 'narrow' }) as HTMLInputElement;
    const asText = h('input', { type: 'checkbox', checked: type === 'STRING' }) as HTMLInputElement;
    const out = h('div');
    modal(key ? `Edit ${key}` : 'New key', h('div', null, h('label', null, 'Key'), k, h('label', null, 'Value'), v, h('label', { class: 'check' }, asText, ' store as text (else JSON)'), ttl, out), [{
      label: 'Save', primary: true, run: async () => {
        const hd: Record<string, string> = { 'Content-Type': asText.checked ? 'text/plain' : 'application/json' };
        if (ttl.value) hd.ttl = ttl.value;
        const body = asText.checked ? JSON.stringify(v.value) : v.value;
        try { await api.json('PUT', `${P}/${api.enc(k.value)}`, body, hd); toast(`${k.value} saved`); load(); return true; }
        catch (e: any) { clear(out, banner(e.message)); return false; }
      }
    }]);
  };
  root.append(h('div', { class: 'toolbar' }, h('button', { class: 'primary', onclick: () => edit() }, '+ New key')), list);
  async function load() {
    let keys: any[];
    try { const d = await api.get(P); keys = Array.isArray(d) ? d : d.results || []; } catch (e: any) { clear(list, banner(e.message)); return; }
    if (!keys.length) { clear(list, h('p', { class: 'empty' }, 'No key in this namespace.')); return; }
    const tb = h('tbody');
    keyRows(tb);
    for (const k of keys) {
      const key = k.key || k;
      const val = h('td', { class: 'mono small' }, '…');
      tb.append(h('tr', { tabindex: 0 }, h('td', null, h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); open(key); } }, key)), val,
        h('td', { class: 'small' }, k.expirationDate ? `expires ${k.expirationDate}` : ''),
        h('td', null, h('button', { class: 'small', onclick: () => open(key) }, 'Edit'), h('button', {
          class: 'small danger', onclick: () => modal(`Delete ${key}?`, h('p', null, 'The key and its value are deleted.'), [{ label: 'Delete', primary: true, run: async () => { try { await api.json('DELETE', `${P}/${api.enc(key)}`); toast(`${key} deleted`); load(); } catch (e: any) { toast(e.message, 'error'); } } }])
        }, 'Delete'))));
      api.get(`${P}/${api.enc(key)}`).then(d => { val.textContent = JSON.stringify(d.value).slice(0, 120); val.title = d.type; }).catch(e => { val.textContent = e.message; });
    }
    clear(list, h('table', { class: 'list' }, h('thead', null, h('tr', null, ['Key', 'Value', '', ''].map(x => h('th', null, x)))), tb));
  }
  async function open(key: string) {
    try { const d = await api.get(`${P}/${api.enc(key)}`); edit(key, d.type === 'STRING' ? d.value : JSON.stringify(d.value, null, 2), d.type); } catch (e: any) { toast(e.message, 'error'); }
  }
  await load();
}

// namespace files: GET /namespaces/{ns}/files?path=/ (directory listing), files/content?path= (get, put, delete)
async function filesTab(root: HTMLElement, ns: string) {
  const P = `/namespaces/${api.enc(ns)}/files`;
  let dir = '/';
  const list = h('div');
  const upload = h('input', { type: 'file', 'aria-label': 'upload a file', multiple: true }) as HTMLInputElement;
  root.append(h('div', { class: 'toolbar' }, h('label', { class: 'button' }, 'Upload… ', upload),
    h('button', { onclick: () => editFile('', '') }, '+ New file')), list);
  upload.addEventListener('change', async () => {
    for (const f of Array.from(upload.files || [])) {
      const fd = new FormData(); fd.append('fileContent', f, f.name);
      try { await api.json('POST', `${P}${api.qs({ path: join(dir, f.name) })}`, fd); toast(`${f.name} uploaded`); } catch (e: any) { toast(e.message, 'error'); }
    }
    upload.value = ''; load();
  });
  const join = (d: string, n: string) => (d.endsWith('/') ? d : d + '/') + n.replace(/^\//, '');
  function editFile(path: string, text: string) {
    const p = h('input', { value: path || join(dir, 'new.txt'), disabled: !!path }) as HTMLInputElement;
    const t = h('textarea', { rows: 16, class: 'code' }, text) as HTMLTextAreaElement;
    const out = h('div');
    modal(path || 'New file', h('div', null, h('label', null, 'Path'), p, t, out), [{
      label: 'Save', primary: true, run: async () => {
        const fd = new FormData(); fd.append('fileContent', new Blob([t.value], { type: 'text/plain' }), p.value.split('/').pop() || 'file');
        try { await api.json('POST', `${P}${api.qs({ path: p.value })}`, fd); toast(`${p.value} saved`); load(); return true; } catch (e: any) { clear(out, banner(e.message)); return false; }
      }
    }]);
  }
  async function load() {
    let d: any;
    try { d = await api.get(`${P}/directory${api.qs({ path: dir })}`); }
    catch (e: any) {
      try { d = await api.get(`${P}${api.qs({ path: dir })}`); } catch { clear(list, banner(`namespace files: ${e.message}`)); return; }
    }
    const items: any[] = Array.isArray(d) ? d : d.results || d.files || [];
    const tb = h('tbody');
    keyRows(tb);
    if (dir !== '/') tb.append(h('tr', { tabindex: 0 }, h('td', null, h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); dir = dir.replace(/\/[^/]+\/?$/, '') || '/'; load(); } }, '..')), h('td'), h('td'), h('td')));
    for (const it of items) {
      const name = it.fileName || it.name || it.path;
      const full = join(dir, name);
      const isDir = it.type === 'Directory' || it.type === 'DIRECTORY' || it.directory;
      tb.append(h('tr', { tabindex: 0 },
        h('td', null, h('a', { href: '#', onclick: async (e: Event) => { e.preventDefault(); if (isDir) { dir = full; load(); } else openFile(full); } }, isDir ? `📁 ${name}` : name)),
        h('td', { class: 'num' }, isDir ? '' : String(it.size ?? '')), h('td', { class: 'small' }, it.lastModifiedTime ? new Date(it.lastModifiedTime).toISOString() : ''),
        h('td', null, isDir ? null : h('button', { class: 'small', onclick: () => dl(full) }, 'Download'), h('button', {
          class: 'small danger', onclick: () => modal(`Delete ${full}?`, h('p', null, ''), [{ label: 'Delete', primary: true, run: async () => { try { await api.json('DELETE', `${P}${api.qs({ path: full })}`); toast('deleted'); load(); } catch (e: any) { toast(e.message, 'error'); } } }])
        }, 'Delete'))));
    }
    clear(list, h('div', { class: 'muted small' }, `${ns}:${dir}`), items.length || dir !== '/' ? h('table', { class: 'list' }, h('thead', null, h('tr', null, ['Name', 'Size', 'Modified', ''].map(x => h('th', null, x)))), tb) : h('p', { class: 'empty' }, 'No file in this namespace.'));
  }
  async function openFile(path: string) {
    try { const r = await api.raw('GET', `${P}${api.qs({ path })}`); editFile(path, await r.text()); } catch (e: any) { toast(e.message, 'error'); }
  }
  async function dl(path: string) {
    try { const r = await api.raw('GET', `${P}${api.qs({ path })}`); download(path.split('/').pop() || 'file', await r.blob()); } catch (e: any) { toast(e.message, 'error'); }
  }
  await load();
}
