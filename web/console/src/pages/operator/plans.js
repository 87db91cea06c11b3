// The operator's plans: named sets of features, limits and rates tenants
// are put on, listed, read and edited as JSON (plans.rs).

import { get, post, put, del } from '../../api.js';
import { h } from '../../ui.js';
import { resource } from '../admin/crud.js';
import { OPERATE, FEATURES, LIMITS } from './common.js';

const enc = encodeURIComponent;

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

export default plans;
