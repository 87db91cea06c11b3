// Contact-centre reports over a range of days: answered vs abandoned by
// hour of day and by day, the answer-time distribution, service level by
// day against the target, the agents' performance and the traffic per
// number dialled. Each chart has its numbers as a table and a CSV export
// (the API's own CSV where it has one, else built here).
//
// Days are calendar days in the tenant's time zone (the browser's when
// the session may not read the tenant). The API cuts intervals at UTC
// boundaries, so the queue report is asked for by the hour (by the 15
// minutes in a zone whose offset is not whole hours) and the rows are
// summed into local hours and days here; counts add up exactly, and the
// service level of a day is Σ(answered within) ÷ Σ answered, each row's
// "answered within" being its service level × its answered.

import './supervisor.css';
import { api, get, t } from '../../api.js';
import { h, fill, errorBox, errorText, toast, duration } from '../../ui.js';
import {
  tenant, zoned, dayOf, addDays, chunks, intervalFor, settings, toCsv, download, pct, secs,
} from './common.js';
import { stackedBars, bars, levelLine, COLORS } from './charts.js';

/** Longest range the page asks for (split into 30-day requests). */
const MAX_DAYS = 366;
/** Call records read at most for the traffic table. */
const MAX_CDRS = 50000;
const BUCKETS = [
  { label: '0–10 s', max: 10000 },
  { label: '10–20 s', max: 20000 },
  { label: '20–30 s', max: 30000 },
  { label: '30–60 s', max: 60000 },
  { label: '60–120 s', max: 120000 },
  { label: '120 s +', max: Infinity },
];
const FILTER_KEY = 'switchyard.reports.filters';

export default {
  path: '/reports',
  title: 'Reports',
  nav: 'Supervise',
  roles: ['admin', 'supervisor'],
  async render(root, { session }) {
    const info = await tenant(session);
    const tz = info.timeZone;
    const [queues, agents] = await Promise.all([
      get(t('/queues')).catch(() => []),
      get(t('/agents')).catch(() => []),
    ]);
    let charts = [];
    const destroyCharts = () => { for (const c of charts) c.destroy(); charts = []; };

    // --- filters ---
    const todayDay = dayOf(Date.now(), tz);
    let saved = {};
    try { saved = JSON.parse(sessionStorage.getItem(FILTER_KEY) || '{}'); } catch { /* none */ }
    const fromIn = h('input', { type: 'date', id: 'rp-from', required: true, value: saved.from || addDays(todayDay, -6), max: todayDay });
    const toIn = h('input', { type: 'date', id: 'rp-to', required: true, value: saved.to || todayDay });
    const queueSel = h('select', { id: 'rp-queue' }, h('option', { value: '' }, 'All queues'),
      queues.map((q) => h('option', { value: q.name }, q.name)));
    const agentSel = h('select', { id: 'rp-agent' }, h('option', { value: '' }, 'All agents'),
      agents.map((a) => h('option', { value: a.extension }, a.extension)));
    if (saved.queue && queues.some((q) => q.name === saved.queue)) queueSel.value = saved.queue;
    if (saved.agent && agents.some((a) => a.extension === saved.agent)) agentSel.value = saved.agent;
    const submit = h('button', { type: 'submit', class: 'primary', id: 'rp-show' }, 'Show');
    const formError = h('div', { class: 'rp-form-error' });
    const presets = [['Today', 0], ['Last 7 days', 6], ['Last 30 days', 29]].map(([label, n]) => h('button', {
      type: 'button', onclick: () => { fromIn.value = addDays(todayDay, -n); toIn.value = todayDay; load(); },
    }, label));
    const form = h('form', {
      class: 'card', 'aria-label': 'Report range and filters',
      onsubmit: (e) => { e.preventDefault(); load(); },
    },
    h('div', { class: 'rp-filters' },
      lab('From', fromIn), lab('To (inclusive)', toIn), lab('Queue', queueSel), lab('Agent', agentSel),
      h('div', { class: 'field' }, submit)),
    h('div', { class: 'row' }, presets),
    h('p', { class: 'rp-note' },
      `Days in ${tz}${info.zoneSource === 'tenant' ? '' : ' (this browser\'s time zone)'}. `,
      'The queue charts count every agent; the agent filter narrows the answer times, the agent table and the traffic.'),
    formError);
    const out = h('div', { id: 'rp-out', 'aria-live': 'polite', 'aria-busy': 'false' });
    fill(root, h('h1', {}, 'Reports'), form, out);

    let seq = 0;
    async function load() {
      fill(formError);
      const fromDay = fromIn.value;
      const toDay = toIn.value;
      if (!fromDay || !toDay) { fill(formError, errorBox(new Error('Choose both dates.'))); return; }
      if (toDay < fromDay) { fill(formError, errorBox(new Error('"To" is before "From".'))); toIn.focus(); return; }
      const days = [];
      for (let d = fromDay; d <= toDay; d = addDays(d, 1)) {
        days.push(d);
        if (days.length > MAX_DAYS) break;
      }
      if (days.length > MAX_DAYS) {
        fill(formError, errorBox(new Error(`At most ${MAX_DAYS} days at a time (the API answers 31 days per request; this page asks in 30-day steps). Choose a shorter range.`)));
        return;
      }
      const filters = { from: fromDay, to: toDay, queue: queueSel.value, agent: agentSel.value };
      sessionStorage.setItem(FILTER_KEY, JSON.stringify(filters));
      const mine = ++seq;
      submit.disabled = true;
      out.setAttribute('aria-busy', 'true');
      destroyCharts();
      fill(out, h('p', { class: 'loading' }, `Loading ${days.length} day${days.length > 1 ? 's' : ''}…`));
      try {
        const data = await fetchAll(filters, days);
        if (mine !== seq) return;
        draw(data);
      } catch (e) {
        if (mine !== seq) return;
        fill(out, errorBox(e));
      } finally {
        if (mine === seq) { submit.disabled = false; out.setAttribute('aria-busy', 'false'); }
      }
    }

    /** The API's answers for the range, 30 days per request. */
    async function fetchAll(f, days) {
      // Nothing is known about the future: the last window ends now (an
      // agent's state would otherwise count as lasting to midnight).
      const now = Date.now();
      const windows = chunks(f.from, addDays(f.to, 1), tz)
        .map((w) => ({ from: w.from, to: Math.min(w.to, now) })).filter((w) => w.to > w.from);
      if (!windows.length) throw new Error('The range starts in the future: choose days up to today.');
      const from = windows[0].from;
      const to = windows[windows.length - 1].to;
      const qp = (w, extra) => `from=${w.from}&to=${w.to}${extra}`;
      const queueQ = f.queue ? `&queue=${encodeURIComponent(f.queue)}` : '';
      const agentQ = f.agent ? `&agent=${encodeURIComponent(f.agent)}` : '';
      const perWindow = await Promise.all(windows.map(async (w, i) => {
        const interval = intervalFor(w.from, w.to, tz);
        // The log of the last window reaches an hour past the end, for
        // the wrap-ups of calls that ended just before it (as the API's
        // AHT does).
        const logTo = i === windows.length - 1 ? w.to + 3600000 : w.to;
        const [qr, ar, log] = await Promise.all([
          get(t(`/reports/queues?${qp(w, `&interval=${interval}${queueQ}`)}`)),
          get(t(`/reports/agents?${qp(w, agentQ)}`)),
          get(t(`/queue-log?from=${w.from}&to=${logTo}`)),
        ]);
        return { qr, ar, log, interval, w };
      }));
      const cdrs = [];
      let after = null;
      let truncated = false;
      do {
        const page = await get(t(`/cdrs?from=${from}&to=${to}&limit=1000${agentQ}${after ? `&after=${encodeURIComponent(after)}` : ''}`));
        cdrs.push(...page.rows);
        after = page.next;
        if (cdrs.length >= MAX_CDRS) { truncated = Boolean(after); break; }
      } while (after);
      return {
        f, days, from, to, windows,
        queueRows: perWindow.flatMap((p) => p.qr),
        agentRows: perWindow.flatMap((p) => p.ar),
        log: perWindow.flatMap((p) => p.log),
        intervals: [...new Set(perWindow.map((p) => p.interval))],
        cdrs, truncated,
      };
    }

    // --- computing ---
    function compute(d) {
      const { f, days, from, to } = d;
      const byDay = new Map(days.map((day) => [day, { day, offered: 0, answered: 0, abandoned: 0, within: 0 }]));
      const byHour = Array.from({ length: 24 }, (_, hr) => ({ hour: hr, offered: 0, answered: 0, abandoned: 0 }));
      const byQueue = new Map();
      for (const r of d.queueRows) {
        const day = byDay.get(dayOf(r.from_ms, tz));
        const hr = byHour[zonedHour(r.from_ms)];
        const within = r.service_level === null ? 0 : Math.round(r.service_level * r.answered);
        for (const x of [day, hr]) {
          if (!x) continue;
          x.offered += r.offered;
          x.answered += r.answered;
          x.abandoned += r.abandoned;
        }
        if (day) day.within += within;
        if (!byQueue.has(r.queue)) byQueue.set(r.queue, { queue: r.queue, offered: 0, answered: 0, abandoned: 0, within: 0, secs: r.service_level_secs, waits: [], handles: [] });
        const q = byQueue.get(r.queue);
        q.offered += r.offered; q.answered += r.answered; q.abandoned += r.abandoned; q.within += within;
      }
      // The raw log: answer waits (the histogram and ASA), and handle
      // times (talk of `call-ended` + wrap of the call's `wrap-up-ended`).
      const wraps = new Map();
      for (const e of d.log) {
        if (e.kind.type === 'wrap-up-ended' && e.call) wraps.set(`${e.queue}|${e.call}`, e.kind['wrap-ms']);
      }
      const hist = BUCKETS.map((b) => ({ ...b, n: 0 }));
      const waits = [];
      const handleByAgent = new Map();
      const handles = [];
      for (const e of d.log) {
        if (e['at-ms'] < from || e['at-ms'] >= to) continue;
        if (f.queue && e.queue !== f.queue) continue;
        const type = e.kind.type;
        if (type === 'answer') {
          if (f.agent && e.agent !== f.agent) continue;
          const w = e.kind['wait-ms'];
          waits.push(w);
          hist.find((b) => w <= b.max).n += 1;
          byQueue.get(e.queue)?.waits.push(w);
        } else if (type === 'call-ended') {
          const ht = e.kind['talk-ms'] + (wraps.get(`${e.queue}|${e.call}`) || 0);
          if (e.agent) {
            if (!handleByAgent.has(e.agent)) handleByAgent.set(e.agent, []);
            handleByAgent.get(e.agent).push(ht);
          }
          if (!f.agent || e.agent === f.agent) handles.push(ht);
          byQueue.get(e.queue)?.handles.push(ht);
        }
      }
      const agentsAgg = new Map();
      for (const r of d.agentRows) {
        if (!agentsAgg.has(r.agent)) {
          agentsAgg.set(r.agent, { agent: r.agent, calls: 0, talk_ms: 0, missed: 0, failed: 0, pause_ms: 0, pauses: {}, logged_in_ms: 0, staffed_ms: 0, busy_ms: 0 });
        }
        const a = agentsAgg.get(r.agent);
        a.calls += r.calls; a.talk_ms += r.talk_ms; a.missed += r.missed_offers; a.failed += r.failed_offers;
        a.logged_in_ms += r.logged_in_ms; a.staffed_ms += r.staffed_ms; a.busy_ms += r.busy_ms;
        for (const [reason, ms] of Object.entries(r.pause_ms)) {
          a.pause_ms += ms;
          a.pauses[reason] = (a.pauses[reason] || 0) + ms;
        }
      }
      for (const a of agentsAgg.values()) {
        a.occupancy = a.staffed_ms ? a.busy_ms / a.staffed_ms : null;
        a.aht_ms = mean(handleByAgent.get(a.agent) || []);
      }
      const traffic = new Map();
      for (const c of d.cdrs) {
        if (f.queue && c.queue !== f.queue) continue;
        const key = c.dialled || c.callee || '(none)';
        if (!traffic.has(key)) traffic.set(key, { number: key, calls: 0, answered: 0, other: 0 });
        const x = traffic.get(key);
        x.calls += 1;
        if (c.disposition === 'answered') x.answered += 1; else x.other += 1;
      }
      const total = [...byDay.values()].reduce((a, x) => ({
        offered: a.offered + x.offered, answered: a.answered + x.answered, abandoned: a.abandoned + x.abandoned, within: a.within + x.within,
      }), { offered: 0, answered: 0, abandoned: 0, within: 0 });
      return {
        byDay: [...byDay.values()], byHour, hist, waits, handles, total,
        queues: [...byQueue.values()], agents: [...agentsAgg.values()],
        traffic: [...traffic.values()].sort((a, b) => b.calls - a.calls || a.number.localeCompare(b.number)),
      };
    }

    const zonedHour = (ms) => zoned(ms, tz).h;

    // --- drawing ---
    function draw(d) {
      const c = compute(d);
      const { f } = d;
      const target = settings().slTarget;
      const range = `${f.from}_${f.to}`;
      const scope = [f.queue ? `queue ${f.queue}` : 'all queues', f.agent ? `agent ${f.agent}` : null].filter(Boolean).join(', ');
      const dayLabel = (day) => new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' });
      const hourLabel = (hr) => `${String(hr).padStart(2, '0')}:00`;
      const sl = (x) => (x.answered ? x.within / x.answered : null);

      const hourTable = {
        header: ['hour', 'offered', 'answered', 'abandoned'],
        rows: c.byHour.map((x) => [hourLabel(x.hour), x.offered, x.answered, x.abandoned]),
      };
      const dayTable = {
        header: ['day', 'offered', 'answered', 'abandoned', 'service_level'],
        rows: c.byDay.map((x) => [x.day, x.offered, x.answered, x.abandoned, sl(x) === null ? '' : sl(x).toFixed(4)]),
      };
      const histTable = {
        header: ['wait', 'answered'],
        rows: c.hist.map((b) => [b.label, b.n]),
      };
      const queueCsv = (interval) => async () => {
        const parts = await Promise.all(d.windows.map((w) => api('GET', t(`/reports/queues?from=${w.from}&to=${w.to}&format=csv${interval ? `&interval=${interval}` : ''}${f.queue ? `&queue=${encodeURIComponent(f.queue)}` : ''}`))));
        download(`queue-report-${interval || 'total'}-${range}.csv`, joinCsv(parts));
      };

      fill(out,
        h('section', { class: 'card', 'aria-labelledby': 'rp-sum-title' },
          h('div', { class: 'rp-card-head' }, h('h2', { id: 'rp-sum-title' }, `Summary · ${scope}`),
            tools([['CSV', () => download(`queues-${range}.csv`, toCsv(...queueSummaryCsv(c)))],
              ['API CSV (per queue)', queueCsv(null)]])),
          h('div', { class: 'rp-summary' },
            sumFig('Offered', c.total.offered), sumFig('Answered', c.total.answered, 'answered'),
            sumFig('Abandoned', c.total.abandoned),
            sumFig('Abandon rate', c.total.offered ? pct(c.total.abandoned / c.total.offered, 1) : '–'),
            sumFig('Service level', pct(sl(c.total), 1)),
            sumFig('ASA', secs(mean(c.waits))), sumFig('AHT', c.handles.length ? duration(mean(c.handles) / 1000) : '–')),
          sortable('rp-queues', 'Queues over the range', [
            { label: 'Queue', key: (x) => x.queue, show: (x) => x.queue },
            { label: 'Offered', key: (x) => x.offered, num: true },
            { label: 'Answered', key: (x) => x.answered, num: true },
            { label: 'Abandoned', key: (x) => x.abandoned, num: true },
            { label: 'Service level', key: (x) => sl(x) ?? -1, show: (x) => `${pct(sl(x), 1)} (≤ ${x.secs} s)`, num: true },
            { label: 'ASA', key: (x) => mean(x.waits) ?? -1, show: (x) => secs(mean(x.waits)), num: true },
            { label: 'AHT', key: (x) => mean(x.handles) ?? -1, show: (x) => (x.handles.length ? duration(mean(x.handles) / 1000) : '–'), num: true },
          ], c.queues, (x) => ({ queue: x.queue, answered: String(x.answered) }))),
        h('div', { class: 'rp-grid' },
          chartCard('rp-hour', 'Answered and abandoned by hour of day', `Calls by hour of the day (${tz}), summed over the range`,
            (cv) => stackedBars(cv, c.byHour.map((x) => hourLabel(x.hour)), [
              { label: 'Answered', data: c.byHour.map((x) => x.answered), color: COLORS.answered },
              { label: 'Abandoned', data: c.byHour.map((x) => x.abandoned), color: COLORS.abandoned },
            ], { yTitle: 'calls' }),
            hourTable, `by-hour-${range}.csv`, [['API CSV (hourly rows)', queueCsv(d.intervals[0])]]),
          chartCard('rp-day', 'Answered and abandoned by day', 'Calls per day',
            (cv) => stackedBars(cv, c.byDay.map((x) => dayLabel(x.day)), [
              { label: 'Answered', data: c.byDay.map((x) => x.answered), color: COLORS.answered },
              { label: 'Abandoned', data: c.byDay.map((x) => x.abandoned), color: COLORS.abandoned },
            ], { yTitle: 'calls' }),
            { header: dayTable.header.slice(0, 4), rows: dayTable.rows.map((r) => r.slice(0, 4)) }, `by-day-${range}.csv`,
            [['API CSV (daily rows, UTC days)', queueCsv('day')]]),
          chartCard('rp-wait', 'Answer-time distribution',
            `Waits of answered calls (join to answer, as the API's ASA; "0–10 s" is a wait ≤ 10 s). ${c.waits.length} answered, ASA ${secs(mean(c.waits))}.`,
            (cv) => bars(cv, c.hist.map((b) => b.label), 'Answered calls', c.hist.map((b) => b.n), COLORS.answered, 'calls'),
            histTable, `answer-times-${range}.csv`),
          chartCard('rp-sl', 'Service level by day',
            `Answered within each queue's threshold ÷ answered; target ${target} % (set on the wallboard). Days without answered calls have no point.`,
            (cv) => levelLine(cv, c.byDay.map((x) => dayLabel(x.day)), c.byDay.map((x) => (sl(x) === null ? null : sl(x) * 100)), target),
            { header: ['day', 'answered', 'answered_within', 'service_level'], rows: c.byDay.map((x) => [x.day, x.answered, x.within, sl(x) === null ? '' : sl(x).toFixed(4)]) },
            `service-level-${range}.csv`)),
        agentCard(c, d, range),
        trafficCard(c, d, range));
    }

    function agentCard(c, d, range) {
      const { f } = d;
      const header = ['agent', 'calls', 'talk_ms', 'aht_ms', 'missed_offers', 'failed_offers', 'pause_ms', 'logged_in_ms', 'occupancy'];
      const csvRows = c.agents.map((a) => [a.agent, a.calls, a.talk_ms, a.aht_ms === null ? '' : Math.round(a.aht_ms), a.missed, a.failed, a.pause_ms, a.logged_in_ms, a.occupancy === null ? '' : a.occupancy.toFixed(4)]);
      const apiCsv = async () => {
        const parts = await Promise.all(d.windows.map((w) => api('GET', t(`/reports/agents?from=${w.from}&to=${w.to}&format=csv${f.agent ? `&agent=${encodeURIComponent(f.agent)}` : ''}`))));
        download(`agent-report-${range}.csv`, joinCsv(parts));
      };
      return h('section', { class: 'card rp-card', 'aria-labelledby': 'rp-agents-title', id: 'rp-agents' },
        h('div', { class: 'rp-card-head' }, h('h2', { id: 'rp-agents-title' }, 'Agent performance'),
          tools([['CSV', () => download(`agents-${range}.csv`, toCsv(header, csvRows))], ['API CSV', apiCsv]])),
        h('p', { class: 'rp-note' }, 'Calls: queue calls answered and callbacks connected. AHT: talk + wrap-up per call ended. Occupancy: time on calls and wrap-up ÷ time logged in and not paused. Sort by a column by choosing its heading.'),
        sortable('rp-agent-table', 'Agent performance', [
          { label: 'Agent', key: (a) => a.agent, show: (a) => a.agent },
          { label: 'Calls', key: (a) => a.calls, num: true },
          { label: 'Talk', key: (a) => a.talk_ms, show: (a) => duration(a.talk_ms / 1000), num: true },
          { label: 'AHT', key: (a) => a.aht_ms ?? -1, show: (a) => (a.aht_ms === null ? '–' : duration(a.aht_ms / 1000)), num: true },
          { label: 'Missed offers', key: (a) => a.missed, num: true },
          { label: 'Failed offers', key: (a) => a.failed, num: true },
          { label: 'Pause time', key: (a) => a.pause_ms, show: (a) => duration(a.pause_ms / 1000), title: (a) => Object.entries(a.pauses).map(([r, ms]) => `${r} ${duration(ms / 1000)}`).join(', '), num: true },
          { label: 'Logged in', key: (a) => a.logged_in_ms, show: (a) => duration(a.logged_in_ms / 1000), num: true },
          { label: 'Occupancy', key: (a) => a.occupancy ?? -1, show: (a) => pct(a.occupancy, 1), num: true },
        ], c.agents, (a) => ({ agent: a.agent })));
    }

    function trafficCard(c, d, range) {
      const { f } = d;
      const top = c.traffic.slice(0, 12);
      const canvas = h('canvas', { role: 'img', 'aria-label': `Calls per number dialled, top ${top.length}: ${top.map((x) => `${x.number} ${x.calls}`).join(', ')}` });
      const box = h('div', { class: 'chart-box' }, canvas);
      const apiCsv = async () => {
        const text = await api('GET', t(`/cdrs.csv?from=${d.from}&to=${d.to}${f.agent ? `&agent=${encodeURIComponent(f.agent)}` : ''}`));
        download(`cdrs-${range}.csv`, text);
      };
      const sec = h('section', { class: 'card rp-card', 'aria-labelledby': 'rp-traffic-title', id: 'rp-traffic' },
        h('div', { class: 'rp-card-head' }, h('h2', { id: 'rp-traffic-title' }, 'Traffic per number dialled'),
          tools([['CSV', () => download(`traffic-${range}.csv`, toCsv(['number', 'calls', 'answered', 'not_answered'], c.traffic.map((x) => [x.number, x.calls, x.answered, x.other])))],
            ['Call records CSV (API)', apiCsv]])),
        h('p', { class: 'rp-note' }, `From ${d.cdrs.length} call record${d.cdrs.length === 1 ? '' : 's'}${d.truncated ? ` (the first ${MAX_CDRS}; choose a shorter range for all)` : ''}${f.queue ? `, calls through queue ${f.queue}` : ''}. Not answered: no answer, busy, failed, cancelled, voicemail or rejected.`),
        c.traffic.length ? box : null,
        sortable('rp-traffic-table', 'Calls per number dialled', [
          { label: 'Number dialled', key: (x) => x.number, show: (x) => x.number },
          { label: 'Calls', key: (x) => x.calls, num: true },
          { label: 'Answered', key: (x) => x.answered, num: true },
          { label: 'Not answered', key: (x) => x.other, num: true },
          { label: 'Answer rate', key: (x) => x.answered / x.calls, show: (x) => pct(x.answered / x.calls), num: true },
        ], c.traffic, (x) => ({ number: x.number })));
      if (c.traffic.length) {
        box.style.height = `${Math.max(160, 40 + top.length * 30)}px`;
        queueMicrotask(() => charts.push(stackedBars(canvas, top.map((x) => x.number), [
          { label: 'Answered', data: top.map((x) => x.answered), color: COLORS.answered },
          { label: 'Not answered', data: top.map((x) => x.other), color: COLORS.other },
        ], { horizontal: true })));
      }
      return sec;
    }

    /** A chart with its title, its numbers as a table and CSV buttons. */
    function chartCard(id, title, note, make, tableData, csvName, extra = []) {
      const canvas = h('canvas', { role: 'img', 'aria-label': `${title}: ${tableData.rows.map((r) => r.join(' ')).join('; ')}` });
      const sec = h('section', { class: 'card rp-card', id, 'aria-labelledby': `${id}-title` },
        h('div', { class: 'rp-card-head' }, h('h2', { id: `${id}-title` }, title),
          tools([['CSV', () => download(csvName, toCsv(tableData.header, tableData.rows))], ...extra])),
        h('p', { class: 'rp-note' }, note),
        h('div', { class: 'chart-box' }, canvas),
        h('details', { class: 'rp-data' }, h('summary', {}, 'The numbers (table)'),
          h('div', { class: 'table-wrap' }, h('table', { class: 'rp-chart-table' },
            h('caption', { class: 'sr-only' }, title),
            h('thead', {}, h('tr', {}, tableData.header.map((x, i) => h('th', { scope: 'col', class: i ? 'num' : '' }, x.replace(/_/g, ' '))))),
            h('tbody', {}, tableData.rows.map((r) => h('tr', {}, r.map((v, i) => (i ? h('td', { class: 'num' }, v) : h('th', { scope: 'row' }, v))))))))));
      // Drawn once the canvas is in the document (Chart.js sizes it from
      // its box).
      queueMicrotask(() => charts.push(make(canvas)));
      return sec;
    }

    function tools(list) {
      return h('div', { class: 'rp-tools' }, list.map(([label, f]) => h('button', {
        type: 'button', dataset: { csv: label },
        onclick: async (e) => {
          const b = e.currentTarget;
          b.disabled = true;
          try { await f(); } catch (err) { toast(`${label}: ${errorText(err)}`, 'error'); } finally { b.disabled = false; }
        },
      }, `⬇ ${label}`)));
    }

    /**
     * A table sorted by any column (a button in each heading, aria-sort
     * on the sorted one). `cols`: `{label, key(row), show?(row), num?, title?}`.
     */
    function sortable(id, caption, cols, rows, data) {
      let by = 0;
      let dir = 1;
      const wrap = h('div', { class: 'table-wrap', id });
      const drawTable = () => {
        const sorted = [...rows].sort((a, b) => {
          const x = cols[by].key(a);
          const y = cols[by].key(b);
          return (typeof x === 'number' ? x - y : String(x).localeCompare(String(y))) * dir;
        });
        fill(wrap, rows.length ? h('table', { class: 'rp-table' },
          h('caption', { class: 'sr-only' }, caption),
          h('thead', {}, h('tr', {}, cols.map((col, i) => h('th', {
            scope: 'col', class: col.num ? 'num' : '', 'aria-sort': i === by ? (dir > 0 ? 'ascending' : 'descending') : false,
          }, h('button', {
            type: 'button', class: 'rp-sort',
            onclick: () => { if (by === i) dir = -dir; else { by = i; dir = col.num ? -1 : 1; } drawTable(); wrap.querySelector(`th:nth-child(${i + 1}) button`).focus(); },
          }, col.label))))),
          h('tbody', {}, sorted.map((r) => h('tr', { dataset: data(r) }, cols.map((col, i) => {
            const v = col.show ? col.show(r) : String(col.key(r));
            return i === 0 ? h('th', { scope: 'row' }, v) : h('td', { class: col.num ? 'num' : '', title: col.title ? col.title(r) : false }, v);
          })))))
          : h('p', { class: 'empty' }, 'Nothing in this range.'));
      };
      drawTable();
      return wrap;
    }

    function queueSummaryCsv(c) {
      return [['queue', 'offered', 'answered', 'abandoned', 'service_level', 'service_level_secs', 'asa_ms', 'aht_ms'],
        c.queues.map((x) => [x.queue, x.offered, x.answered, x.abandoned,
          x.answered ? (x.within / x.answered).toFixed(4) : '', x.secs,
          mean(x.waits) === null ? '' : Math.round(mean(x.waits)), mean(x.handles) === null ? '' : Math.round(mean(x.handles))])];
    }

    load();
    return () => { seq += 1; destroyCharts(); };
  },
};

function lab(label, input) {
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
}

function sumFig(label, value, key) {
  return h('div', {}, h('div', { class: 'figure-label' }, label),
    h('div', { class: 'figure', dataset: key ? { sum: key } : undefined }, String(value)));
}

function mean(list) {
  return list.length ? list.reduce((a, x) => a + x, 0) / list.length : null;
}

/** CSV answers of several windows as one: the first header only. */
function joinCsv(parts) {
  return parts.map((p, i) => (i ? String(p).split(/\r?\n/).slice(1).join('\r\n') : String(p)).replace(/\s+$/, ''))
    .filter(Boolean).join('\r\n') + '\r\n';
}

