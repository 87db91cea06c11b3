// Sign in: an agent with their extension and its SIP password, an admin or
// supervisor with a tenant API key, the operator with the operator token.
// The host answers with a session cookie (HttpOnly, SameSite=Strict).

import { api } from '../api.js';
import { h, field, fill, errorBox } from '../ui.js';

export default {
  render(root, { signedIn }) {
    const tabs = [
      ['extension', 'Extension'],
      ['key', 'API key'],
      ['operator', 'Operator'],
    ];
    let mode = 'extension';
    const box = h('div', { class: 'signin-form' });
    const tablist = h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Sign in with' });
    const draw = () => {
      fill(tablist, tabs.map(([m, label]) => h('button', {
        type: 'button', role: 'tab', 'aria-selected': String(m === mode), id: `tab-${m}`,
        onclick: () => { mode = m; draw(); },
      }, label)));
      const inputs = {
        extension: [
          ['tenant', 'Tenant or SIP domain', 'text', 'demo.localhost', 'organization'],
          ['extension', 'Extension', 'text', '1002', 'username'],
          ['password', 'Password', 'password', '', 'current-password'],
        ],
        key: [['key', 'API key', 'password', '', 'off']],
        operator: [['token', 'Operator token', 'password', '', 'off']],
      }[mode];
      const controls = {};
      const error = h('div', { class: 'form-error' });
      const form = h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          const body = { method: mode };
          for (const [k, input] of Object.entries(controls)) body[k] = input.value.trim();
          fill(error);
          try {
            const s = await api('POST', '/console/session', body);
            // The SIP password stays in this page's memory for the browser
            // phone; it is never stored.
            if (mode === 'extension') s.sipPassword = body.password;
            signedIn(s);
          } catch (err) {
            fill(error, errorBox(err));
          }
        },
      },
      inputs.map(([name, label, type, placeholder, auto]) => {
        const input = h('input', { name, type, placeholder, autocomplete: auto, required: true });
        controls[name] = input;
        return field(label, input);
      }),
      error,
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
      fill(box, form);
    };
    draw();
    fill(root, h('section', { class: 'signin' },
      h('h1', {}, 'Sign in to Switchyard'), tablist, box));
    root.querySelector('input')?.focus();
  },
};
