// The rest of what an admin configures: caller rules (block / allow by
// the caller's number), conference rooms, web widgets, and where call
// notices are e-mailed. The same list + form helper as the other records;
// caller rules are one list the API replaces whole, so creating, editing
// and deleting a rule each read the list and write it back.

import { get, put, del, t } from '../../api.js';
import { h, fill, toast } from '../../ui.js';
import { resource, buildForm, heading, canWrite, apiMessage, secretBox } from './crud.js';

const enc = encodeURIComponent;

// ---------------------------------------------------------------- caller rules

const ACTIONS = [['reject', 'reject'], ['message', 'play a message'], ['voicemail', 'straight to voicemail'], ['allow', 'allow past the IVR']];
const NEEDS = { reject: 'decline', message: 'prompt', voicemail: 'mailbox', allow: 'to' };

function ruleBody(b) {
  const out = { pattern: b.pattern, action: b.action };
  const k = NEEDS[b.action];
  if (k && b[k] !== undefined && b[k] !== '') out[k] = b[k];
  return out;
}

function describe(r) {
  switch (r.action) {
    case 'reject': return r.decline ? 'reject (603 Decline)' : 'reject (486 Busy)';
    case 'message': return `play ${r.prompt}`;
    case 'voicemail': return `voicemail of ${r.mailbox}`;
    case 'allow': return `allow, straight to ${r.to}`;
    default: return r.action;
  }
}

const callerRules = resource({
  path: '/admin/caller-rules',
  title: 'Caller rules',
  noun: 'rule',
  intro: 'Block or allow callers from outside by their number, a prefix ending in * (+1900*), or anonymous. The most specific pattern decides.',
  prepare: async () => {
    const [prompts, exts] = await Promise.all([
      get(t('/prompts')).catch(() => []), get(t('/extensions')).catch(() => []),
    ]);
    return { prompts: prompts.map((p) => p.id), exts: exts.map((e) => e.number) };
  },
  load: () => get(t('/caller-rules')),
  key: (r) => r.pattern,
  columns: [
    { label: 'Pattern', value: (r) => r.pattern },
    { label: 'Action', value: describe },
  ],
  fields: [
    { name: 'pattern', label: 'Caller number, prefix* or anonymous', required: true, only: 'create', placeholder: '+1900*' },
    { name: 'action', label: 'Action', type: 'select', options: ACTIONS },
    { name: 'decline', label: 'Decline (603) rather than busy (486)', type: 'checkbox' },
    { name: 'prompt', label: 'Message (prompt)', datalist: (ctx) => ctx.prompts, hint: 'With "play a message".' },
    { name: 'mailbox', label: 'Mailbox (extension)', datalist: (ctx) => ctx.exts, hint: 'With "straight to voicemail".' },
    { name: 'to', label: 'Ring (extension or ring group)', datalist: (ctx) => ctx.exts, hint: 'With "allow".' },
  ],
  formExtras(f) {
    // Only the control the chosen action uses is shown.
    const action = f.controls.get('action').input;
    const sync = () => {
      for (const k of Object.values(NEEDS)) {
        f.controls.get(k).input.closest('.field').hidden = NEEDS[action.value] !== k;
      }
    };
    action.addEventListener('change', sync);
    sync();
  },
  async create(body) {
    const rules = await get(t('/caller-rules'));
    if (rules.some((r) => r.pattern === body.pattern)) {
      throw Object.assign(new Error(`pattern: there is a rule for ${body.pattern} already; open it to change it`), { field: 'pattern' });
    }
    await put(t('/caller-rules'), [...rules, ruleBody(body)]);
    return body;
  },
  async update(key, body) {
    const rules = await get(t('/caller-rules'));
    return put(t('/caller-rules'), rules.map((r) => (r.pattern === key ? ruleBody({ ...body, pattern: key }) : r)));
  },
  async remove(key) {
    const rules = await get(t('/caller-rules'));
    return put(t('/caller-rules'), rules.filter((r) => r.pattern !== key));
  },
});

// ---------------------------------------------------------------- conferences

const conferences = resource({
  path: '/admin/conferences',
  title: 'Conference rooms',
  noun: 'room',
  intro: 'Rooms and their settings: PIN, moderators, what participants hear. A change applies to whoever joins next.',
  prepare: async () => ({ exts: (await get(t('/extensions')).catch(() => [])).map((e) => e.number) }),
  load: () => get(t('/conferences')),
  key: (r) => r.name,
  columns: [
    { label: 'Room', value: (r) => r.name },
    { label: 'PIN', value: (r) => (r.pin ? 'yes' : '–') },
    { label: 'Moderators', value: (r) => r.moderators.join(', ') || '–' },
    { label: 'Recorded', value: (r) => (r.record ? 'yes' : '–'), class: 'minor' },
    { label: 'Now', value: (r) => (r.live ? h('span', { class: 'badge good' }, 'in use') : '–') },
  ],
  fields: [
    { name: 'name', label: 'Room name', required: true, only: 'create' },
    { name: 'pin', label: 'PIN (1 to 12 digits)', hint: 'Empty: no PIN. Moderators need none.' },
    { name: 'moderators', label: 'Moderators', type: 'checks', wide: true, options: (ctx) => ctx.exts },
    { name: 'max_participants', label: 'Participants at most (0: no limit)', type: 'number', default: 0 },
    { name: 'muted_on_join', label: 'Participants join muted', type: 'checkbox' },
    { name: 'wait_for_moderator', label: 'Music until a moderator joins', type: 'checkbox' },
    { name: 'end_when_moderator_leaves', label: 'End when the last moderator leaves', type: 'checkbox' },
    { name: 'announce_count', label: 'Announce how many are in the room', type: 'checkbox', default: true },
    { name: 'tones', label: 'Tone when somebody joins or leaves', type: 'checkbox', default: true },
    { name: 'record', label: 'Record the room', type: 'checkbox', default: true },
  ],
  async create(body) {
    const rooms = await get(t('/conferences'));
    const { name, ...settings } = body;
    if (rooms.some((r) => r.name === name && r.configured)) {
      throw Object.assign(new Error(`name: room ${name} exists already; open it to change it`), { field: 'name' });
    }
    if (!name) throw Object.assign(new Error('name: is required'), { field: 'name' });
    await put(t(`/conferences/${enc(name)}`), settings);
    return body;
  },
  update: (key, body) => put(t(`/conferences/${enc(key)}`), body),
  remove: (key) => del(t(`/conferences/${enc(key)}`)),
});

// ---------------------------------------------------------------- widgets

const widgets = resource({
  path: '/admin/widgets',
  title: 'Web widgets',
  noun: 'widget',
  intro: 'A "call me back" form for your web site (requests join a queue\'s callbacks), and optionally a "call us" button that calls one of your numbers from the visitor\'s browser.',
  prepare: async () => {
    const [queues, numbers] = await Promise.all([get(t('/queues')).catch(() => []), get(t('/numbers')).catch(() => [])]);
    return { queues: queues.map((q) => q.name), numbers: numbers.map((n) => n.number) };
  },
  load: () => get(t('/widgets')),
  one: (key) => get(t(`/widgets/${enc(key)}`)),
  key: (r) => r.name,
  columns: [
    { label: 'Widget', value: (r) => r.name },
    { label: 'Queue', value: (r) => r.queue },
    { label: 'Sites', value: (r) => r.allowed_origins.join(', ') || '–', class: 'minor' },
    { label: 'Call us', value: (r) => r.call_to || '–' },
    { label: 'State', value: (r) => (r.enabled ? h('span', { class: 'badge good' }, 'on') : h('span', { class: 'badge' }, 'off')) },
  ],
  fields: [
    { name: 'name', label: 'Name', required: true, only: 'create' },
    { name: 'queue', label: 'Queue for callbacks', required: true, datalist: (ctx) => ctx.queues },
    { name: 'title', label: 'Heading', default: 'Call me back' },
    { name: 'enabled', label: 'Taking requests', type: 'checkbox', default: true },
    { name: 'call_to', label: '"Call us" number', datalist: (ctx) => ctx.numbers, hint: 'Empty: no "call us" button.' },
    { name: 'allowed_origins', label: 'Sites allowed (origins)', type: 'list', wide: true, placeholder: 'https://www.example.com', hint: 'Exactly as browsers send Origin.' },
  ],
  async create(body) {
    const { name, ...w } = body;
    if (!name) throw Object.assign(new Error('name: is required'), { field: 'name' });
    const have = await get(t('/widgets'));
    if (have.some((x) => x.name === name)) throw Object.assign(new Error(`name: widget ${name} exists already`), { field: 'name' });
    return put(t(`/widgets/${enc(name)}`), w);
  },
  update: (key, body) => put(t(`/widgets/${enc(key)}`), body),
  remove: (key) => del(t(`/widgets/${enc(key)}`)),
  sections: (r) => h('section', { class: 'card' }, h('h2', {}, 'Put it on your site'),
    h('p', { class: 'hint' }, 'Paste this where the widget should appear:'),
    secretBox('Snippet', `<script src="${location.origin}${r.script}"></script>`, 'The page\'s origin must be in the sites allowed.')),
});

// ---------------------------------------------------------------- notices

const notices = {
  path: '/admin/notices',
  title: 'Notices',
  nav: 'Configure',
  roles: ['admin', 'supervisor'],
  async render(root, { session }) {
    const w = canWrite(session);
    fill(root, h('p', { class: 'loading' }, 'Loading…'));
    const draw = async () => {
      let n;
      try { n = await get(t('/notices')); } catch (e) {
        fill(root, heading('Notices'), h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
        return;
      }
      const status = h('div', { role: 'status', class: 'ok save-status' });
      const f = buildForm([
        { name: 'missed_calls', label: 'Missed calls from outside: e-mail', type: 'list', wide: true, placeholder: 'desk@example.com', hint: 'Up to 20 addresses, comma-separated.' },
        { name: 'after_hours', label: 'Calls after hours: e-mail', type: 'list', wide: true, placeholder: 'manager@example.com', hint: 'Calls a flow tagged after-hours. Up to 20 addresses.' },
      ], {
        row: n,
        readOnly: !w,
        onSubmit: async (body) => {
          await put(t('/notices'), body);
          toast('Notices saved.');
          fill(status, `Saved ${new Date().toLocaleTimeString()}.`);
        },
      });
      fill(root, heading('Notices'),
        h('p', { class: 'hint intro' }, 'Who is told about calls nobody answered and calls after hours (with an SMTP relay configured by the operator).'),
        h('section', { class: 'card' }, f.form, status));
    };
    await draw();
  },
};

export default [...callerRules, ...conferences, ...widgets, notices];
