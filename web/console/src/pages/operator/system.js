// The host's figures for the operator (GET /api/system), whatever fields
// it gives, as cards refreshed every 5 s; without that route, the tenant
// count from /api/tenants and a note that the rest is unavailable.

import { api, get } from '../../api.js';
import { h, fill, every, duration, when } from '../../ui.js';
import { heading, apiMessage } from '../admin/crud.js';
import { OPERATE } from './common.js';

/** `uptime_secs` → "Uptime", `{calls: {in_progress}}` → "Calls in progress". */
function label(key) {
  const k = key.replace(/[._]/g, ' ').replace(/\b(secs|ms|bytes)\b/, '').trim();
  return k[0].toUpperCase() + k.slice(1);
}

function show(key, v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') {
    if (/_secs$|^uptime/.test(key)) {
      // Hosts stay up for days: "3 d 4:05:06" rather than "76:05:06".
      const days = Math.floor(v / 86400);
      return days ? `${days} d ${duration(v % 86400)}` : duration(v);
    }
    if (/_ms$/.test(key) && v > 1e12) return when(v);
    if (/_ms$/.test(key)) return duration(v / 1000);
    if (/_bytes$/.test(key)) return `${(v / 1048576).toFixed(1)} MiB`;
    return v.toLocaleString();
  }
  if (Array.isArray(v)) return v.length ? v.join(', ') : '–';
  return String(v);
}

/** Nested objects become "parent child" cards. */
function flatten(obj, prefix = '', out = []) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, v]);
  }
  return out;
}

const system = {
  path: '/operator/system',
  title: 'System',
  ...OPERATE,
  render(root) {
    const cards = h('div', { class: 'grid', id: 'system-figures', 'aria-live': 'polite' });
    const note = h('p', { class: 'hint' });
    fill(root, heading('System'), note, cards);
    return every(5000, async () => {
      try {
        const s = await api('GET', '/api/system');
        fill(note, `Refreshed every 5 s · ${new Date().toLocaleTimeString()}`);
        fill(cards, flatten(s).map(([k, v]) => h('div', { class: 'card figure-card', dataset: { key: k } },
          h('div', { class: 'figure-label' }, label(k)), h('div', { class: 'figure' }, show(k.split('.').pop(), v)))));
      } catch (e) {
        if (e.status !== 404) throw e;
        // The host has no /api/system yet: what the tenant list says.
        const list = await get('/api/tenants');
        fill(note, 'This host does not report its figures (no /api/system); the rest is unavailable. Refreshed every 5 s.');
        fill(cards,
          h('div', { class: 'card figure-card', dataset: { key: 'tenants' } }, h('div', { class: 'figure-label' }, 'Tenants'), h('div', { class: 'figure' }, String(list.length))),
          h('div', { class: 'card figure-card', dataset: { key: 'suspended' } }, h('div', { class: 'figure-label' }, 'Suspended'), h('div', { class: 'figure' }, String(list.filter((x) => x.suspended).length))));
      }
    }, (e) => fill(note, h('span', { class: 'error', role: 'alert' }, apiMessage(e))));
  },
};

export default system;
