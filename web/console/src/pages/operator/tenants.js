// The operator's tenants: create, edit (name, domains, time zone, plan,
// limits, features, pause reasons), suspend / resume, delete after typing
// the id. Operator-only in the API (tenants.rs).

import { get, post, patch, del } from '../../api.js';
import { h, when, toast } from '../../ui.js';
import { resource, apiMessage } from '../admin/crud.js';
import { OPERATE, FEATURES, LIMITS } from './common.js';
import { billingSections } from '../admin/billing.js';

const enc = encodeURIComponent;

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
  sections: async (r, { refresh }) => [
    h('section', { class: 'card' }, h('h2', {}, 'Service'),
      h('p', { class: 'hint' }, r.suspended ? 'The tenant\'s calls are refused.' : 'The tenant takes calls.'),
      suspendButton(r, refresh)),
    await billingSections(r.id, { operator: true, onChange: refresh }),
  ],
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

export default tenants;
