// Audio the tenant stores: prompts (uploaded here as WAV, played by flows
// and queues), and recordings and voicemails (written by calls). Each has
// a player: `<audio src=/api/…>` is a same-origin GET, which the session
// cookie authenticates, so nothing is fetched by script.

import { api, get, del, t } from '../../api.js';
import { h, fill, table, field, when, toast } from '../../ui.js';
import { canWrite, deleteButton, heading, apiMessage, uploadForm } from './crud.js';

const enc = encodeURIComponent;

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function seconds(meta) {
  const ms = Number(meta && meta.duration_ms);
  return Number.isFinite(ms) && ms > 0 ? `${(ms / 1000).toFixed(1)} s` : '–';
}

/** A player that fetches nothing until asked to play. */
export function player(src, label, big = false) {
  return h('audio', { controls: true, preload: 'none', src, class: big ? 'player big' : 'player', 'aria-label': label });
}

// ---------------------------------------------------------------- prompts

/** The prompt upload form: a name and a WAV file, sent raw with PUT. */
function promptUpload(onDone, fixedName = null) {
  return uploadForm({
    id: 'prompt',
    label: fixedName ? 'Replace the recording' : 'Upload a prompt',
    nameLabel: 'Prompt name',
    placeholder: 'main-menu',
    fileLabel: 'WAV file (8000 Hz mono, 16-bit PCM or µ-law)',
    accept: '.wav,audio/wav,audio/x-wav',
    submitLabel: fixedName ? 'Replace' : 'Upload',
    missing: { name: 'Give the prompt a name.', file: 'Choose a WAV file.' },
    fixedName,
    // The file's name is a good default for the prompt's.
    nameFrom: (f) => f.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '-'),
    // The API says why it refuses a file (not 8 kHz mono, not WAV…).
    send: (n, f) => api('PUT', t(`/prompts/${enc(n)}`), f, { headers: { 'Content-Type': 'audio/wav' } }),
    stored: (rec) => {
      toast(`Prompt ${rec.name} stored.`);
      return `Stored ${rec.name}: ${rec.meta.encoding || ''}, ${seconds(rec.meta)}.`;
    },
    onDone,
  });
}

const prompts = {
  path: '/admin/prompts',
  title: 'Prompts',
  nav: 'Configure',
  roles: ['admin', 'supervisor'],
  async render(root, { session }) {
    const w = canWrite(session);
    const listBox = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
    const refresh = async () => {
      let rows;
      try { rows = await get(t('/prompts')); } catch (e) {
        fill(listBox, h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
        return;
      }
      const cols = [
        { label: 'Prompt', value: (r) => h('a', { href: `#/admin/prompts/${enc(r.id)}` }, r.id) },
        { label: 'Play', value: (r) => player(t(`/prompts/${enc(r.id)}`), `Play ${r.id}`) },
        { label: 'Length', value: (r) => seconds(r.meta), class: 'num' },
        { label: 'Encoding', value: (r) => r.meta.encoding || '–', class: 'minor' },
        { label: 'Size', value: (r) => size(r.size), class: 'num minor' },
        { label: 'Uploaded', value: (r) => when(r.created_at_ms), class: 'minor' },
        {
          label: 'Actions',
          class: 'actions-col',
          value: (r) => h('div', { class: 'row actions' },
            h('a', { href: t(`/prompts/${enc(r.id)}`), download: r.name }, 'Download'),
            w ? deleteButton(`prompt ${r.id}`, async () => {
              await del(t(`/prompts/${enc(r.id)}`));
              toast(`Deleted prompt ${r.id}.`);
              await refresh();
            }) : null),
        },
      ];
      fill(listBox, table(cols, rows, { empty: 'No prompts yet.' }));
    };
    fill(root, heading('Prompts'),
      h('p', { class: 'hint intro' }, 'Recorded messages that flows and queues play: menus, music on hold, comfort and whisper messages.'),
      w ? h('section', { class: 'card' }, h('h2', {}, 'Upload a prompt'), promptUpload(refresh)) : null,
      listBox);
    refresh(); // not awaited: see crud.js
  },
};

const prompt = {
  path: '/admin/prompts/:name',
  title: 'Prompt',
  roles: ['admin', 'supervisor'],
  async render(root, { session, params, go }) {
    const w = canWrite(session);
    const name = params.name;
    const draw = async () => {
      let rec;
      try {
        rec = (await get(t('/prompts'))).find((p) => p.id === name);
        if (!rec) throw new Error(`No prompt ${name}.`);
      } catch (e) {
        fill(root, h('p', { class: 'crumbs' }, h('a', { href: '#/admin/prompts' }, '← Prompts')),
          h('h1', {}, `Prompt ${name}`), h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
        return;
      }
      // A query string that changes with each upload, so a replaced
      // prompt is not played from the browser's cache.
      const src = `${t(`/prompts/${enc(name)}`)}?v=${rec.created_at_ms}`;
      fill(root,
        h('p', { class: 'crumbs' }, h('a', { href: '#/admin/prompts' }, '← Prompts')),
        heading(`Prompt ${name}`, w ? deleteButton(`prompt ${name}`, async () => {
          await del(t(`/prompts/${enc(name)}`));
          toast(`Deleted prompt ${name}.`);
          go('/admin/prompts');
        }) : null),
        h('section', { class: 'card' },
          player(src, `Play ${name}`, true),
          h('dl', { class: 'kv' },
            h('dt', {}, 'Length'), h('dd', {}, seconds(rec.meta)),
            h('dt', {}, 'Encoding'), h('dd', {}, rec.meta.encoding || '–'),
            h('dt', {}, 'Size'), h('dd', {}, size(rec.size)),
            h('dt', {}, 'Uploaded'), h('dd', {}, when(rec.created_at_ms))),
          h('p', {}, h('a', { href: src, download: rec.name }, `Download ${rec.name}`))),
        w ? h('section', { class: 'card' }, h('h2', {}, 'Replace the recording'), promptUpload(draw, name)) : null);
    };
    await draw();
  },
};

// ---------------------------------------------------------------- recordings, voicemails

function filesPage(kind, title, intro) {
  return {
    path: `/admin/${kind}s`,
    title,
    nav: 'Configure',
    roles: ['admin', 'supervisor'],
    async render(root, { session }) {
      const w = canWrite(session);
      const listBox = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
      const filter = h('input', { type: 'search', placeholder: 'call id, extension, name…' });
      let rows = [];
      const draw = () => {
        const q = filter.value.trim().toLowerCase();
        const shown = q ? rows.filter((r) => JSON.stringify(r).toLowerCase().includes(q)) : rows;
        const cols = [
          { label: 'Recorded', value: (r) => when(r.created_at_ms) },
          { label: 'Play', value: (r) => player(t(`/${kind}s/${enc(r.id)}`), `Play ${r.name}`) },
          { label: 'Length', value: (r) => seconds(r.meta), class: 'num' },
          {
            label: 'Details',
            value: (r) => h('span', { class: 'subtle' },
              Object.entries(r.meta).filter(([k]) => k !== 'duration_ms').map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join(' · ') || r.name),
          },
          { label: 'Size', value: (r) => size(r.size), class: 'num minor' },
          {
            label: 'Actions',
            class: 'actions-col',
            value: (r) => h('div', { class: 'row actions' },
              h('a', { href: t(`/${kind}s/${enc(r.id)}`), download: r.name }, 'Download'),
              w ? deleteButton(`${kind} ${r.id}`, async () => {
                await del(t(`/${kind}s/${enc(r.id)}`));
                toast(`Deleted the ${kind}.`);
                await refresh();
              }) : null),
          },
        ];
        fill(listBox, table(cols, shown, { empty: q ? 'Nothing matches.' : `No ${kind}s yet.` }));
      };
      const refresh = async () => {
        try { rows = await get(t(`/${kind}s`)); } catch (e) {
          fill(listBox, h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
          return;
        }
        rows.sort((a, b) => b.created_at_ms - a.created_at_ms);
        draw();
      };
      filter.addEventListener('input', draw);
      fill(root, heading(title), h('p', { class: 'hint intro' }, intro),
        h('div', { class: 'row' }, field('Filter', filter)), listBox);
      refresh(); // not awaited: see crud.js
    },
  };
}

export default [
  prompts, prompt,
  filesPage('recording', 'Recordings', 'Recorded calls, newest first.'),
  filesPage('voicemail', 'Voicemails', 'Messages left for extensions and groups, newest first.'),
];
