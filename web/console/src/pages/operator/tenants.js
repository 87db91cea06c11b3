// The operator's pages: tenants (create, edit, suspend / resume, delete
// after typing the id), plans (edited as JSON), and the system's figures.
// Everything here is operator-only in the API (tenants.rs, plans.rs).

import { api, get, post, patch, put, del } from '../../api.js';
import { h, fill, every, duration, when, toast } from '../../ui.js';
import { resource, heading, apiMessage } from '../admin/crud.js';

const enc = encodeURIComponent;
const OPERATE = { nav: 'Operate', roles: ['operator'] };

const FEATURES = [
  ['recording', 'Call recording'], ['recording_mono', 'Recordings in mono'], ['advanced_ivr', 'Advanced IVR'],
  ['reporting', 'Reporting'], ['crm', 'CRM connector'], ['queues', 'Queues'], ['conferences', 'Conferences'],
  ['browser_phones', 'Browser phones'],
];
const LIMITS = [
  ['max_concurrent_calls', 'Calls at once', 20], ['max_calls_per_second', 'Calls per second', 5],
  ['plugin_memory_mib', 'Plugin memory, MiB', 32], ['plugin_cpu_ms', 'Plugin CPU per call, ms', 50],
  ['max_extensions', 'Extensions (0: no cap)', 0], ['max_numbers', 'Numbers (0: no cap)', 0],
  ['recording_storage_mib', 'Recording storage, MiB (0: no cap)', 0],
];

async function planNames() {
  try { return (await get('/api/plans')).map((p) => p.name); } catch { return []; }
}

const tenants = resource({
  path: '/operator/tenants',
  title: 'Tenants',
  noun: 'tenant',
  ...OPERATE,
  writable: () => true,
  typeToConfirm: true,
  intro: 'Every customer on this host. A tenant on a plan gets the plan\'s features and limits; without one, its own. Suspending refuses its calls until resumed.',
  prepare: async () => ({ plans: await planNames() }),
  load: () => get('/api/tenants'),
  one: (key) => get(`/api/tenants/${enc(key)}`),
  key: (r) => r.id,
  columns: [
    { label: 'Tenant', value: (r) => r.id },
    { label: 'Name', value: (r) => r.name },
    { label: 'Domains', value: (r) => r.domains.join(', ') },
    { label: 'Plan', value: (r) => r.plan || 'own' },
    { label: 'State', value: (r) => (r.suspended ? h('span', { class: 'badge bad' }, 'suspended') : h('span', { class: 'badge good' }, 'active')) },
    { label: 'Created', value: (r) => when(r.created_at_ms) },
  ],
  rowActions: (r, { refresh }) => suspendButton(r, refresh),
  summary: (r) => h('p', {},
    r.suspended ? h('span', { class: 'badge bad' }, 'suspended') : h('span', { class: 'badge good' }, 'active'),
    ' ', `Time zone ${r.time_zone} · ${r.plan ? `plan ${r.plan}` : 'no plan'} · created ${when(r.created_at_ms)}`),
  sections: (r, { refresh }) => h('section', { class: 'card' }, h('h2', {}, 'Service'),
    h('p', { class: 'hint' }, r.suspended ? 'The tenant\'s calls are refused.' : 'The tenant takes calls.'),
    suspendButton(r, refresh)),
  fields: [
    { name: 'id', label: 'Id', required: true, only: 'create', placeholder: 'acme', hint: 'Lower case letters, digits, -.' },
    { name: 'name', label: 'Name', required: true },
    { name: 'domains', label: 'SIP domains', type: 'list', wide: true, placeholder: 'acme.example.com', hint: 'The first is the digest realm of its extensions\' passwords.' },
    { name: 'time_zone', label: 'Time zone', default: 'UTC', placeholder: 'Europe/Paris' },
    { name: 'plan', label: 'Plan', type: 'select', options: (ctx) => [['', 'none (own features and limits)'], ...ctx.plans.map((p) => [p, p])], from: (r) => r.plan || '' },
    { name: 'pause_reasons', label: 'Pause reasons', type: 'list', wide: true, default: ['break', 'lunch', 'training', 'no-answer'] },
    { type: 'heading', name: '-limits', label: 'Limits', hint: '(a plan\'s, when on one)' },
    ...LIMITS.map(([k, label, d]) => ({ name: `limits.${k}`, label, type: 'number', min: 0, default: d })),
    { type: 'heading', name: '-features', label: 'Features', hint: '(a plan\'s, when on one)' },
    ...FEATURES.map(([k, label]) => ({ name: `features.${k}`, label, type: 'checkbox' })),
  ],
  formExtras(f) {
    // On a plan the plan's limits and features apply: the tenant's own
    // cannot be set, so their controls are off while a plan is chosen.
    const plan = f.controls.get('plan').input;
    const sync = () => {
      for (const [name, { input }] of f.controls) {
        if (name.startsWith('limits.') || name.startsWith('features.')) input.disabled = plan.value !== '';
      }
    };
    plan.addEventListener('change', sync);
    sync();
  },
  toBody(body, { row }) {
    if (body.plan) {
      delete body.limits;
      delete body.features;
    } else if (row && row.plan) {
      body.plan = null; // off the plan: the form's limits and features become its own
    } else {
      delete body.plan;
    }
    return body;
  },
  create: (body) => post('/api/tenants', body),
  update: (key, body) => patch(`/api/tenants/${enc(key)}`, body),
  remove: (key) => del(`/api/tenants/${enc(key)}`),
});

function suspendButton(r, refresh) {
  const b = h('button', { type: 'button', class: r.suspended ? 'primary' : 'danger', 'aria-label': `${r.suspended ? 'Resume' : 'Suspend'} ${r.id}` },
    r.suspended ? 'Resume' : 'Suspend');
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await post(`/api/tenants/${enc(r.id)}/${r.suspended ? 'resume' : 'suspend'}`);
      toast(`${r.id} ${r.suspended ? 'resumed' : 'suspended'}.`);
      await refresh();
    } catch (e) {
      toast(apiMessage(e), 'error');
      b.disabled = false;
    }
  });
  return b;
}

// ---------------------------------------------------------------- plans

const PLAN_TEMPLATE = {
  description: '',
  features: Object.fromEntries(FEATURES.map(([k]) => [k, false])),
  limits: Object.fromEntries(LIMITS.map(([k, , d]) => [k, d])),
  inbound_without_balance: true,
  prepaid_grace_secs: 30,
};

const plans = resource({
  path: '/operator/plans',
  title: 'Plans',
  noun: 'plan',
  ...OPERATE,
  writable: () => true,
  intro: 'Named sets of features, limits and rates that tenants are put on. A change applies to every tenant on the plan at their next call.',
  load: () => get('/api/plans'),
  one: (key) => get(`/api/plans/${enc(key)}`),
  key: (r) => r.name,
  columns: [
    { label: 'Plan', value: (r) => r.name },
    { label: 'Description', value: (r) => r.description || '–' },
    { label: 'Features', value: (r) => FEATURES.filter(([k]) => r.features[k]).map(([, l]) => l).join(', ') || 'none' },
    { label: 'Calls at once', value: (r) => r.limits.max_concurrent_calls, class: 'num' },
    { label: 'Tenants', value: (r) => r.tenants.join(', ') || '–' },
  ],
  fields: [
    { name: 'name', label: 'Name', required: true, only: 'create' },
    {
      name: 'plan',
      label: 'Plan (JSON)',
      type: 'json',
      rows: 22,
      default: PLAN_TEMPLATE,
      from: (r) => {
        // What PUT takes: the view without what the host keeps itself.
        const { tenants: _t, created_at_ms: _c, name: _n, ...body } = r;
        return body;
      },
      hint: 'description, features, limits, rates, inbound_without_balance, prepaid_grace_secs.',
    },
  ],
  toBody: (body) => ({ ...(body.plan || {}), ...(body.name ? { name: body.name } : {}) }),
  create: (body) => post('/api/plans', body),
  update: (key, body) => put(`/api/plans/${enc(key)}`, body),
  remove: (key) => del(`/api/plans/${enc(key)}`),
  sections: (r) => h('section', { class: 'card' }, h('h2', {}, 'Tenants on this plan'),
    r.tenants.length ? h('ul', {}, r.tenants.map((x) => h('li', {}, h('a', { href: `#/operator/tenants/${enc(x)}` }, x)))) : h('p', { class: 'empty' }, 'None.')),
});

// ---------------------------------------------------------------- system

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

export default [system, ...tenants, ...plans];
