// "My calls" (/agent/history): the signed-in extension's own call records,
// newest first, with the wrap-up code and notes and a player for the
// recording. An agent's key sees only its own records (the host filters);
// a supervisor or admin with an extension sees the tenant's, so the page
// asks for the extension's calls as agent and as caller/callee and merges.

import './agent.css';
import { get, t, current } from '../../api.js';
import { h, fill, table, errorBox, duration, when } from '../../ui.js';
import { stopIfSignedOut } from './softphone.js';

const PAGE = 50;

function involves(c, ext) {
  return c.caller === ext || c.callee === ext || c.agent === ext;
}

function talkSecs(c) {
  if (!c.answer_ms) return null;
  return Math.max(0, (c.end_ms - c.answer_ms) / 1000);
}

const DISPO_CLASS = { answered: 'good', 'no-answer': 'bad', busy: 'bad', failed: 'bad', rejected: 'bad', cancelled: '' };

function render(root, { session, go }) {
  const ext = session.extension;
  const agentRole = session.role === 'agent';
  let rows = [];
  let next = null;
  const list = h('div', { id: 'history-list', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  const more = h('button', { type: 'button', id: 'history-more', hidden: true }, 'Older calls');
  const refresh = h('button', { type: 'button', id: 'history-refresh' }, 'Refresh');
  const dispo = h('select', { id: 'history-disposition' },
    h('option', { value: '' }, 'all'),
    ['answered', 'no-answer', 'busy', 'failed', 'cancelled', 'voicemail', 'rejected'].map((d) => h('option', { value: d }, d)));

  function player(c) {
    if (!c.recording) return '–';
    const audio = h('audio', {
      controls: true,
      preload: 'none',
      src: t(`/recordings/${encodeURIComponent(c.recording)}`),
      'aria-label': `Recording of the call of ${when(c.start_ms)}`,
    });
    // The media element does not say why (403, 404): say that it failed.
    audio.addEventListener('error', () => {
      audio.replaceWith(h('span', { class: 'error' }, 'The recording could not be loaded.'));
    });
    return audio;
  }

  function wrap(c) {
    const w = c.wrap_up;
    if (!w) return '–';
    return h('div', { class: 'wrap-cell' }, h('span', { class: 'badge' }, w.code || '–'),
      w.notes ? h('div', { class: 'wrap-notes' }, w.notes) : null);
  }

  function draw() {
    fill(list, table([
      { label: 'Time', value: (c) => when(c.start_ms) },
      { label: 'Caller', value: (c) => h('span', {}, c.caller_name ? `${c.caller_name} ` : '', h('span', { class: 'num' }, c.caller)) },
      { label: 'To', value: (c) => (c.dialled && c.dialled !== c.callee ? `${c.dialled} → ${c.callee}` : c.callee) },
      { label: 'Queue', value: (c) => c.queue || '–' },
      { label: 'Talk', class: 'num', value: (c) => duration(talkSecs(c)) },
      { label: 'Result', value: (c) => h('span', { class: `badge ${DISPO_CLASS[c.disposition] || ''}` }, c.disposition) },
      { label: 'Wrap-up', value: wrap },
      { label: 'Recording', value: player },
    ], rows, { empty: 'No calls yet.', caption: `Calls of extension ${ext}, newest first` }));
    more.hidden = !next;
  }

  async function query(params) {
    const q = new URLSearchParams({ limit: String(PAGE), ...params });
    if (dispo.value) q.set('disposition', dispo.value);
    return get(t(`/cdrs?${q}`));
  }

  async function load(reset) {
    if (reset) { rows = []; next = null; }
    try {
      if (agentRole) {
        const p = await query(next ? { after: next } : {});
        rows = rows.concat(p.rows);
        next = p.next || null;
      } else {
        // Two questions (as the agent, and as caller/callee), merged.
        const [a, b] = await Promise.all([query({ agent: ext }), query({ number: ext })]);
        const seen = new Map();
        for (const c of [...a.rows, ...b.rows]) if (involves(c, ext)) seen.set(c.id, c);
        rows = [...seen.values()].sort((x, y) => y.start_ms - x.start_ms);
        next = null;
      }
      draw();
    } catch (e) {
      fill(list, errorBox(e));
    }
  }

  more.addEventListener('click', () => load(false));
  refresh.addEventListener('click', () => load(true));
  dispo.addEventListener('change', () => load(true));

  fill(root,
    h('h1', {}, 'My calls'),
    h('div', { class: 'row history-tools' },
      h('label', { for: 'history-disposition' }, 'Result'), dispo, refresh,
      h('a', { href: '#/agent', onclick: (e) => { e.preventDefault(); go('/agent'); } }, 'Agent panel')),
    list, more);
  load(true);
  return () => {
    stopIfSignedOut(current());
  };
}

export default {
  path: '/agent/history',
  title: 'My calls',
  nav: 'Work',
  roles: ['agent', 'supervisor', 'admin'],
  when: (s) => !!s.extension,
  render,
};
