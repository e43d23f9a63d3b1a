import { h, banner } from '../dom';
import * as api from '../api';
import { go, title, reasonForLogin, loggedIn, Ctx } from '../main';

export function loginPage(c: Ctx) {
  title('Log in');
  const reason = reasonForLogin() || c.query.get('reason') || '';
  const err = h('div', { class: 'login-error' }, reason ? banner(reason, 'warn') : null);
  const tok = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', placeholder: 'kite_… or KITE_ADMIN_TOKEN', required: true });
  const btn = h('button', { class: 'primary', type: 'submit' }, 'Log in');
  const form = h('form', {
    class: 'login-card', onsubmit: async (e: Event) => {
      e.preventDefault();
      btn.disabled = true;
      err.textContent = '';
      try {
        await api.login(tok.value.trim());
        loggedIn();
        const next = c.query.get('next');
        go(next && next.startsWith('/ui/') && !next.startsWith('/ui/login') ? next : '/flows', true);
      } catch (x: any) {
        err.append(banner(x.message || String(x)));
        btn.disabled = false;
        tok.select();
      }
    }
  },
    h('div', { class: 'brand big' }, h('span', { class: 'logo' }), 'kite'),
    h('label', { for: 'token' }, 'API token'),
    tok,
    err,
    btn,
    h('p', { class: 'muted' }, 'The admin token is the server\'s KITE_ADMIN_TOKEN (or the one it printed at its first start).'));
  c.root.classList.add('login-page');
  c.root.append(form);
  tok.focus();
}
