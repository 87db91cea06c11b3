// The operator's plugin catalogue (catalogue.rs): partners' components
// the operator publishes once and describes (a JSON Schema for their
// settings, the hosts they call). A tenant's admin installs an entry as
// one of the tenant's plugins with its own settings, written as JSON and
// checked by the host against the schema (the refusal names the field);
// the operator publishes and describes entries on the same page.

import { api, get, post, put, t } from '../../api.js';
import { h, fill, field, when, toast } from '../../ui.js';
import { heading, apiMessage, splitList, uploadForm } from './crud.js';
import { jsonEditor } from './plugins.js';

const enc = encodeURIComponent;

/** An example settings object from a schema's properties, to start from. */
function example(schema) {
  const props = (schema && schema.properties) || {};
  const out = {};
  for (const [k, p] of Object.entries(props)) {
    if (p.default !== undefined) out[k] = p.default;
    else if (p.type === 'integer' || p.type === 'number') out[k] = 0;
    else if (p.type === 'boolean') out[k] = false;
    else if (p.type === 'object') out[k] = {};
    else if (p.type === 'array') out[k] = [];
    else out[k] = '';
  }
  return out;
}

/** Entries by name, newest version first within each. */
function byName(entries) {
  const m = new Map();
  for (const e of entries) {
    if (!m.has(e.name)) m.set(e.name, []);
    m.get(e.name).push(e);
  }
  for (const v of m.values()) v.sort((a, b) => b.version - a.version);
  return [...m.values()];
}

function installForm(versions, onDone) {
  const newest = versions[0];
  const version = h('select', { name: 'catalogue-version' }, versions.map((v) => h('option', { value: v.version }, `version ${v.version}`)));
  const as = h('input', { type: 'text', name: 'as', value: newest.name, autocomplete: 'off' });
  const hosts = h('input', { type: 'text', name: 'hosts', value: newest.hosts.join(', ') });
  const err = h('div', { class: 'form-error', role: 'alert' });
  const config = jsonEditor({
    label: 'Settings (JSON, checked against the schema below)',
    value: example(newest.config_schema),
    writable: true,
    save: async (cfg) => {
      fill(err);
      const body = { version: Number(version.value), as: as.value.trim() || undefined, config: cfg, http_allowlist: splitList(hosts.value) };
      const v = await post(t(`/catalogue/${enc(newest.name)}/install`), body);
      toast(`Installed ${body.as || newest.name} version ${v.number}.`);
      await onDone(body.as || newest.name);
    },
  });
  // The editor's Save is the install button.
  const save = config.querySelector('button[type="submit"]');
  if (save) save.textContent = 'Install';
  return h('div', { class: 'install' },
    h('div', { class: 'upload' }, field('Version', version), field('Install as', as, 'The tenant\'s plugin name.'),
      field('Hosts it may call', hosts, `Within: ${newest.hosts.join(', ') || 'none'}.`)),
    config, err,
    newest.config_schema ? h('details', {}, h('summary', {}, 'Settings schema'),
      h('pre', { class: 'mono schema' }, JSON.stringify(newest.config_schema, null, 2))) : null);
}

export const cataloguePage = {
  path: '/admin/catalogue',
  title: 'Catalogue',
  nav: 'Configure',
  roles: ['admin', 'supervisor'],
  async render(root, { session, go }) {
    fill(root, h('p', { class: 'loading' }, 'Loading…'));
    let entries;
    try { entries = await get('/api/catalogue'); } catch (e) {
      fill(root, heading('Catalogue'), h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
      return;
    }
    const admin = session.role === 'admin';
    const groups = byName(entries);
    fill(root, heading('Catalogue'),
      h('p', { class: 'hint intro' }, 'Plugins the operator offers. Installing one adds it to your plugins with your settings; a newer catalogue version is an upgrade on the plugin\'s page.'),
      groups.length ? groups.map((vs) => {
        const e = vs[0];
        return h('section', { class: 'card catalogue-entry', dataset: { entry: e.name } },
          h('h2', {}, e.name, ' ', h('span', { class: 'badge' }, e.world), ' ', h('span', { class: 'subtle' }, `v${e.version} · ${when(e.published_ms)}`)),
          h('p', {}, e.description || '–'),
          admin ? installForm(vs, (name) => go(`/admin/plugins/${enc(name)}`)) : null);
      }) : h('p', { class: 'empty' }, 'The operator has published nothing yet.'));
  },
};

/** The operator's side: publish a component, describe a version. */
export const publishPage = {
  path: '/operator/catalogue',
  title: 'Catalogue',
  nav: 'Operate',
  roles: ['operator'],
  async render(root) {
    fill(root, h('p', { class: 'loading' }, 'Loading…'));
    const list = h('div');
    const draw = async () => {
      let entries;
      try { entries = await get('/api/catalogue'); } catch (e) {
        fill(list, h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
        return;
      }
      fill(list, byName(entries).map((vs) => h('section', { class: 'card' },
        h('h2', {}, vs[0].name, ' ', h('span', { class: 'badge' }, vs[0].world)),
        vs.map((v) => h('details', {}, h('summary', {}, `version ${v.version} · ${when(v.published_ms)} · ${v.description || 'not described'}`),
          jsonEditor({
            label: 'Description (JSON: description, config_schema, hosts)',
            value: { description: v.description, config_schema: v.config_schema, hosts: v.hosts },
            writable: true,
            save: async (body) => {
              await put(`/api/catalogue/${enc(v.name)}/${v.version}`, body);
              toast(`Described ${v.name} version ${v.version}.`);
              await draw();
            },
          }))))));
      if (!entries.length) fill(list, h('p', { class: 'empty' }, 'Nothing published yet.'));
    };
    const publish = uploadForm({
      id: 'catalogue',
      label: 'Publish a component',
      nameLabel: 'Name',
      placeholder: 'crm-partner',
      fileLabel: 'Component (.wasm)',
      accept: '.wasm,application/wasm',
      submitLabel: 'Publish',
      missing: { name: 'Give the component a name.', file: 'Choose a .wasm component.' },
      nameFrom: (f) => f.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9._-]/g, '-'),
      send: (n, f) => api('POST', `/api/catalogue/${enc(n)}`, f, { headers: { 'Content-Type': 'application/wasm' } }),
      stored: (v) => `Published ${v.name} version ${v.version} (${v.world}). Describe it below.`,
      onDone: () => draw(),
    });
    fill(root, heading('Catalogue'),
      h('p', { class: 'hint intro' }, 'Components published here can be installed by every tenant\'s admin, with settings checked against the schema you describe.'),
      h('section', { class: 'card' }, h('h2', {}, 'Publish a component'), publish), list);
    draw(); // not awaited: see crud.js
  },
};
