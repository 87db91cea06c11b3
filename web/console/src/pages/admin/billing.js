// A tenant's account and usage (billing.rs): the balance and this month's
// charges for the tenant's admins and supervisors (read only: the
// operator bills), and for the operator, on a tenant's page, how it is
// billed and its top-ups. The ledger downloads as CSV (a same-origin GET
// the session cookie authenticates).

import { get, put, post } from '../../api.js';
import { h, fill, table, field, when, toast } from '../../ui.js';
import { buildForm, heading, apiMessage } from './crud.js';

const enc = encodeURIComponent;

function money(amount, currency) {
  return `${amount}${currency ? ` ${currency}` : ''}`;
}

function figure(label, value) {
  return h('div', { class: 'card figure-card' }, h('div', { class: 'figure-label' }, label), h('div', { class: 'figure' }, value));
}

/** A list of objects as a table with a column per key. */
function rowsTable(rows) {
  if (!rows || !rows.length) return null;
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return table(keys.map((k) => ({
    label: k.replace(/_/g, ' '),
    value: (r) => (typeof r[k] === 'object' && r[k] !== null ? JSON.stringify(r[k]) : String(r[k] ?? '–')),
  })), rows);
}

/** Balance and this month's usage of `tenant`; with `operator`, the account form and top-ups. */
export async function billingSections(tenant, { operator = false, onChange = async () => {} } = {}) {
  const base = `/api/tenants/${enc(tenant)}`;
  let account;
  let usage;
  try {
    [account, usage] = await Promise.all([get(`${base}/account`), get(`${base}/usage`)]);
  } catch (e) {
    return h('section', { class: 'card' }, h('h2', {}, 'Account'), h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
  }
  const cur = account.currency || usage.currency;
  // to_ms is the first instant after the period: its last day is the one before.
  const parts = [
    h('section', { class: 'card', id: 'account' }, h('h2', {}, 'Account'),
      h('div', { class: 'grid' },
        figure('Balance', money(account.balance, cur)),
        figure('Billing', account.prepaid ? 'prepaid' : 'postpaid'),
        figure(`Charged ${new Date(usage.from_ms).toLocaleDateString()} – ${new Date(usage.to_ms - 1).toLocaleDateString()}`, money(usage.charged, cur)),
        figure('Topped up', money(usage.topped_up, cur)),
        figure('Numbers held', String(usage.numbers)),
        figure('Extensions', String(usage.extensions))),
      account.exhausted ? h('p', { class: 'alert' }, 'The prepaid balance is spent: calls out are refused until a top-up.') : null,
      rowsTable(usage.minutes) ? [h('h3', {}, 'Minutes'), rowsTable(usage.minutes)] : null,
      rowsTable(usage.monthly) ? [h('h3', {}, 'Monthly charges'), rowsTable(usage.monthly)] : null,
      h('p', {}, h('a', { href: `${base}/usage.csv`, download: `${tenant}-usage.csv` }, 'Download this month\'s ledger (CSV)'))),
  ];
  if (operator) {
    const status = h('div', { role: 'status', class: 'ok save-status' });
    const f = buildForm([
      { name: 'prepaid', label: 'Prepaid (calls out need a balance)', type: 'checkbox' },
      { name: 'low_balance_threshold', label: 'Low-balance notice below', placeholder: '5.00' },
      { name: 'notify_email', label: 'Send the notice to', type: 'email', placeholder: 'billing@example.com' },
    ], {
      row: account,
      submitLabel: 'Save billing',
      onSubmit: async (body) => {
        await put(`${base}/account`, body);
        toast(`Billing of ${tenant} saved.`);
        fill(status, `Saved ${new Date().toLocaleTimeString()}.`);
        await onChange();
      },
    });
    const amount = h('input', { type: 'text', inputmode: 'decimal', name: 'amount', placeholder: '25.00', required: true });
    const reference = h('input', { type: 'text', name: 'reference', placeholder: 'invoice 2026-0042', required: true });
    const topErr = h('div', { class: 'form-error', role: 'alert' });
    const topUp = h('form', {
      class: 'upload',
      'aria-label': 'Top up',
      onsubmit: async (ev) => {
        ev.preventDefault();
        fill(topErr);
        try {
          await post(`${base}/account/top-ups`, { amount: amount.value.trim(), reference: reference.value.trim() });
          toast(`Added ${amount.value.trim()} to ${tenant}.`);
          await onChange();
        } catch (e) {
          fill(topErr, h('p', { class: 'error' }, apiMessage(e)));
        }
      },
    }, field('Amount', amount), field('Payment reference', reference, 'Unique: the same top-up sent twice is added once.'),
    h('button', { type: 'submit', class: 'primary' }, 'Top up'));
    parts.push(h('section', { class: 'card' }, h('h2', {}, 'How it is billed'), f.form, status),
      h('section', { class: 'card' }, h('h2', {}, 'Top up'), topUp, topErr));
  }
  return parts;
}

/** The tenant's own view: balance and usage, read only. */
export const billingPage = {
  path: '/admin/billing',
  title: 'Billing',
  nav: 'Configure',
  roles: ['admin', 'supervisor'],
  async render(root, { session }) {
    fill(root, h('p', { class: 'loading' }, 'Loading…'));
    const sections = await billingSections(session.tenant);
    fill(root, heading('Billing'), h('p', { class: 'hint intro' }, `Updated ${when(Date.now())}. Prices come from the plan; the operator records payments.`), sections);
  },
};
