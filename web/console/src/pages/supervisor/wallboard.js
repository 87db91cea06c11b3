// The supervisor's wallboard: every queue now and today, the agents by
// state, the live calls (listen / whisper / barge / hang up) and the
// alerts that need someone (service level under target, a caller waiting
// too long, calls missed since the page opened). The event stream
// triggers a refresh (debounced), and a 5 s poll is the safety net; the
// clocks tick every second between refreshes.

import './supervisor.css';
import { get, post, del, t, events } from '../../api.js';
import { h, fill, errorText, toast, duration, every } from '../../ui.js';
import {
  tenant, today, settings, saveSettings, debounce, pct, secs,
} from './common.js';

/** The order agents are listed in: who is busy first, then who can take
 * a call, then who cannot. */
const STATE_ORDER = ['on-call', 'reserved', 'wrap-up', 'busy', 'available', 'paused', 'logged-out'];
const STATE_LABEL = {
  'on-call': 'On a queue call', reserved: 'Ringing', 'wrap-up': 'Wrap-up', busy: 'On another call',
  available: 'Available', paused: 'Paused', 'logged-out': 'Logged out',
};
const CALL_STATE_LABEL = {
  routing: 'Routing', ringing: 'Ringing', queued: 'In queue', ivr: 'In IVR', voicemail: 'Voicemail',
  answered: 'Talking', conference: 'Conference',
};

export default {
  path: '/wallboard',
  title: 'Wallboard',
  nav: 'Supervise',
  roles: ['admin', 'supervisor'],
  async render(root, { session }) {
    const info = await tenant(session);
    const tz = info.timeZone;
    const canHangUp = session.role === 'admin' || session.role === 'supervisor';

    // What the page knows; `seen` remembers when it first saw an agent in
    // a state, for servers that do not say (`since_ms`).
    const state = {
      queues: [], live: {}, liveErr: {}, report: {}, agents: [], agentReport: {}, calls: [],
      names: {}, fetchedAt: 0, error: null,
    };
    const seen = new Map();
    // Counters at the first refresh (and the day they are for): a rise
    // since is a missed call to alert on.
    let baseline = null;
    const missed = []; // {key, text, at}
    const dismissed = new Set();
    const openedAt = Date.now();

    // --- layout ---
    const status = h('span', { class: 'wb-status', 'aria-live': 'off' });
    const alerts = h('ul', { class: 'wb-alerts', 'aria-label': 'Alerts' });
    const alertRegion = h('section', { class: 'wb-alert-region', role: 'alert', 'aria-live': 'assertive', 'aria-atomic': 'false' }, alerts);
    const queueBox = h('div', { class: 'wb-queues', id: 'wb-queues' });
    const agentBox = h('div', { id: 'wb-agents' });
    const callBox = h('div', { id: 'wb-calls' });
    const errorLine = h('div', { class: 'wb-error' });
    const settingsBox = settingsPanel(() => { lastAlertKeys = ''; render(); });

    fill(root,
      h('div', { class: 'wb-head' },
        h('h1', {}, 'Wallboard'),
        status,
        document.fullscreenEnabled ? h('button', {
          type: 'button',
          onclick: () => (document.fullscreenElement ? document.exitFullscreen() : root.requestFullscreen()).catch(() => {}),
        }, 'Full screen') : null,
        settingsBox),
      alertRegion,
      errorLine,
      h('section', { 'aria-labelledby': 'wb-q-title' },
        h('h2', { id: 'wb-q-title' }, 'Queues',
          h('small', { class: 'wb-sub' }, ` · today since 00:00 ${info.zoneSource === 'tenant' ? tz : `${tz} (this browser's zone)`}`)),
        queueBox),
      h('div', { class: 'wb-columns' },
        h('section', { 'aria-labelledby': 'wb-a-title', class: 'wb-col' },
          h('h2', { id: 'wb-a-title' }, 'Agents'), agentBox),
        h('section', { 'aria-labelledby': 'wb-c-title', class: 'wb-col' },
          h('h2', { id: 'wb-c-title' }, 'Live calls'), callBox)));

    // Extension names for the agent and call lists (admins and
    // supervisors may read extensions; nothing breaks without).
    get(t('/extensions')).then((list) => {
      for (const e of list) state.names[e.number] = e.display_name;
    }).catch(() => {});

    // --- data ---
    let busy = false;
    let again = false;
    let stopped = false;
    async function refresh() {
      if (stopped) return;
      if (busy) { again = true; return; }
      busy = true;
      try {
        const day = today(tz);
        const q = (p) => `${p}${p.includes('?') ? '&' : '?'}from=${day.from}&to=${day.to}`;
        const [queues, agents, calls, report, agentReport] = await Promise.all([
          get(t('/queues')),
          get(t('/agents')),
          get(t('/calls')),
          get(t(q('/reports/queues'))).catch((e) => { state.reportErr = e; return null; }),
          get(t(q('/reports/agents'))).catch(() => null),
        ]);
        const lives = await Promise.all(queues.map((qu) => get(t(`/queues/${encodeURIComponent(qu.name)}/live`))
          .then((l) => [qu.name, l, null]).catch((e) => [qu.name, null, e])));
        state.queues = queues;
        state.live = {};
        state.liveErr = {};
        for (const [name, l, e] of lives) {
          if (l) state.live[name] = l; else state.liveErr[name] = e;
        }
        state.agents = agents;
        state.calls = calls;
        if (report) {
          state.reportErr = null;
          state.report = Object.fromEntries(report.map((r) => [r.queue, r]));
        }
        if (agentReport) state.agentReport = Object.fromEntries(agentReport.map((r) => [r.agent, r]));
        state.fetchedAt = Date.now();
        state.error = null;
        noteMissed(day.from, report, agentReport);
      } catch (e) {
        state.error = e;
      } finally {
        busy = false;
      }
      if (stopped) return;
      render();
      if (again) { again = false; refresh(); }
    }

    /** Abandoned calls and rung-out offers since the page opened: the
     * counters of today's reports rising past what the first refresh saw. */
    function noteMissed(dayFrom, report, agentReport) {
      if (!report || !agentReport) return;
      const counts = {
        day: dayFrom,
        abandoned: Object.fromEntries(report.map((r) => [r.queue, r.abandoned])),
        missed: Object.fromEntries(agentReport.map((r) => [r.agent, r.missed_offers])),
      };
      if (!baseline || baseline.day !== dayFrom) { baseline = counts; return; }
      const at = Date.now();
      for (const [qn, n] of Object.entries(counts.abandoned)) {
        const was = baseline.abandoned[qn] ?? 0;
        if (n > was) missed.push({ key: `ab-${qn}-${n}-${at}`, at, text: `${n - was} call${n - was > 1 ? 's' : ''} abandoned in queue ${qn}` });
      }
      for (const [ext, n] of Object.entries(counts.missed)) {
        const was = baseline.missed[ext] ?? 0;
        if (n > was) missed.push({ key: `mo-${ext}-${n}-${at}`, at, text: `${agentName(ext)} let ${n - was === 1 ? 'an offer' : `${n - was} offers`} ring out` });
      }
      baseline = counts;
      while (missed.length > 20) missed.shift();
    }

    const agentName = (ext) => (state.names[ext] ? `${ext} ${state.names[ext]}` : ext);

    // --- rendering ---
    let lastAlertKeys = '';
    function render() {
      const s = settings();
      const fresh = state.fetchedAt ? new Date(state.fetchedAt).toLocaleTimeString() : '–';
      fill(status, h('span', { class: `wb-dot${state.error ? ' stale' : ''}`, 'aria-hidden': 'true' }),
        ` ${state.error ? 'Not updating' : 'Live'} · updated ${fresh} · watching since ${new Date(openedAt).toLocaleTimeString()}`);
      fill(errorLine, state.error ? h('p', { class: 'error', role: 'alert' }, `Could not refresh: ${errorText(state.error)}`) : null);
      renderAlerts(s);
      keepFocus(() => {
        renderQueues(s);
        renderAgents();
        renderCalls();
      });
      tick();
    }

    function renderAlerts(s) {
      const list = [];
      for (const qu of state.queues) {
        const r = state.report[qu.name];
        const target = (qu.service_level_target ?? s.slTarget) / 100;
        if (r && r.service_level !== null && r.service_level !== undefined && r.service_level < target) {
          list.push({ key: `sl-${qu.name}`, kind: 'bad', text: `${qu.name}: service level today ${pct(r.service_level)} is under the ${pct(target)} target (answered within ${r.service_level_secs} s)` });
        }
        const l = state.live[qu.name];
        if (l && l.waiting > 0 && waitNow(l) >= s.longWaitSecs) {
          list.push({ key: `wait-${qu.name}`, kind: 'bad', text: `${qu.name}: a caller has waited over ${duration(s.longWaitSecs)} (${l.waiting} waiting)` });
        }
      }
      for (const m of missed) {
        if (!dismissed.has(m.key)) list.push({ key: m.key, kind: 'warn', text: `${m.text} (${new Date(m.at).toLocaleTimeString()})`, dismiss: true });
      }
      // Redraw only when the set changes: a live region read out anew at
      // every refresh would drown a screen reader.
      const keys = list.map((a) => a.key).join('|');
      if (keys === lastAlertKeys) return;
      lastAlertKeys = keys;
      fill(alerts, list.map((a) => h('li', { class: `alert wb-alert ${a.kind}`, dataset: { alert: a.key.split('-')[0] } },
        h('span', {}, a.text),
        a.dismiss ? h('button', {
          type: 'button', class: 'wb-dismiss', 'aria-label': `Dismiss: ${a.text}`,
          onclick: () => { dismissed.add(a.key); renderAlerts(settings()); },
        }, 'Dismiss') : null)));
    }

    function renderQueues(s) {
      if (!state.queues.length) {
        fill(queueBox, h('p', { class: 'empty' }, state.fetchedAt ? 'No queues configured.' : 'Loading…'));
        return;
      }
      fill(queueBox, state.queues.map((qu) => {
        const l = state.live[qu.name];
        const r = state.report[qu.name];
        const target = (qu.service_level_target ?? s.slTarget) / 100;
        const slBad = r && r.service_level !== null && r.service_level < target;
        const waitBad = l && l.waiting > 0 && waitNow(l) >= s.longWaitSecs;
        const staffed = l ? Object.entries(l.agents).filter(([k]) => k !== 'logged-out').reduce((a, [, n]) => a + n, 0) : 0;
        return h('article', { class: `card wb-queue${slBad || waitBad ? ' wb-bad' : ''}`, dataset: { queue: qu.name }, 'aria-labelledby': `wbq-${qu.name}` },
          h('h3', { id: `wbq-${qu.name}` }, qu.name),
          l ? null : h('p', { class: 'error' }, errorText(state.liveErr[qu.name]) || 'No live view.'),
          h('div', { class: 'wb-figs' },
            fig('Waiting', l ? String(l.waiting) : '–', { waiting: l ? l.waiting : '', cls: l && l.waiting ? 'warn' : '' },
              l && l.callbacks_waiting ? `+${l.callbacks_waiting} callback${l.callbacks_waiting > 1 ? 's' : ''}` : null),
            fig('Longest wait', l && l.waiting ? duration(l.longest_wait_secs) : '–',
              { cls: waitBad ? 'bad' : '', tick: l && l.waiting ? 'wait' : null, base: l ? l.longest_wait_secs : 0 }),
            fig('Service level', r ? pct(r.service_level) : '–', { cls: slBad ? 'bad' : r && r.service_level !== null ? 'good' : '' },
              `target ${pct(target)} in ${qu.service_level_secs} s`),
            fig('Answered', r ? String(r.answered) : '–', { answered: r ? r.answered : '' }, r && r.asa_ms !== null ? `ASA ${secs(r.asa_ms)}` : null),
            fig('Abandoned', r ? String(r.abandoned) : '–', { cls: r && r.abandoned ? 'warn' : '' }, r && r.offered ? `of ${r.offered} offered` : null),
            fig('Agents available', l ? String(l.agents.available || 0) : '–', {}, l ? `${staffed} logged in` : null)));
      }));
      if (state.reportErr) queueBox.append(h('p', { class: 'error' }, `Today's figures: ${errorText(state.reportErr)}`));
    }

    function fig(label, value, { cls = '', tick: tk = null, base = 0, waiting, answered } = {}, note = null) {
      const v = h('div', { class: `figure ${cls}`, dataset: { tick: tk || undefined, base: tk ? String(base) : undefined } }, value);
      if (waiting !== undefined && waiting !== '') v.dataset.waiting = String(waiting);
      if (answered !== undefined && answered !== '') v.dataset.answered = String(answered);
      return h('div', { class: 'wb-fig' }, h('div', { class: 'figure-label' }, label), v,
        note ? h('div', { class: 'wb-note' }, note) : null);
    }

    function since(a) {
      if (typeof a.since_ms === 'number') return { ms: a.since_ms, known: true };
      const key = `${a.state}|${a.reason || ''}`;
      const was = seen.get(a.extension);
      if (!was || was.key !== key) seen.set(a.extension, { key, ms: Date.now() });
      return { ms: seen.get(a.extension).ms, known: false };
    }

    function renderAgents() {
      if (!state.agents.length) {
        fill(agentBox, h('p', { class: 'empty' }, state.fetchedAt ? 'No agents: add extensions to a queue.' : 'Loading…'));
        return;
      }
      const rows = [...state.agents].sort((a, b) => (STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state))
        || a.extension.localeCompare(b.extension));
      const counts = {};
      for (const a of rows) counts[a.state] = (counts[a.state] || 0) + 1;
      fill(agentBox,
        h('p', { class: 'wb-counts' }, STATE_ORDER.filter((st) => counts[st]).map((st) =>
          h('span', { class: `badge st-${st}` }, `${STATE_LABEL[st] || st}: ${counts[st]}`))),
        h('div', { class: 'table-wrap' }, h('table', { class: 'wb-table' },
          h('thead', {}, h('tr', {},
            ['Agent', 'State', 'Time in state', 'Today', 'Actions'].map((c, i) => h('th', { scope: 'col', class: i === 2 || i === 3 ? 'num' : '' }, c)))),
          h('tbody', {}, rows.map((a) => {
            const sn = since(a);
            const ends = typeof a.wrap_up_ends_ms === 'number' && a.state === 'wrap-up' ? a.wrap_up_ends_ms : null;
            const rep = state.agentReport[a.extension];
            return h('tr', { dataset: { agent: a.extension, state: a.state } },
              h('th', { scope: 'row' }, h('span', { class: 'wb-ext' }, a.extension),
                state.names[a.extension] ? h('span', { class: 'wb-name' }, ` ${state.names[a.extension]}`) : null,
                h('div', { class: 'wb-note' }, a.queues.join(', '))),
              h('td', {}, h('span', { class: `badge st-${a.state}`, dataset: { agentState: a.state } }, STATE_LABEL[a.state] || a.state),
                a.reason ? h('span', { class: 'wb-reason', dataset: { reason: a.reason } }, ` ${a.reason}`) : null),
              h('td', { class: 'num', dataset: { label: 'In state' } },
                h('span', { dataset: { tick: 'since', base: String(sn.ms), prefix: sn.known ? '' : '≥ ' }, title: sn.known ? '' : 'Counted from when this page first saw the state' }, ''),
                ends ? h('div', { class: 'wb-note', dataset: { tick: 'until', base: String(ends) } }, '') : null),
              h('td', { class: 'num', dataset: { label: 'Today' } }, `${a.calls_today} call${a.calls_today === 1 ? '' : 's'}`, h('div', { class: 'wb-note' }, `talk ${duration(a.talk_secs_today)}`),
                rep && rep.missed_offers ? h('div', { class: 'wb-note warn' }, `${rep.missed_offers} missed`) : null),
              h('td', {}, agentActions(a)));
          })))));
    }

    function agentActions(a) {
      const change = (body, label) => async (e) => {
        const b = e.currentTarget;
        b.disabled = true;
        try {
          await post(t(`/agents/${encodeURIComponent(a.extension)}/state`), body);
          toast(`${agentName(a.extension)}: ${label}`);
          refresh();
        } catch (err) {
          toast(`${agentName(a.extension)}: ${errorText(err)}`, 'error');
          b.disabled = false;
        }
      };
      const btn = (label, body, key, cls) => h('button', {
        type: 'button', class: cls, dataset: { focusKey: `${a.extension}-${key}`, action: key },
        'aria-label': `${label} ${a.extension}`, onclick: change(body, label.toLowerCase()),
      }, label);
      if (a.state === 'logged-out') return h('div', { class: 'row wb-actions' }, btn('Log in', { action: 'login' }, 'login'));
      const out = [];
      if (a.state === 'paused') {
        out.push(btn('Unpause', { action: 'unpause' }, 'unpause', 'primary'));
      } else {
        const reasons = info.pauseReasons.filter((r) => r !== 'no-answer');
        const sel = h('select', { 'aria-label': `Pause reason for ${a.extension}`, dataset: { focusKey: `${a.extension}-reason` } },
          h('option', { value: '' }, 'break'),
          reasons.filter((r) => r !== 'break').map((r) => h('option', { value: r }, r)));
        const keep = pauseChoice.get(a.extension);
        if (keep !== undefined) sel.value = keep;
        sel.addEventListener('change', () => pauseChoice.set(a.extension, sel.value));
        const p = h('button', {
          type: 'button', dataset: { focusKey: `${a.extension}-pause`, action: 'pause' }, 'aria-label': `Pause ${a.extension}`,
          onclick: (e) => change(sel.value ? { action: 'pause', reason: sel.value } : { action: 'pause' }, `paused (${sel.value || 'break'})`)(e),
        }, 'Pause');
        out.push(h('span', { class: 'wb-pause' }, sel, p));
      }
      out.push(btn('Log out', { action: 'logout' }, 'logout'));
      return h('div', { class: 'row wb-actions' }, out);
    }
    const pauseChoice = new Map();

    function renderCalls() {
      if (!state.calls.length) {
        fill(callBox, h('p', { class: 'empty', id: 'wb-no-calls' }, state.fetchedAt ? 'No calls right now.' : 'Loading…'));
        return;
      }
      const calls = [...state.calls].sort((a, b) => a.started_ms - b.started_ms);
      fill(callBox, h('div', { class: 'table-wrap' }, h('table', { class: 'wb-table' },
        h('thead', {}, h('tr', {}, ['Caller', 'Dialled', 'State', 'Agent', 'Duration', 'Supervised by', 'Actions']
          .map((c) => h('th', { scope: 'col', class: c === 'Duration' ? 'num' : '' }, c)))),
        h('tbody', {}, calls.map((c) => h('tr', { dataset: { call: c.call_id, state: c.state, agent: c.agent || '' } },
          h('td', {}, c.caller || '–', state.names[c.caller] ? h('div', { class: 'wb-note' }, state.names[c.caller]) : null),
          h('td', {}, c.dialled || c.callee || '–'),
          h('td', {}, h('span', { class: `badge call-${c.state}` }, CALL_STATE_LABEL[c.state] || c.state)),
          h('td', {}, c.agent ? agentName(c.agent) : '–'),
          h('td', { class: 'num', dataset: { label: 'Duration' } }, h('span', { dataset: { tick: 'since', base: String(c.started_ms) } }, '')),
          h('td', {}, (c.monitors || []).length
            ? c.monitors.map((m) => h('div', {}, `${agentName(m.supervisor)} · ${m.mode}`)) : '–'),
          h('td', {}, h('div', { class: 'row wb-actions' },
            ['listen', 'whisper', 'barge'].map((mode) => h('button', {
              type: 'button', disabled: !c.agent, dataset: { focusKey: `${c.call_id}-${mode}`, action: mode },
              title: c.agent ? '' : 'No agent on the call yet',
              'aria-label': `${mode[0].toUpperCase()}${mode.slice(1)} to the call from ${c.caller}`,
              onclick: (e) => monitor(c, mode, e.currentTarget),
            }, mode[0].toUpperCase() + mode.slice(1))),
            canHangUp ? h('button', {
              type: 'button', class: 'danger', dataset: { focusKey: `${c.call_id}-hangup`, action: 'hangup' },
              'aria-label': `Hang up the call from ${c.caller}`,
              onclick: (e) => hangUp(c, e.currentTarget),
            }, 'Hang up') : null))))))));
    }

    async function monitor(c, mode, b) {
      const ext = session.extension || settings().monitorExtension || await askExtension();
      if (!ext) return;
      b.disabled = true;
      try {
        await post(t(`/calls/${encodeURIComponent(c.call_id)}/monitor`), { supervisor: ext, mode });
        toast(`${ext} rings: answer to ${mode} (keys 4 listen, 5 whisper, 6 barge switch during the call)`);
      } catch (e) {
        toast(`${mode}: ${errorText(e)}`, 'error');
      } finally {
        b.disabled = false;
      }
    }

    async function hangUp(c, b) {
      if (!confirm(`Hang up the call from ${c.caller} to ${c.dialled || c.callee}?`)) return;
      b.disabled = true;
      try {
        await del(t(`/calls/${encodeURIComponent(c.call_id)}`));
        toast('Hung up.');
        refresh();
      } catch (e) {
        toast(`Hang up: ${errorText(e)}`, 'error');
        b.disabled = false;
      }
    }

    /** Ask which extension's phones should ring for monitoring; the
     * answer is remembered in the settings. */
    function askExtension() {
      return new Promise((resolve) => {
        const input = h('input', { id: 'wb-ask-ext', inputmode: 'numeric', autocomplete: 'off', required: true, value: settings().monitorExtension });
        const dlg = h('dialog', { class: 'wb-dialog', 'aria-labelledby': 'wb-ask-title' },
          h('form', { method: 'dialog' },
            h('h2', { id: 'wb-ask-title' }, 'Which extension should ring?'),
            h('p', { class: 'hint' }, 'Monitoring rings a supervisor extension (it needs the supervisor flag); answer it to listen, whisper or barge.'),
            h('div', { class: 'field' }, h('label', { for: 'wb-ask-ext' }, 'Your extension'), input),
            h('div', { class: 'row' },
              h('button', { type: 'submit', class: 'primary', value: 'ok' }, 'Ring it'),
              h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel'))));
        dlg.addEventListener('close', () => {
          const v = input.value.trim();
          dlg.remove();
          if (dlg.returnValue === 'ok' && v) {
            saveSettings({ monitorExtension: v });
            resolve(v);
          } else {
            resolve(null);
          }
        });
        document.body.append(dlg);
        dlg.showModal();
        input.focus();
      });
    }

    function settingsPanel(onChange) {
      const s = settings();
      const target = h('input', { type: 'number', min: 1, max: 100, step: 1, value: s.slTarget, id: 'wb-sl-target' });
      const wait = h('input', { type: 'number', min: 5, max: 3600, step: 5, value: s.longWaitSecs, id: 'wb-long-wait' });
      const ext = h('input', { type: 'text', inputmode: 'numeric', value: s.monitorExtension, id: 'wb-mon-ext', placeholder: session.extension || '' });
      const save = () => {
        const sl = Math.min(100, Math.max(1, Number(target.value) || 80));
        const lw = Math.max(1, Number(wait.value) || 60);
        saveSettings({ slTarget: sl, longWaitSecs: lw, monitorExtension: ext.value.trim() });
        onChange();
      };
      for (const i of [target, wait, ext]) i.addEventListener('change', save);
      return h('details', { class: 'wb-settings' },
        h('summary', {}, 'Settings'),
        h('div', { class: 'wb-settings-body card' },
          h('div', { class: 'field' }, h('label', { for: 'wb-sl-target' }, 'Service-level target (%)'), target,
            h('small', { class: 'hint' }, 'Alert when a queue answers fewer calls within its threshold today.')),
          h('div', { class: 'field' }, h('label', { for: 'wb-long-wait' }, 'Long wait alert (seconds)'), wait),
          session.extension ? null : h('div', { class: 'field' }, h('label', { for: 'wb-mon-ext' }, 'My extension for listen / whisper / barge'), ext)));
    }

    /** Redraw without losing the keyboard user's place. */
    function keepFocus(f) {
      const a = document.activeElement;
      const key = a && a.dataset ? a.dataset.focusKey : null;
      f();
      if (key) {
        const again2 = root.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
        if (again2 && !again2.disabled) again2.focus({ preventScroll: true });
      }
    }

    /** The longest wait now: as fetched, plus the time since. */
    function waitNow(l) {
      return l.longest_wait_secs + (state.fetchedAt ? (Date.now() - state.fetchedAt) / 1000 : 0);
    }

    /** Advance the clocks (and the long-wait alert) between refreshes. */
    function tick() {
      const now = Date.now();
      const gone = state.fetchedAt ? (now - state.fetchedAt) / 1000 : 0;
      const s = settings();
      renderAlerts(s);
      for (const el of root.querySelectorAll('[data-tick]')) {
        const base = Number(el.dataset.base);
        if (el.dataset.tick === 'wait') {
          el.textContent = duration(base + gone);
          el.classList.toggle('bad', base + gone >= s.longWaitSecs);
        } else if (el.dataset.tick === 'since') el.textContent = `${el.dataset.prefix || ''}${duration((now - base) / 1000)}`;
        else if (el.dataset.tick === 'until') el.textContent = `ends in ${duration(Math.max(0, (base - now) / 1000))}`;
      }
    }

    // --- live ---
    const soon = debounce(300, refresh);
    const onEvent = () => soon();
    const closeCalls = events(onEvent);
    const stopPoll = every(5000, refresh);
    const ticker = setInterval(tick, 1000);
    render();

    return () => {
      stopped = true;
      soon.cancel();
      closeCalls();
      stopPoll();
      clearInterval(ticker);
      document.querySelectorAll('dialog.wb-dialog').forEach((d) => d.remove());
    };
  },
};
