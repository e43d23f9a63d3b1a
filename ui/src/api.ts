// api.ts: every call to kite's API. A session cookie (POST /api/v1/login) with
// its CSRF token on writes; when the server has no login route, the token is
// sent as a bearer header instead (kept in sessionStorage for the tab only).
// A 401 anywhere sends the user to the login page with the reason.
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(public status: number, message: string, public body: any = null, public path = '') { super(message); }
}

let csrf = sessionStorage.getItem('kite.csrf') || '';
let bearer = sessionStorage.getItem('kite.bearer') || '';
export let me: { name?: string; role?: string; via?: string } | null = null;
let onUnauthorized: (reason: string) => void = () => {};
export function setUnauthorizedHandler(f: (reason: string) => void) { onUnauthorized = f; }

function headers(method: string, extra?: Record<string, string>) {
  const hd: Record<string, string> = { Accept: 'application/json', ...(extra || {}) };
  if (bearer) hd['Authorization'] = `Bearer ${bearer}`;
  else if (csrf && method !== 'GET' && method !== 'HEAD') hd['X-CSRF-Token'] = csrf;
  return hd;
}

async function errorOf(res: Response, path: string): Promise<ApiError> {
  let body: any = null, msg = `${res.status} ${res.statusText}`;
  const text = await res.text().catch(() => '');
  try { body = JSON.parse(text); if (body && body.message) msg = body.message; } catch { if (text) msg = text.slice(0, 300); }
  return new ApiError(res.status, msg, body, path);
}

export async function raw(method: string, path: string, body?: BodyInit | null, extra?: Record<string, string>, quiet401 = false): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(API + path, { method, body: body ?? undefined, headers: headers(method, extra), credentials: 'same-origin' });
  } catch (e: any) {
    throw new ApiError(0, `cannot reach kite: ${e?.message || e}`, null, path);
  }
  if (!res.ok) {
    const err = await errorOf(res, path);
    if (res.status === 401 && !quiet401) onUnauthorized(err.message || 'your session ended');
    throw err;
  }
  return res;
}

export async function json<T = any>(method: string, path: string, body?: any, extra?: Record<string, string>): Promise<T> {
  let b: BodyInit | undefined;
  const hd: Record<string, string> = { ...(extra || {}) };
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof FormData || body instanceof Blob) b = body as any;
    else { b = JSON.stringify(body); hd['Content-Type'] = 'application/json'; }
  }
  const res = await raw(method, path, b, hd);
  if (res.status === 204) return null as any;
  const t = await res.text();
  if (!t) return null as any;
  try { return JSON.parse(t); } catch { return t as any; }
}

export const get = <T = any>(p: string) => json<T>('GET', p);
export const yaml = <T = any>(method: string, p: string, src: string) => json<T>(method, p, src, { 'Content-Type': 'application/x-yaml' });

export function enc(s: string) { return encodeURIComponent(s); }
export function qs(o: Record<string, any>) {
  const u = new URLSearchParams();
  for (const k in o) {
    const v = o[k];
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach(x => u.append(k, String(x))); else u.append(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

// ---- sessions -------------------------------------------------------------------
export async function login(token: string) {
  let res: Response;
  try {
    res = await fetch(API + '/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }), credentials: 'same-origin' });
  } catch (e: any) { throw new ApiError(0, `cannot reach kite: ${e?.message || e}`); }
  if (res.status === 404 || res.status === 405) {
    // a kite without sessions: the token goes as a bearer header, checked here
    bearer = token;
    try { await raw('GET', '/flows/search?size=1', null, {}, true); }
    catch (e) { bearer = ''; throw e; }
    sessionStorage.setItem('kite.bearer', token);
    me = { name: 'token', via: 'token' };
    return me;
  }
  if (!res.ok) throw await errorOf(res, '/login');
  const d = await res.json();
  csrf = d.csrfToken || '';
  bearer = '';
  sessionStorage.removeItem('kite.bearer');
  sessionStorage.setItem('kite.csrf', csrf);
  me = d;
  return d;
}

export async function logout() {
  try { if (!bearer) await raw('POST', '/logout', null, {}, true); } catch { /* gone already */ }
  csrf = ''; bearer = ''; me = null;
  sessionStorage.removeItem('kite.csrf'); sessionStorage.removeItem('kite.bearer');
}

// who is logged in (after a reload the CSRF token comes back from /me)
export async function whoami(): Promise<boolean> {
  try {
    const res = await raw('GET', '/me', null, {}, true);
    const d = await res.json();
    if (d.csrfToken) { csrf = d.csrfToken; sessionStorage.setItem('kite.csrf', csrf); }
    me = d;
    return true;
  } catch (e: any) {
    if (e instanceof ApiError && e.status === 404 && bearer) { me = { name: 'token', via: 'token' }; return true; }
    if (e instanceof ApiError && e.status === 401) { lastReason = e.message; return false; }
    throw e;
  }
}
export let lastReason = '';

// ---- server-sent events over fetch (headers and cookies as for any call) ---------
export interface Stream { close(): void; done: Promise<void>; }
export function sse(path: string, on: (event: string, data: string) => void, onError?: (e: ApiError) => void): Stream {
  const ctl = new AbortController();
  const done = (async () => {
    let res: Response;
    try {
      res = await fetch(API + path, { headers: { ...headers('GET'), Accept: 'text/event-stream' }, signal: ctl.signal, credentials: 'same-origin' });
    } catch (e: any) { if (!ctl.signal.aborted) onError?.(new ApiError(0, `stream ${path}: ${e?.message || e}`)); return; }
    if (!res.ok || !res.body) {
      const err = await errorOf(res, path);
      if (res.status === 401) onUnauthorized(err.message);
      onError?.(err);
      return;
    }
    const rd = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '', ev = 'message', data: string[] = [];
    try {
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          let line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') { if (data.length) on(ev, data.join('\n')); ev = 'message'; data = []; }
          else if (line.startsWith(':')) continue;
          else if (line.startsWith('event:')) ev = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
      }
    } catch (e: any) { if (!ctl.signal.aborted) onError?.(new ApiError(0, `stream ${path}: ${e?.message || e}`)); }
  })();
  return { close: () => ctl.abort(), done };
}
