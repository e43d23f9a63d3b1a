// main.ts: the shell (top bar, theme, keyboard) and the router. Routes are
// paths under /ui/ (history API), so a URL names what the page shows and can
// be shared; the server answers index.html for each of them.
import './style.css';
import { h, clear, banner } from './dom';
import * as api from './api';
import { loginPage } from './pages/login';
import { flowsPage } from './pages/flows';
import { flowPage, newFlowPage } from './pages/flow';
import { executionsPage } from './pages/executions';
import { executionPage } from './pages/execution';
import { namespacesPage, namespacePage } from './pages/namespaces';
import { dashboardPage } from './pages/dashboard';

export type Cleanup = (() => void) | void;
export interface Ctx { root: HTMLElement; params: string[]; query: URLSearchParams; }
type Page = (c: Ctx) => Cleanup | Promise<Cleanup>;

const routes: [RegExp, Page, string][] = [
  [/^\/login$/, loginPage, ''],
  [/^\/?$/, flowsPage, 'flows'],
  [/^\/flows$/, flowsPage, 'flows'],
  [/^\/flows\/new$/, newFlowPage, 'flows'],
  [/^\/flows\/([^/]+)\/([^/]+)(?:\/([a-z]+))?$/, flowPage, 'flows'],
  [/^\/executions$/, executionsPage, 'executions'],
  [/^\/executions\/([^/]+)(?:\/([a-z]+))?$/, executionPage, 'executions'],
  [/^\/namespaces$/, namespacesPage, 'namespaces'],
  [/^\/namespaces\/([^/]+)(?:\/([a-z]+))?$/, namespacePage, 'namespaces'],
  [/^\/dashboards?$/, dashboardPage, 'dashboard'],
];

const app = document.getElementById('app')!;
let cleanup: Cleanup;
let loginReason = '';
let authed = false;

export function go(path: string, replace = false) {
  const url = path.startsWith('/ui') ? path : '/ui' + (path.startsWith('/') ? path : '/' + path);
  if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
  render();
}
export function title(t: string) { document.title = t ? `${t} · kite` : 'kite'; }
export function reasonForLogin() { return loginReason; }

api.setUnauthorizedHandler(reason => {
  authed = false;
  loginReason = reason;
  const here = location.pathname + location.search;
  if (!location.pathname.startsWith('/ui/login')) go('/login?next=' + encodeURIComponent(here), true);
});

export function loggedIn() { authed = true; loginReason = ''; }

function shell(section: string, main: HTMLElement) {
  const nav = (id: string, label: string, href: string, key: string) =>
    h('a', { href, 'data-link': '', class: section === id ? 'active' : '', title: `${label} (g then ${key})` }, label);
  const theme = localStorage.getItem('kite.theme') || '';
  return h('div', { class: 'shell' },
    h('header', { class: 'top' },
      h('a', { href: '/ui/flows', 'data-link': '', class: 'brand' }, h('span', { class: 'logo' }), 'kite'),
      h('nav', { class: 'main-nav' },
        nav('flows', 'Flows', '/ui/flows', 'f'),
        nav('executions', 'Executions', '/ui/executions', 'e'),
        nav('namespaces', 'Namespaces', '/ui/namespaces', 'n'),
        nav('dashboard', 'Dashboard', '/ui/dashboard', 'd')),
      h('span', { class: 'spacer' }),
      h('span', { class: 'who' }, api.me?.name ? `${api.me.name}` : ''),
      h('button', {
        class: 'ghost', title: 'Theme: system, light or dark', onclick: () => {
          const next = ({ '': 'light', light: 'dark', dark: '' } as any)[localStorage.getItem('kite.theme') || ''];
          localStorage.setItem('kite.theme', next); applyTheme(); render();
        }
      }, theme === 'dark' ? '☾ dark' : theme === 'light' ? '☀ light' : '◐ auto'),
      h('button', { class: 'ghost', onclick: async () => { await api.logout(); authed = false; loginReason = 'you logged out'; go('/login'); } }, 'Log out')),
    main);
}

function applyTheme() {
  const t = localStorage.getItem('kite.theme') || '';
  if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
}

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  if (typeof cleanup === 'function') { try { cleanup(); } catch { /* page gone */ } }
  cleanup = undefined;
  let path = location.pathname.replace(/^\/ui/, '') || '/';
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const query = new URLSearchParams(location.search);
  let page: Page | null = null, section = '', params: string[] = [];
  for (const [re, p, sec] of routes) {
    const m = re.exec(path);
    if (m) { page = p; section = sec; params = m.slice(1).map(x => (x === undefined ? '' : decodeURIComponent(x))); break; }
  }
  if (page !== loginPage && !authed) {
    try { authed = await api.whoami(); }
    catch (e: any) { clear(app, h('main', { class: 'page' }, banner(`kite's API does not answer: ${e.message}`))); return; }
    if (seq !== renderSeq) return;
    if (!authed) { loginReason = loginReason || api.lastReason; go('/login?next=' + encodeURIComponent(location.pathname + location.search), true); return; }
  }
  const main = h('main', { class: 'page', id: 'main' });
  if (!page) {
    title('Not found');
    clear(app, shell('', main));
    main.append(banner(`no page at ${location.pathname}`), h('p', null, h('a', { href: '/ui/flows', 'data-link': '' }, 'Go to the flows')));
    return;
  }
  clear(app, page === loginPage ? main : shell(section, main));
  try {
    const c = await page({ root: main, params, query });
    if (seq === renderSeq) cleanup = c; else if (typeof c === 'function') c();
  } catch (e: any) {
    if (seq !== renderSeq) return;
    if (e instanceof api.ApiError && e.status === 401) return;
    main.append(banner(e?.message || String(e)));
    console.error(e);
  }
}

document.addEventListener('click', e => {
  const a = (e.target as Element).closest?.('a[data-link]') as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  e.preventDefault();
  go(a.getAttribute('href')!);
});
window.addEventListener('popstate', () => render());

// keyboard: g f / g e / g n / g d move between sections; / focuses the search box
let gPressed = 0;
document.addEventListener('keydown', e => {
  const t = e.target as HTMLElement;
  if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === '/') { const s = document.querySelector('input[type=search]') as HTMLInputElement | null; if (s) { e.preventDefault(); s.focus(); } return; }
  if (e.key === 'g') { gPressed = Date.now(); return; }
  if (Date.now() - gPressed < 1200) {
    const to = ({ f: '/flows', e: '/executions', n: '/namespaces', d: '/dashboard' } as any)[e.key];
    gPressed = 0;
    if (to) { e.preventDefault(); go(to); }
  }
});

applyTheme();
render();
