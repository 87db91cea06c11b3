// Plugins: WebAssembly components the tenant uploads (call flows, queue
// strategies, CRM connectors, reporters). Each upload is a new version;
// the active one takes new calls. A plugin's page activates a version,
// rolls back, runs a canary, and edits the settings and the HTTP
// allowlist — each of those stores a new version too (plugins.rs), so a
// bad setting is rolled back like a bad upload.

import { api, get, post, put, del, t } from '../../api.js';
import { h, fill, table, field, when, toast, percent } from '../../ui.js';
import { canWrite, heading, apiMessage, buildForm, uploadForm } from './crud.js';

const enc = encodeURIComponent;
const kib = (n) => `${Math.round(n / 1024)} KiB`;

/** Upload a component: the raw bytes as the body (application/wasm). */
function pluginUpload(onDone, fixedName = null) {
  return uploadForm({
    id: 'plugin',
    label: 'Upload a plugin',
    nameLabel: 'Plugin name',
    nameHint: 'Lower case: letters, digits, . _ -',
    placeholder: 'my-ivr',
    fileLabel: 'Component (.wasm)',
    accept: '.wasm,application/wasm',
    submitLabel: fixedName ? 'Upload a new version' : 'Upload',
    busy: 'Checking and compiling the component…',
    missing: { name: 'Give the plugin a name.', file: 'Choose a .wasm component.' },
    fixedName,
    nameFrom: (f) => f.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9._-]/g, '-'),
    // The host names what is wrong with a component it refuses (not a
    // component, unknown world, forbidden import…).
    send: (n, f) => api('POST', t(`/plugins/${enc(n)}`), f, { headers: { 'Content-Type': 'application/wasm' } }),
    stored: (v, n) => {
      toast(`Plugin ${n} version ${v.number} stored.`);
      return `Stored ${n} version ${v.number} (${v.world})${v.active ? ', active' : ': activate it on the plugin\'s page'}.`;
    },
    onDone: (v, n) => onDone(n, v),
  });
}

const list = {
  path: '/admin/plugins',
  title: 'Plugins',
  nav: 'Configure',
  roles: ['admin', 'supervisor'],
  async render(root, { session, go }) {
    const w = canWrite(session);
    const box = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
    const roleBox = h('div');
    const refresh = async () => {
      let rows;
      let roles = null;
      try {
        [rows, roles] = await Promise.all([get(t('/plugins')), get(t('/plugin-roles')).catch(() => null)]);
      } catch (e) {
        fill(box, h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
        return;
      }
      const parts = (name) => {
        if (!roles) return '–';
        const out = [];
        for (const [flow, p] of Object.entries(roles.flows || {})) if (p === name) out.push(`flow ${flow}`);
        for (const [s, p] of Object.entries(roles.strategies || {})) if (p === name) out.push(`strategy ${s}`);
        if (roles.crm === name) out.push('CRM');
        if ((roles.reporters || []).includes(name)) out.push('reporter');
        return out.join(', ') || 'unused';
      };
      fill(box, table([
        { label: 'Plugin', value: (p) => h('a', { href: `#/admin/plugins/${enc(p.name)}` }, p.name) },
        { label: 'World', value: (p) => p.world },
        { label: 'Active', value: (p) => (p.active ? `v${p.active}` : h('span', { class: 'badge bad' }, 'none')) },
        { label: 'Versions', value: (p) => p.versions.length, class: 'num' },
        { label: 'Plays', value: (p) => parts(p.name) },
        { label: 'Last upload', value: (p) => when(p.versions[p.versions.length - 1]?.created_at_ms) },
      ], rows, { empty: 'No plugins yet.' }));
      if (roles) {
        fill(roleBox, h('details', { class: 'card' }, h('summary', {}, 'Plugin roles (which plugin plays which part)'),
          rolesEditor(roles, w, refresh)));
      }
    };
    const policyBox = h('div');
    fill(root, heading('Plugins'),
      h('p', { class: 'hint intro' }, 'WebAssembly components: call flows, queue strategies, CRM connectors and reporters. Each upload is a new version; the first is activated, later ones wait until you activate them.'),
      w ? h('section', { class: 'card' }, h('h2', {}, 'Upload a plugin'), pluginUpload(async () => { await refresh(); })) : null,
      box, roleBox, policyBox);
    // Not awaited: see crud.js (the upload form must keep its focus).
    refresh().then(async () => fill(policyBox, await transcriptPolicy(w)));
  },
};

/** `/plugin-roles` as JSON: parse errors before sending, the API's after. */
function rolesEditor(roles, writable, onSaved) {
  return jsonEditor({
    label: 'Roles (JSON)',
    value: roles,
    writable,
    hint: '{"flows": {flow: plugin}, "crm": plugin, "reporters": [plugin…], "strategies": {name: plugin}}',
    save: async (v) => { await put(t('/plugin-roles'), v); toast('Plugin roles saved.'); await onSaved(); },
  });
}

/**
 * A JSON textarea with a Save button: the text is parsed first (the
 * parse error shown at once, nothing sent), then the API's refusal is
 * shown under it as the API words it.
 */
export function jsonEditor({ label, value, writable, hint, save, id }) {
  const area = h('textarea', { rows: 12, spellcheck: 'false', id, disabled: !writable });
  area.value = JSON.stringify(value, null, 2);
  const err = h('div', { class: 'form-error', role: 'alert' });
  const ok = h('div', { role: 'status', class: 'ok save-status' });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      fill(err);
      fill(ok);
      area.removeAttribute('aria-invalid');
      let v;
      try { v = JSON.parse(area.value); } catch (e) {
        area.setAttribute('aria-invalid', 'true');
        fill(err, h('p', { class: 'error json-parse-error' }, `Not valid JSON: ${e.message}`));
        area.focus();
        return;
      }
      btn.disabled = true;
      try {
        await save(v);
        fill(ok, `Saved ${new Date().toLocaleTimeString()}.`);
      } catch (e) {
        area.setAttribute('aria-invalid', 'true');
        fill(err, h('p', { class: 'error api-error' }, apiMessage(e)));
      } finally { btn.disabled = false; }
    },
  }, field(label, area, hint), err, writable ? h('div', { class: 'row' }, btn, ok) : null);
  return form;
}

const detail = {
  path: '/admin/plugins/:name',
  title: 'Plugin',
  roles: ['admin', 'supervisor'],
  async render(root, { session, params }) {
    const w = canWrite(session);
    const name = params.name;
    const base = t(`/plugins/${enc(name)}`);
    const draw = async () => {
      let p;
      try { p = await get(base); } catch (e) {
        fill(root, h('p', { class: 'crumbs' }, h('a', { href: '#/admin/plugins' }, '← Plugins')),
          h('h1', {}, `Plugin ${name}`), h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
        return;
      }
      const act = (label, f, attrs = {}) => {
        const b = h('button', { type: 'button', ...attrs }, label);
        b.addEventListener('click', async () => {
          b.disabled = true;
          try { await f(); await draw(); } catch (e) { toast(apiMessage(e), 'error'); fill(root.querySelector('.versions-error'), apiMessage(e)); } finally { b.disabled = false; }
        });
        return b;
      };
      const versions = [...p.versions].reverse();
      const cols = [
        { label: 'Version', value: (v) => `v${v.number}` },
        { label: 'State', value: (v) => (v.active ? h('span', { class: 'badge good' }, 'active') : '–') },
        { label: 'Uploaded', value: (v) => when(v.created_at_ms) },
        { label: 'Size', value: (v) => kib(v.size), class: 'num' },
        { label: 'SHA-256', value: (v) => h('span', { class: 'mono', title: v.sha256 }, `${v.sha256.slice(0, 12)}…`) },
      ];
      if (w) {
        cols.push({
          label: 'Actions',
          class: 'actions-col',
          value: (v) => (v.active ? '' : act('Activate', async () => {
            await post(`${base}/activate`, { version: v.number });
            toast(`${name}: version ${v.number} is active.`);
          }, { 'aria-label': `Activate version ${v.number}` })),
        });
      }
      const hasOlder = p.active && p.versions.some((v) => v.number < p.active);
      fill(root,
        h('p', { class: 'crumbs' }, h('a', { href: '#/admin/plugins' }, '← Plugins')),
        heading(`Plugin ${name}`,
          w && hasOlder ? act('Roll back', async () => {
            const r = await post(`${base}/rollback`);
            toast(`${name}: rolled back to version ${r.active}.`);
          }, { id: 'plugin-rollback' }) : null),
        h('p', {}, `${p.world} plugin · active version ${p.active ? `v${p.active}` : 'none'} · ${p.versions.length} version(s)`),
        h('section', { class: 'card' }, h('h2', {}, 'Versions'), table(cols, versions),
          h('p', { class: 'error versions-error', role: 'alert' })),
        w ? h('section', { class: 'card' }, h('h2', {}, 'Upload a new version'), pluginUpload(draw, name)) : null,
        await canarySection(p, base, w, draw),
        w && p.world === 'call-flow' ? replaySection(p, base) : null,
        w ? await upgradeSection(p, base, draw) : null,
        w ? await configSection(base, draw) : h('p', { class: 'hint' }, 'Settings are shown to admins only: they often hold CRM credentials.'),
        await allowlistSection(base, w, draw));
    };
    await draw();
  },
};

/** The plugin's settings (string → string), edited as JSON. Admins only. */
async function configSection(base, redraw) {
  let config;
  try { config = await get(`${base}/config`); } catch (e) {
    return h('section', { class: 'card' }, h('h2', {}, 'Settings'), h('p', { class: 'error' }, apiMessage(e)));
  }
  // Settings are strings, and plugins often keep JSON in them (a
  // router's rules): such a value is shown as JSON to edit, and anything
  // that is not a string is sent back as its JSON text.
  const shown = {};
  for (const [k, v] of Object.entries(config)) {
    let parsed = v;
    if (/^\s*[[{]/.test(v)) { try { parsed = JSON.parse(v); } catch { parsed = v; } }
    shown[k] = parsed;
  }
  return h('section', { class: 'card' }, h('h2', {}, 'Settings'),
    h('p', { class: 'hint' }, 'Saving stores a new version with these settings and activates it; roll back to undo.'),
    jsonEditor({
      label: 'Settings (JSON: key → value)',
      hint: 'Values are strings; an object or list is stored as its JSON text.',
      value: shown,
      writable: true,
      id: 'plugin-config',
      save: async (v) => {
        if (!v || typeof v !== 'object' || Array.isArray(v)) {
          const e = new Error('The settings are a JSON object: {"key": "value", …}.');
          throw e;
        }
        const body = {};
        for (const [k, x] of Object.entries(v)) {
          if (typeof x === 'string') body[k] = x;
          // Unchanged JSON keeps its stored text (spacing and all).
          else if (k in config && JSON.stringify(x) === JSON.stringify(shown[k])) body[k] = config[k];
          else body[k] = JSON.stringify(x);
        }
        const r = await put(`${base}/config`, body);
        toast(`Settings saved as version ${r.number}.`);
        await redraw();
      },
    }));
}

/** The hosts the plugin may reach over HTTP. */
async function allowlistSection(base, writable, redraw) {
  let hosts;
  try { hosts = (await get(`${base}/http-allowlist`)).hosts; } catch (e) {
    return h('section', { class: 'card' }, h('h2', {}, 'HTTP allowlist'), h('p', { class: 'error' }, apiMessage(e)));
  }
  const area = h('textarea', { rows: 4, spellcheck: 'false', disabled: !writable, id: 'plugin-allowlist' });
  area.value = hosts.join('\n');
  const err = h('div', { class: 'form-error', role: 'alert' });
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      fill(err);
      try {
        const r = await put(`${base}/http-allowlist`, { hosts: area.value.split(/[\n,]/).map((x) => x.trim()).filter(Boolean) });
        toast(`Allowlist saved as version ${r.number}.`);
        await redraw();
      } catch (e) {
        fill(err, h('p', { class: 'error' }, apiMessage(e)));
      }
    },
  }, field('Hosts, one a line (api.crm.example or *.example.com)', area), err,
  writable ? h('button', { type: 'submit', class: 'primary' }, 'Save allowlist') : null);
  return h('section', { class: 'card' }, h('h2', {}, 'HTTP allowlist'), form);
}

/** A canary: a version deciding a share of callers, its figures beside the stable's. */
async function canarySection(p, base, writable, redraw) {
  if (p.world !== 'call-flow') return null;
  let c;
  try { c = await get(`${base}/canary`); } catch (e) {
    return h('section', { class: 'card' }, h('h2', {}, 'Canary'), h('p', { class: 'error' }, apiMessage(e)));
  }
  const err = h('div', { class: 'form-error', role: 'alert' });
  const run = async (f) => {
    fill(err);
    try { await f(); await redraw(); } catch (e) { fill(err, h('p', { class: 'error' }, apiMessage(e))); }
  };
  const figs = (label, f) => (f ? h('div', { class: 'card' },
    h('div', { class: 'figure-label' }, `${label} v${f.version}`),
    h('div', { class: 'figure' }, String(f.decisions)),
    h('div', { class: 'subtle' }, `decisions · ${f.failures} failed (${percent(f.failure_rate)}) · p50 ${f.p50_ms == null ? '–' : `${f.p50_ms.toFixed(1)} ms`} · p99 ${f.p99_ms == null ? '–' : `${f.p99_ms.toFixed(1)} ms`}`)) : null);
  const parts = [h('h2', {}, 'Canary')];
  if (c.stopped) parts.push(h('p', { class: 'alert' }, `The host stopped the canary of version ${c.stopped.version}: ${c.stopped.reason}`));
  if (c.canary) {
    parts.push(h('p', {}, `Version ${c.canary.version} decides ${c.canary.percent} % of callers since ${when(c.canary.started_ms)}.`));
    if (writable) {
      parts.push(h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary', onclick: () => run(() => post(`${base}/canary/promote`)) }, 'Promote'),
        h('button', { type: 'button', class: 'danger', onclick: () => run(() => del(`${base}/canary`)) }, 'End canary')));
    }
  } else {
    parts.push(h('p', { class: 'hint' }, 'No canary runs.'));
    const others = p.versions.filter((v) => !v.active);
    if (writable && others.length) {
      const version = h('select', {}, others.map((v) => h('option', { value: v.number }, `v${v.number}`)));
      const pct = h('input', { type: 'number', min: 1, max: 99, value: 10 });
      parts.push(h('form', {
        class: 'upload',
        onsubmit: (ev) => {
          ev.preventDefault();
          run(() => put(`${base}/canary`, { version: Number(version.value), percent: Number(pct.value) }));
        },
      }, field('Version', version), field('Share of callers, %', pct), h('button', { type: 'submit', class: 'primary' }, 'Start canary')));
    }
  }
  parts.push(h('div', { class: 'grid' }, figs('Stable', c.stable), figs('Canary', c.canary_figures)), err);
  return h('section', { class: 'card' }, parts);
}

/** A plugin installed from the catalogue, upgraded to a newer catalogue version. */
async function upgradeSection(p, base, redraw) {
  // The whole catalogue, not /api/catalogue/{name}: most plugins are not
  // in it, and a 404 for each would be noise in the browser's console.
  let entries;
  try { entries = (await get('/api/catalogue')).filter((e) => e.name === p.name); } catch { return null; }
  if (!entries.length) return null;
  const newest = entries.reduce((a, b) => (b.version > a.version ? b : a));
  const err = h('div', { class: 'form-error', role: 'alert' });
  const btn = h('button', { type: 'button', class: 'primary' }, `Upgrade to catalogue version ${newest.version}`);
  btn.addEventListener('click', async () => {
    fill(err);
    btn.disabled = true;
    try {
      const v = await post(`${base}/upgrade`, { version: newest.version });
      toast(`${p.name}: catalogue version ${newest.version} installed as v${v.number}.`);
      await redraw();
    } catch (e) {
      fill(err, h('p', { class: 'error' }, apiMessage(e)));
      btn.disabled = false;
    }
  });
  return h('section', { class: 'card' }, h('h2', {}, 'Catalogue'),
    h('p', { class: 'hint' }, `The catalogue has ${p.name} version ${newest.version}: ${newest.description || ''}. Upgrading keeps your settings and can be rolled back.`),
    btn, err);
}

/**
 * Whether the tenant keeps a transcript of each call's flow decisions:
 * what "replay" runs a new version through before it is activated.
 */
async function transcriptPolicy(writable) {
  let policy;
  try { policy = await get(t('/transcripts/policy')); } catch (e) {
    return h('section', { class: 'card' }, h('h2', {}, 'Call transcripts'), h('p', { class: 'error' }, apiMessage(e)));
  }
  const status = h('div', { role: 'status', class: 'ok save-status' });
  const f = buildForm([
    { name: 'enabled', label: 'Keep a transcript of every call\'s flow decisions', type: 'checkbox', hint: 'Turning it off deletes those kept.' },
    { name: 'max_calls', label: 'Calls kept (1 to 5000)', type: 'number', min: 1, max: 5000 },
    { name: 'max_age_hours', label: 'Kept for, hours (1 to 720)', type: 'number', min: 1, max: 720 },
  ], {
    row: policy,
    readOnly: !writable,
    onSubmit: async (body) => {
      await put(t('/transcripts/policy'), body);
      toast('Transcript policy saved.');
      fill(status, `Saved ${new Date().toLocaleTimeString()}.`);
    },
  });
  return h('section', { class: 'card', id: 'transcript-policy' }, h('h2', {}, 'Call transcripts'),
    h('p', { class: 'hint' }, 'With transcripts kept, a new version of a call flow can be replayed through the last calls before it is activated (on the plugin\'s page).'),
    f.form, status);
}

/** Run a version through the last calls: where would it have acted otherwise? */
function replaySection(p, base) {
  const version = h('select', { name: 'replay-version' },
    [...p.versions].reverse().map((v) => h('option', { value: v.number }, `v${v.number}${v.active ? ' (active)' : ''}`)));
  const inactive = [...p.versions].reverse().find((v) => !v.active);
  if (inactive) version.value = String(inactive.number);
  const calls = h('input', { type: 'number', name: 'replay-calls', min: 1, max: 1000, value: 100 });
  const out = h('div', { class: 'replay-result', 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Replay');
  const short = (x) => {
    const s = typeof x === 'string' ? x : JSON.stringify(x);
    return s && s.length > 160 ? `${s.slice(0, 160)}…` : s;
  };
  const form = h('form', {
    class: 'upload',
    onsubmit: async (ev) => {
      ev.preventDefault();
      btn.disabled = true;
      fill(out, h('p', { class: 'loading' }, 'Replaying…'));
      try {
        const r = await post(`${base}/replay`, { version: Number(version.value), calls: Number(calls.value) || 100 });
        const differing = (r.replays || []).filter((x) => x.difference);
        fill(out,
          h('p', {}, `Version ${r.candidate_version} through ${r.calls} call(s): ${r.same} the same, `,
            h('strong', { class: r.differing ? 'warn' : 'ok' }, `${r.differing} different`), '.'),
          differing.length ? table([
            { label: 'Call', value: (x) => h('span', { class: 'mono' }, x.call_id) },
            { label: 'When', value: (x) => when(x.started_ms), class: 'minor' },
            { label: 'From → to', value: (x) => `${x.caller || '?'} → ${x.dialled || '?'}` },
            { label: 'Step', value: (x) => `${x.difference.step} (${x.difference.event || ''})`, class: 'num' },
            { label: 'Recorded', value: (x) => h('span', { class: 'mono' }, short(x.difference.recorded)) },
            { label: 'This version', value: (x) => h('span', { class: 'mono' }, short(x.difference.candidate)) },
          ], differing) : null);
      } catch (e) {
        fill(out, h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
      } finally { btn.disabled = false; }
    },
  }, field('Version', version), field('Last calls', calls), btn);
  return h('section', { class: 'card' }, h('h2', {}, 'Replay before activating'),
    h('p', { class: 'hint' }, 'Runs a version through the tenant\'s last calls of this plugin and lists every call where it would have acted otherwise. Changes nothing.'),
    form, out);
}

export default [list, detail];
