// Drives the console's supervisor pages (/wallboard, /reports) in headless
// Chromium through a list of steps and prints one JSON report:
//   {"ok": true, "steps": [...], "figures": {...}}  or exits 1 with
//   {"failed": "what", "step": {...}, "steps": [...], "problems": [...]}
//
// Usage: node console-supervisor.mjs BASE_URL CONFIG_JSON SHOT_DIR [STEPS_JSON]
//   BASE_URL     the console, e.g. http://127.0.0.1:8080/
//   CONFIG_JSON  {"supervisor_key": "sy_…"}   a tenant API key, role supervisor
//                 optional "tenant" (default demo),
//                 "expect_call": {"queue": "support", "agent": "1002"} for the
//                 call steps' defaults,
//                 "steps": [...] (instead of the 4th argument)
//   SHOT_DIR     screenshots are saved there
//   STEPS_JSON   the steps; absent: the default journey (below)
//
// Steps (each an object with "do"):
//   {"do": "signin"}                         sign in with the key through the form
//   {"do": "wallboard"}                      open /wallboard; it shows the demo's
//                                            queues support and sales and the
//                                            agents 1002 and 1003 with a state
//   {"do": "pause-shows", "agent": "1003"}   pause the agent through the API; the
//                                            wallboard shows it paused within 8 s
//                                            without a reload; then Unpause on the
//                                            page and the API says it is not paused
//   {"do": "wallboard-shows-waiting", "queue"?: "support"}   a queue shows ≥ 1 waiting
//   {"do": "wallboard-agent-on-call", "agent": "1002"}       the agent is on a call
//   {"do": "reports"}                        open /reports; the charts are drawn
//                                            (canvases with pixels) and the tables
//                                            are there
//   {"do": "csv"}                            the agent table's CSV export downloads
//                                            a CSV with a header row
//   {"do": "report-includes-call", "queue"?: "support"}  today's report counts
//                                            ≥ 1 answered for the queue
//   {"do": "phone"} / {"do": "desktop"}      viewport 390×844 / 1280×800
//   {"do": "shot", "name": "x"}              a screenshot SHOT_DIR/x.png
//   {"do": "sleep", "ms": 1000}
// Every step ends with no console errors so far, or the run fails; each
// finished step is announced on stderr as one JSON line ({"done": "wallboard"}).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './chromium.mjs';

const [baseArg, configJson, shotDir, stepsJson] = process.argv.slice(2);
if (!baseArg || !configJson || !shotDir) {
  console.error('usage: node console-supervisor.mjs BASE_URL CONFIG_JSON SHOT_DIR [STEPS_JSON]');
  process.exit(2);
}
const base = baseArg.endsWith('/') ? baseArg : `${baseArg}/`;
const config = JSON.parse(configJson);
const key = config.supervisor_key;
const tenant = config.tenant || 'demo';
const expect = config.expect_call || {};
const DEFAULT_STEPS = [
  { do: 'signin' },
  { do: 'wallboard' },
  { do: 'shot', name: 'wallboard-1280' },
  { do: 'pause-shows', agent: '1003' },
  { do: 'phone' },
  { do: 'shot', name: 'wallboard-phone' },
  { do: 'desktop' },
  { do: 'reports' },
  { do: 'shot', name: 'reports-1280' },
  { do: 'csv' },
  { do: 'phone' },
  { do: 'shot', name: 'reports-phone' },
  { do: 'desktop' },
];
const steps = stepsJson ? JSON.parse(stepsJson) : config.steps || DEFAULT_STEPS;
mkdirSync(shotDir, { recursive: true });
const downloads = join(shotDir, 'downloads');
rmSync(downloads, { recursive: true, force: true });
mkdirSync(downloads, { recursive: true });

const out = { steps: [], figures: {}, problems: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The API as the supervisor key (for what the page should then show). */
async function apiCall(method, path, body) {
  const res = await fetch(new URL(`api/tenants/${tenant}${path}`, base), {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

class StepFailed extends Error {}
const fail = (what) => { throw new StepFailed(what); };

const browser = await launch();
let failed = null;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  await page.setViewport({ width: 1280, height: 800 });
  page.on('pageerror', (e) => out.problems.push(`pageerror: ${e}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = (m.location() && m.location().url) || '';
    out.problems.push(`console: ${m.text()} ${url}`);
  });
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
  await page.goto(base, { waitUntil: 'load' });

  const open = async (path) => {
    await page.evaluate((p) => { location.hash = p; }, path);
    await page.waitForFunction((p) => location.hash === `#${p}` && document.title.startsWith(p === '/wallboard' ? 'Wallboard' : 'Reports'), {}, path);
  };
  const waitFor = async (what, fn, arg, timeout = 20000) => {
    try {
      await page.waitForFunction(fn, { timeout, polling: 250 }, arg);
    } catch {
      fail(what);
    }
  };

  for (const step of steps) {
    const record = { do: step.do };
    switch (step.do) {
      case 'signin': {
        if (!key) fail('CONFIG_JSON has no supervisor_key');
        await page.waitForSelector('#tab-key');
        await page.click('#tab-key');
        await page.type('input[name=key]', key);
        await page.click('form button[type=submit]');
        await waitFor('signed in: the navigation shows Wallboard (or the form an error)',
          () => [...document.querySelectorAll('#nav a')].some((a) => a.textContent === 'Wallboard')
            || document.querySelector('.form-error .error'));
        const refused = await page.$eval('.form-error', (e) => e.textContent).catch(() => '');
        if (refused) fail(`sign-in refused: ${refused}`);
        record.who = await page.$eval('#who', (e) => e.textContent);
        break;
      }
      case 'wallboard': {
        await open('/wallboard');
        await waitFor('the wallboard shows queues support and sales',
          () => ['support', 'sales'].every((q) => document.querySelector(`[data-queue="${q}"] [data-waiting]`)));
        await waitFor('the wallboard shows agents 1002 and 1003 with a state',
          () => ['1002', '1003'].every((a) => document.querySelector(`tr[data-agent="${a}"] [data-agent-state]`)));
        record.agents = await page.$$eval('tr[data-agent]', (rows) => rows.map((r) => `${r.dataset.agent}:${r.dataset.state}`));
        record.queues = await page.$$eval('[data-queue]', (qs) => qs.map((q) => q.dataset.queue));
        out.figures.wallboard = record;
        break;
      }
      case 'pause-shows': {
        const agent = step.agent || '1003';
        await page.evaluate(() => { window.__sameDocument = true; });
        const t0 = Date.now();
        await apiCall('POST', `/agents/${agent}/state`, { action: 'pause', reason: step.reason || undefined });
        await waitFor(`agent ${agent} shows paused within 8 s`,
          (a) => document.querySelector(`tr[data-agent="${a}"][data-state="paused"]`), agent, 8000);
        record.shown_after_ms = Date.now() - t0;
        if (!(await page.evaluate(() => window.__sameDocument === true))) fail('the page reloaded');
        out.figures.pause_shown_after_ms = record.shown_after_ms;
        // And back through the page's own button.
        await page.click(`tr[data-agent="${agent}"] button[data-action="unpause"]`);
        let state = null;
        for (let i = 0; i < 40; i++) {
          const list = await apiCall('GET', '/agents');
          state = list.find((x) => x.extension === agent)?.state;
          if (state !== 'paused') break;
          await sleep(250);
        }
        if (state === 'paused') fail(`Unpause on the page left ${agent} paused`);
        await waitFor(`agent ${agent} shows ${state} after Unpause`,
          ([a, s]) => document.querySelector(`tr[data-agent="${a}"][data-state="${s}"]`), [agent, state], 8000);
        record.after_unpause = state;
        break;
      }
      case 'wallboard-shows-waiting': {
        await open('/wallboard');
        const q = step.queue || null;
        await waitFor(`a queue${q ? ` (${q})` : ''} shows ≥ 1 waiting`,
          (qq) => [...document.querySelectorAll(qq ? `[data-queue="${qq}"] [data-waiting]` : '[data-waiting]')]
            .some((e) => Number(e.dataset.waiting) >= 1), q, step.timeout_ms || 20000);
        record.waiting = await page.$$eval('[data-queue]', (qs) => Object.fromEntries(qs.map((x) => [x.dataset.queue, Number(x.querySelector('[data-waiting]')?.dataset.waiting)])));
        break;
      }
      case 'wallboard-agent-on-call': {
        await open('/wallboard');
        const agent = step.agent || expect.agent || '1002';
        await waitFor(`agent ${agent} shows on a call`,
          (a) => document.querySelector(`tr[data-agent="${a}"][data-state="on-call"]`)
            && document.querySelector(`tr[data-call][data-agent="${a}"]`), agent, step.timeout_ms || 20000);
        record.agent = agent;
        break;
      }
      case 'reports': {
        await open('/reports');
        await waitFor('the reports are drawn', () => document.querySelector('#rp-out')?.getAttribute('aria-busy') === 'false'
          && document.querySelectorAll('#rp-out canvas').length >= 4, null, 30000);
        const errors = await page.$$eval('#rp-out .error, .rp-form-error .error', (es) => es.map((e) => e.textContent));
        if (errors.length) fail(`the reports show an error: ${errors.join('; ')}`);
        const drawn = await page.$$eval('#rp-out canvas', (cs) => cs.map((c) => {
          const ctx = c.getContext('2d');
          const { data } = ctx.getImageData(0, 0, c.width, c.height);
          let inked = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]) inked++;
          return { w: c.width, h: c.height, inked };
        }));
        if (drawn.some((d) => !d.w || !d.h || d.inked < 50)) fail(`a chart is not drawn: ${JSON.stringify(drawn)}`);
        const tables = await page.evaluate(() => ({
          chart_tables: document.querySelectorAll('#rp-out .rp-chart-table').length,
          queue_rows: document.querySelectorAll('#rp-queues tr[data-queue]').length,
          agent_rows: document.querySelectorAll('#rp-agent-table tr[data-agent]').length,
          traffic: Boolean(document.querySelector('#rp-traffic')),
        }));
        if (tables.chart_tables < 4) fail(`the charts' tables are missing: ${JSON.stringify(tables)}`);
        if (tables.queue_rows < 1 || tables.agent_rows < 1) fail(`the queue or agent table is empty: ${JSON.stringify(tables)}`);
        if (!tables.traffic) fail('the traffic section is missing');
        record.canvases = drawn.length;
        Object.assign(record, tables);
        out.figures.reports = record;
        break;
      }
      case 'csv': {
        const before = new Set(readdirSync(downloads));
        await page.click('#rp-agents button[data-csv="CSV"]');
        let file = null;
        for (let i = 0; i < 40 && !file; i++) {
          await sleep(250);
          file = readdirSync(downloads).find((f) => !before.has(f) && f.endsWith('.csv'));
        }
        if (!file) fail('the CSV export downloaded nothing');
        const text = readFileSync(join(downloads, file), 'utf8');
        const [header, ...rows] = text.trim().split(/\r?\n/);
        if (!header.startsWith('agent,calls,')) fail(`the CSV has no header row: ${header}`);
        record.file = file;
        record.header = header;
        record.rows = rows.length;
        if (rows.length < 1) fail('the CSV has no rows');
        break;
      }
      case 'report-includes-call': {
        const q = step.queue || expect.queue || 'support';
        await open('/reports');
        await page.waitForSelector('#rp-out[aria-busy="false"]');
        // Today only, so the call is in the range whatever was saved.
        await page.$$eval('form button', (bs) => bs.find((b) => b.textContent === 'Today').click());
        await waitFor(`today's report counts ≥ 1 answered in ${q}`,
          (qq) => document.querySelector('#rp-out')?.getAttribute('aria-busy') === 'false'
            && Number(document.querySelector(`#rp-queues tr[data-queue="${qq}"]`)?.dataset.answered) >= 1, q, 30000);
        record.answered = Number(await page.$eval(`#rp-queues tr[data-queue="${q}"]`, (r) => r.dataset.answered));
        record.histogram = await page.$$eval('#rp-wait .rp-chart-table tbody tr', (rs) => rs.map((r) => r.textContent));
        break;
      }
      case 'phone':
        await page.setViewport({ width: 390, height: 844, isMobile: true });
        await sleep(300);
        break;
      case 'desktop':
        await page.setViewport({ width: 1280, height: 800 });
        await sleep(300);
        break;
      case 'shot':
        await sleep(step.wait_ms ?? 400);
        await page.screenshot({ path: join(shotDir, `${step.name}.png`), fullPage: true });
        break;
      case 'sleep':
        await sleep(step.ms);
        break;
      default:
        fail(`unknown step ${JSON.stringify(step)}`);
    }
    if (out.problems.length) fail(`console errors: ${out.problems.join(' | ')}`);
    out.steps.push(record);
    // Progress on stderr, one JSON line a step, for a driving test.
    process.stderr.write(`${JSON.stringify({ done: step.do })}\n`);
  }
} catch (e) {
  failed = e instanceof StepFailed ? e.message : `step threw: ${e && e.stack ? e.stack : e}`;
} finally {
  await browser.close();
}
if (failed) {
  console.log(JSON.stringify({ failed, step: steps[out.steps.length], ...out }));
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, ...out }));
