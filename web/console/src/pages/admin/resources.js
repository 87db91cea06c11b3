// The tenant's configuration records, each described once for crud.js:
// extensions, numbers, ring groups, queues (with their agents and
// skills), schedules, trunks and API keys. Field names are the API's
// (host/api/src/routes/*.rs), so a validation error's `field` lands on
// the control that caused it.

import { get, post, put, patch, del, t } from '../../api.js';
import { h, fill, table, field, when, toast } from '../../ui.js';
import { resource, secretBox, apiMessage, deleteButton, splitList } from './crud.js';

const enc = encodeURIComponent;
const yesNo = (b) => (b ? 'yes' : '–');
const SRTP = [['off', 'off (plain RTP)'], ['optional', 'optional'], ['required', 'required']];

/** A password nobody will guess or mistype: 16 characters, no look-alikes. */
export function generatePassword(n = 16) {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/** Extensions of the tenant, for pickers (empty when not readable). */
async function extensionNumbers() {
  try { return (await get(t('/extensions'))).map((e) => e.number); } catch { return []; }
}

/** Flow names numbers may point at: the plugin roles' flows and `extensions`. */
async function flowNames() {
  try {
    const roles = await get(t('/plugin-roles'));
    return [...new Set(['extensions', ...Object.keys(roles.flows || {})])];
  } catch { return ['extensions']; }
}

// ---------------------------------------------------------------- extensions

let generated = null;

const extensions = resource({
  path: '/admin/extensions',
  title: 'Extensions',
  noun: 'extension',
  intro: 'Phones and browser phones of the tenant. Passwords are stored only as digest hashes: a new one is shown once.',
  load: () => get(t('/extensions')),
  one: (key) => get(t(`/extensions/${enc(key)}`)),
  key: (r) => r.number,
  columns: [
    { label: 'Extension', value: (r) => r.number },
    { label: 'Name', value: (r) => r.display_name || '–' },
    { label: 'Voicemail', value: (r) => yesNo(r.voicemail), class: 'minor' },
    { label: 'E-mail', value: (r) => r.email || '–', class: 'minor' },
    { label: 'Pickup group', value: (r) => r.pickup_group || '–', class: 'minor' },
    { label: 'Supervisor', value: (r) => yesNo(r.supervisor) },
    { label: 'SRTP', value: (r) => r.srtp, class: 'minor' },
  ],
  fields: [
    { name: 'number', label: 'Extension number', required: true, placeholder: '2 to 15 digits', only: 'create', hint: '2 to 15 digits.' },
    { name: 'display_name', label: 'Display name', empty: '' },
    { name: 'password', label: 'SIP password', type: 'password', hint: '8 to 128 characters. On an existing extension, leave empty to keep it.' },
    { name: 'voicemail', label: 'Voicemail', type: 'checkbox' },
    { name: 'email', label: 'E-mail for voicemail', type: 'email', empty: '', placeholder: 'name@example.com' },
    { name: 'missed_call_email', label: 'E-mail missed calls too', type: 'checkbox' },
    { name: 'pickup_group', label: 'Pickup group', empty: '', hint: '*8 takes a call ringing another member.' },
    { name: 'supervisor', label: 'Supervisor (listen, whisper, barge)', type: 'checkbox' },
    { name: 'srtp', label: 'SRTP', type: 'select', options: SRTP },
  ],
  toBody(body, { row }) {
    if (!row) {
      // Create: an empty optional text is not sent at all.
      for (const k of ['display_name', 'email', 'pickup_group']) if (body[k] === '') delete body[k];
    }
    return body;
  },
  formExtras(f, { row }) {
    const pw = f.controls.get('password').input;
    const gen = h('button', { type: 'button', class: 'gen-password' }, 'Generate');
    gen.addEventListener('click', () => {
      generated = generatePassword();
      pw.type = 'text';
      pw.value = generated;
      pw.focus();
    });
    pw.addEventListener('input', () => { generated = null; });
    pw.parentElement.insertBefore(h('div', { class: 'row' }, gen), pw.nextSibling);
    if (!row) generated = null;
  },
  create: (body) => post(t('/extensions'), body),
  created(result, body) {
    const pw = body.password;
    const wasGenerated = pw && pw === generated;
    generated = null;
    return wasGenerated
      ? secretBox(`Extension ${result.number} created. Its SIP password:`, pw)
      : null;
  },
  update: (key, body) => {
    const b = { ...body };
    if (!b.password) delete b.password;
    return patch(t(`/extensions/${enc(key)}`), b);
  },
  remove: (key) => del(t(`/extensions/${enc(key)}`)),
  sections: (row) => membership(row.number),
});

/** Where an extension is used: the queues it answers and the ring groups it is in. */
async function membership(number) {
  const [queues, groups] = await Promise.all([
    get(t('/queues')).catch(() => []),
    get(t('/ring-groups')).catch(() => []),
  ]);
  const inQueues = queues.filter((q) => q.agents.some((a) => a.extension === number));
  const inGroups = groups.filter((g) => g.members.includes(number));
  const link = (path, name) => h('a', { href: `#${path}/${enc(name)}` }, name);
  return h('section', { class: 'card' }, h('h2', {}, 'Member of'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Queues'), h('dd', {}, inQueues.length ? inQueues.map((q, i) => [i ? ', ' : '', link('/admin/queues', q.name)]) : 'none'),
      h('dt', {}, 'Ring groups'), h('dd', {}, inGroups.length ? inGroups.map((g, i) => [i ? ', ' : '', link('/admin/ring-groups', g.name)]) : 'none')));
}

// ---------------------------------------------------------------- numbers

const numbers = resource({
  path: '/admin/numbers',
  title: 'Numbers',
  noun: 'number',
  intro: 'Numbers (DIDs `+…` or short internal numbers) and the flow that answers each. A flow other than `extensions` needs the advanced IVR feature.',
  prepare: async () => ({ flows: await flowNames() }),
  load: () => get(t('/numbers')),
  one: (key) => get(t(`/numbers/${enc(key)}`)),
  key: (r) => r.number,
  columns: [
    { label: 'Number', value: (r) => r.number },
    { label: 'Flow', value: (r) => r.flow },
  ],
  fields: [
    { name: 'number', label: 'Number', required: true, only: 'create', placeholder: '+15550199 or 701' },
    { name: 'flow', label: 'Flow', required: true, datalist: (ctx) => ctx.flows, default: 'extensions', hint: 'A flow name of the plugin roles.' },
  ],
  create: (body) => post(t('/numbers'), body),
  update: (key, body) => put(t(`/numbers/${enc(key)}`), { flow: body.flow }),
  remove: (key) => del(t(`/numbers/${enc(key)}`)),
});

// ---------------------------------------------------------------- ring groups

const groups = resource({
  path: '/admin/ring-groups',
  title: 'Ring groups',
  noun: 'ring group',
  intro: 'Extensions rung together or in turn.',
  prepare: async () => ({ exts: await extensionNumbers() }),
  load: () => get(t('/ring-groups')),
  one: (key) => get(t(`/ring-groups/${enc(key)}`)),
  key: (r) => r.name,
  columns: [
    { label: 'Name', value: (r) => r.name },
    { label: 'Members', value: (r) => r.members.join(', ') || '–' },
    { label: 'Strategy', value: (r) => r.strategy },
    { label: 'Ring, s', value: (r) => r.ring_timeout_secs, class: 'num' },
  ],
  fields: [
    { name: 'name', label: 'Name', required: true, only: 'create' },
    { name: 'members', label: 'Members', type: 'checks', wide: true, options: (ctx) => ctx.exts, hint: 'A sequential group rings them in the order they were added.' },
    { name: 'strategy', label: 'Strategy', type: 'select', options: [['simultaneous', 'all at once'], ['sequential', 'in turn']] },
    { name: 'ring_timeout_secs', label: 'Ring timeout, seconds', type: 'number', min: 1, default: 20 },
  ],
  create: (body) => post(t('/ring-groups'), body),
  update: (key, body) => put(t(`/ring-groups/${enc(key)}`), body),
  remove: (key) => del(t(`/ring-groups/${enc(key)}`)),
});

// ---------------------------------------------------------------- queues

const opt = (name, label, extra = {}) => ({ name, label, type: 'number', min: 1, hint: 'Empty: never.', ...extra });

const QUEUE_FIELDS = [
  { name: 'name', label: 'Name', required: true, only: 'create' },
  { name: 'extension', label: 'Transfer number', placeholder: '2 to 15 digits', hint: 'Blind-transfer a caller here to queue them.' },
  { name: 'strategy_plugin', label: 'Strategy', datalist: (ctx) => ctx.strategies, hint: 'A queue-strategy name of the plugin roles; empty: list order.' },
  { name: 'ring_mode', label: 'Ring mode', type: 'select', options: [['one-at-a-time', 'one at a time'], ['all', 'all at once'], ['first-n', 'first n']] },
  { name: 'ring_n', label: 'Agents rung at once (first n)', type: 'number', min: 1 },
  { name: 'ring_timeout_secs', label: 'Ring timeout, s', type: 'number', min: 1, default: 15 },
  { name: 'max_waiting', label: 'Callers waiting at most', type: 'number', default: 20 },
  { name: 'timeout_secs', label: 'Longest wait, s', type: 'number', default: 300 },
  { name: 'wrap_up_secs', label: 'Wrap-up, s', type: 'number', default: 10 },
  { name: 'service_level_secs', label: 'Service level, s', type: 'number', default: 20 },
  { name: 'auto_pause_after', label: 'Pause after missed offers', type: 'number', default: 2, hint: '0: never.' },
  { name: 'join_empty', label: 'With no agent', type: 'select', options: [['wait', 'callers wait'], ['never', 'callers are refused']] },
  { name: 'leave_when_empty', label: 'Callers leave when the last agent logs out', type: 'checkbox' },
  { name: 'moh', label: 'Music on hold (prompt)', datalist: (ctx) => ctx.prompts },
  opt('announce_every_secs', 'Announce position every, s'),
  opt('comfort_every_secs', 'Comfort message every, s'),
  { name: 'comfort_prompt', label: 'Comfort message (prompt)', datalist: (ctx) => ctx.prompts },
  { name: 'whisper_prompt', label: 'Whisper to agent (prompt)', datalist: (ctx) => ctx.prompts },
  { name: 'callback_key', label: 'Callback key', placeholder: '0-9, * or #', hint: 'Empty: no callbacks.' },
  { name: 'leave_key', label: 'Leave key', placeholder: '0-9, * or #', hint: 'Empty: none.' },
  { name: 'callback_retry_secs', label: 'Callback retry, s', type: 'number', default: 300 },
  { name: 'callback_max_attempts', label: 'Callback attempts', type: 'number', default: 3 },
  opt('callback_on_abandon_secs', 'Call back callers who hang up after, s', { hint: 'Empty: off.' }),
];

/** "it=5, broadband=3" ⇄ {it: 5, broadband: 3}. */
export function parseSkills(text) {
  const skills = {};
  for (const part of splitList(text)) {
    const m = part.match(/^([^=:\s]+)\s*[=:]\s*(\d+)$/) || part.match(/^([^=:\s]+)$/);
    if (!m) {
      const e = new Error(`skills: "${part}" is not skill=level (a level from 0 to 100)`);
      e.field = 'skills';
      throw e;
    }
    skills[m[1]] = m[2] === undefined ? 50 : Number(m[2]);
  }
  return skills;
}
const showSkills = (s) => Object.entries(s || {}).map(([k, v]) => `${k}=${v}`).join(', ');

/** The agents of a queue: add (PUT …/agents/{ext}), change skills, remove. */
function agentsSection(q, { ctx, refresh, writable }) {
  const base = t(`/queues/${enc(q.name)}/agents`);
  const status = h('div', { role: 'status', class: 'list-status' });
  const error = h('div', { class: 'form-error', role: 'alert' });
  const saveAgent = async (ext, body) => {
    fill(error);
    try {
      await put(`${base}/${enc(ext)}`, body);
      toast(`Agent ${ext} saved in ${q.name}.`);
      await refresh();
    } catch (e) {
      fill(error, h('p', { class: 'error' }, apiMessage(e)));
    }
  };
  const rowEditor = (a) => {
    if (!writable) return showSkills(a.skills) || '–';
    const input = h('input', { type: 'text', value: showSkills(a.skills), 'aria-label': `Skills of ${a.extension}`, class: 'skills-input' });
    return input;
  };
  const cols = [
    { label: 'Agent', value: (a) => a.extension },
    { label: 'Skills (skill=level)', value: rowEditor },
    { label: 'Penalty', value: (a) => (writable ? h('input', { type: 'number', min: 0, value: a.penalty, 'aria-label': `Penalty of ${a.extension}`, class: 'penalty-input' }) : a.penalty), class: 'num' },
    { label: 'Logged in', value: (a) => (a.logged_in ? h('span', { class: 'badge good' }, 'in') : h('span', { class: 'badge' }, 'out')) },
  ];
  if (writable) {
    cols.push({
      label: 'Actions',
      class: 'actions-col',
      value: (a) => h('div', { class: 'row actions', dataset: { agent: a.extension } },
        h('button', {
          type: 'button',
          onclick: (ev) => {
            const tr = ev.target.closest('tr');
            let skills;
            try { skills = parseSkills(tr.querySelector('.skills-input').value); } catch (e) {
              fill(error, h('p', { class: 'error' }, e.message));
              return;
            }
            saveAgent(a.extension, { skills, penalty: Number(tr.querySelector('.penalty-input').value) || 0, logged_in: a.logged_in });
          },
        }, 'Save'),
        deleteButton(`agent ${a.extension}`, async () => {
          await del(`${base}/${enc(a.extension)}`);
          toast(`Agent ${a.extension} removed from ${q.name}.`);
          await refresh();
        })),
    });
  }
  let adder = null;
  if (writable) {
    const inQueue = new Set(q.agents.map((a) => a.extension));
    const free = ctx.exts.filter((e) => !inQueue.has(e));
    const ext = h('input', { type: 'text', name: 'agent-extension', list: 'agent-ext-list', placeholder: free[0] || '1003', required: true });
    const skills = h('input', { type: 'text', name: 'agent-skills', placeholder: 'billing=80, french=50' });
    const penalty = h('input', { type: 'number', name: 'agent-penalty', min: 0, value: 0 });
    const loggedIn = h('input', { type: 'checkbox', name: 'agent-logged-in', id: `li-${q.name}` });
    adder = h('form', {
      class: 'row agent-add',
      'aria-label': 'Add an agent',
      onsubmit: async (ev) => {
        ev.preventDefault();
        fill(error);
        const e = ext.value.trim();
        if (!e) { fill(error, h('p', { class: 'error' }, 'Give the agent\'s extension.')); ext.focus(); return; }
        let sk;
        try { sk = parseSkills(skills.value); } catch (err) { fill(error, h('p', { class: 'error' }, err.message)); skills.focus(); return; }
        await saveAgent(e, { skills: sk, penalty: Number(penalty.value) || 0, logged_in: loggedIn.checked });
      },
    },
    h('datalist', { id: 'agent-ext-list' }, free.map((x) => h('option', { value: x }))),
    field('Extension', ext), field('Skills', skills), field('Penalty', penalty),
    h('div', { class: 'field check' }, loggedIn, h('label', { for: loggedIn.id }, 'Logged in')),
    h('button', { type: 'submit', class: 'primary', id: 'add-agent' }, 'Add agent'));
  }
  return h('section', { class: 'card', id: 'queue-agents', 'aria-label': 'Agents' },
    h('h2', {}, `Agents (${q.agents.length})`),
    table(cols, q.agents, { empty: 'No agents yet.' }), adder, error, status);
}

const queues = resource({
  path: '/admin/queues',
  title: 'Queues',
  noun: 'queue',
  intro: 'Contact-centre queues: how agents are rung, what callers hear while they wait, callbacks. Open a queue to manage its agents and their skills.',
  async prepare() {
    const [exts, prompts, roles] = await Promise.all([
      extensionNumbers(),
      get(t('/prompts')).catch(() => []),
      get(t('/plugin-roles')).catch(() => ({})),
    ]);
    return { exts, prompts: prompts.map((p) => p.id), strategies: Object.keys(roles.strategies || {}) };
  },
  load: () => get(t('/queues')),
  one: (key) => get(t(`/queues/${enc(key)}`)),
  key: (r) => r.name,
  columns: [
    { label: 'Queue', value: (r) => r.name },
    { label: 'Agents', value: (r) => r.agents.map((a) => a.extension).join(', ') || '–' },
    { label: 'Strategy', value: (r) => r.strategy_plugin || 'list order' },
    { label: 'Ring mode', value: (r) => (r.ring_mode === 'first-n' ? `first ${r.ring_n}` : r.ring_mode), class: 'minor' },
    { label: 'Max waiting', value: (r) => r.max_waiting, class: 'num minor' },
    { label: 'SL, s', value: (r) => r.service_level_secs, class: 'num minor' },
  ],
  fields: QUEUE_FIELDS,
  toBody(body, { row }) {
    // PUT replaces the whole queue: the agents are kept as they are (they
    // are changed one by one below the form).
    if (row) body.agents = row.agents;
    if (body.ring_mode !== 'first-n') delete body.ring_n;
    return body;
  },
  create: (body) => post(t('/queues'), body),
  update: (key, body) => put(t(`/queues/${enc(key)}`), body),
  remove: (key) => del(t(`/queues/${enc(key)}`)),
  // The agents are what changes most: above the long settings form.
  sectionsFirst: true,
  sections: (row, c) => agentsSection(row, c),
});

// ---------------------------------------------------------------- schedules

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const schedules = resource({
  path: '/admin/schedules',
  title: 'Schedules',
  noun: 'schedule',
  intro: 'Opening hours and holidays by name, which time-based routing plugins refer to.',
  load: () => get(t('/schedules')),
  one: (key) => get(t(`/schedules/${enc(key)}`)),
  key: (r) => r.name,
  columns: [
    { label: 'Schedule', value: (r) => r.name },
    { label: 'Time zone', value: (r) => r.time_zone || 'the tenant\'s' },
    { label: 'Open', value: (r) => Object.entries(r.open).map(([d, iv]) => `${d.slice(0, 3)} ${iv.join(' ')}`).join('; ') || '–' },
    { label: 'Holidays', value: (r) => r.holidays.length, class: 'num' },
  ],
  fields: [
    { name: 'name', label: 'Name', required: true, only: 'create' },
    { name: 'time_zone', label: 'Time zone', placeholder: 'Europe/Paris', hint: 'Empty: the tenant\'s.' },
    ...DAYS.map((d) => ({
      name: `open.${d}`, label: d[0].toUpperCase() + d.slice(1), type: 'list',
      placeholder: '09:00-12:30, 13:30-17:00',
    })),
    {
      name: 'holidays', label: 'Holidays, one a line: YYYY-MM-DD name [yearly]', type: 'textarea', wide: true,
      from: (r) => r.holidays.map((x) => `${x.date} ${x.name}${x.yearly ? ' yearly' : ''}`.trim()).join('\n'),
      placeholder: '2026-12-25 Christmas yearly',
    },
  ],
  toBody(body) {
    const open = {};
    for (const [d, iv] of Object.entries(body.open || {})) if (iv.length) open[d] = iv;
    body.open = open;
    body.holidays = String(body.holidays || '').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const parts = l.split(/\s+/);
      const yearly = parts[parts.length - 1] === 'yearly' && parts.length > 1;
      if (yearly) parts.pop();
      return { date: parts.shift(), name: parts.join(' '), yearly };
    });
    return body;
  },
  create: (body) => post(t('/schedules'), body),
  update: (key, body) => put(t(`/schedules/${enc(key)}`), body),
  remove: (key) => del(t(`/schedules/${enc(key)}`)),
});

// ---------------------------------------------------------------- trunks

const trunks = resource({
  path: '/admin/trunks',
  title: 'Trunks',
  noun: 'trunk',
  intro: 'SIP trunks to carriers. The password is write-only: the list says whether one is set.',
  load: () => get(t('/trunks')),
  one: (key) => get(t(`/trunks/${enc(key)}`)),
  key: (r) => r.name,
  columns: [
    { label: 'Trunk', value: (r) => r.name },
    { label: 'Host', value: (r) => `${r.host} (${r.transport})` },
    { label: 'Registers', value: (r) => yesNo(r.register) },
    { label: 'Password', value: (r) => (r.has_password ? 'set' : '–') },
    { label: 'Caller id', value: (r) => r.caller_id || '–' },
    { label: 'Max calls', value: (r) => r.max_concurrent_calls || '–', class: 'num' },
  ],
  fields: [
    { name: 'name', label: 'Name', required: true, only: 'create' },
    { name: 'host', label: 'Carrier host[:port]', required: true, placeholder: 'sip.carrier.example:5060' },
    { name: 'transport', label: 'Transport', type: 'select', options: [['udp', 'UDP'], ['tcp', 'TCP'], ['tls', 'TLS']] },
    { name: 'username', label: 'Username' },
    { name: 'password', label: 'Password', type: 'password', hint: 'On an existing trunk, leave empty to keep it.' },
    { name: 'register', label: 'Register to the carrier', type: 'checkbox' },
    { name: 'register_expires', label: 'Registration lifetime, s', type: 'number', default: 3600 },
    { name: 'from_domain', label: 'From domain' },
    { name: 'caller_id', label: 'Caller id presented' },
    { name: 'allow_caller_id_passthrough', label: 'Pass callers\' ids through', type: 'checkbox' },
    { name: 'max_concurrent_calls', label: 'Calls at once (0: tenant\'s limit)', type: 'number', default: 0 },
    { name: 'max_calls_per_second', label: 'Calls per second (0: no limit)', type: 'number', default: 0 },
    { name: 'srtp', label: 'SRTP', type: 'select', options: SRTP },
    { name: 'inbound_addresses', label: 'Inbound addresses (ip or ip:port)', type: 'list', wide: true },
  ],
  toBody(body, { row }) {
    // An empty password on an edit keeps the stored one (absent), not
    // "remove it" (empty string): that is what the hint says.
    if (row && !body.password) delete body.password;
    return body;
  },
  create: (body) => post(t('/trunks'), body),
  update: (key, body) => put(t(`/trunks/${enc(key)}`), body),
  remove: (key) => del(t(`/trunks/${enc(key)}`)),
});

// ---------------------------------------------------------------- API keys

const apiKeys = resource({
  path: '/admin/api-keys',
  title: 'API keys',
  noun: 'API key',
  intro: 'Keys for integrations and console sign-in. The token is shown once, when the key is created; revoking a key stops it at once.',
  prepare: async () => ({ exts: await extensionNumbers() }),
  load: () => get(t('/api-keys')),
  one: false,
  key: (r) => r.id,
  createdRow: (r) => r.key,
  columns: [
    { label: 'Name', value: (r) => r.name || '–' },
    { label: 'Id', value: (r) => h('span', { class: 'mono' }, r.id), class: 'minor' },
    { label: 'Role', value: (r) => r.role },
    { label: 'Extension', value: (r) => r.extension || '–' },
    { label: 'Created', value: (r) => when(r.created_at_ms), class: 'minor' },
  ],
  fields: [
    { name: 'name', label: 'What it is for', placeholder: 'CRM integration' },
    { name: 'role', label: 'Role', type: 'select', options: [['admin', 'admin'], ['supervisor', 'supervisor'], ['agent', 'agent']] },
    { name: 'extension', label: 'Extension (needed for an agent)', datalist: (ctx) => ctx.exts },
  ],
  create: (body) => post(t('/api-keys'), body),
  created: (result) => secretBox(`Key ${result.key.name || result.key.id} (${result.key.role}) created. Its token:`, result.token,
    'It is shown this once and not stored: keep it now. Use it as Authorization: Bearer TOKEN or to sign in.'),
  verb: 'Revoke',
  remove: (key) => del(t(`/api-keys/${enc(key)}`)),
});

export default [...extensions, ...numbers, ...groups, ...queues, ...schedules, ...trunks, ...apiKeys];
