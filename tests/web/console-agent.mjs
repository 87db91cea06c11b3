// Drives the console's agent panel (#/agent) and "My calls"
// (#/agent/history) in headless Chromium with Chromium's fake microphone,
// through a list of steps, asserting what the page shows and what the API
// then says; prints one JSON report on stdout:
//   {"ok": true, "steps": [...], "screen_pop": {...}, "wrap_up": {...}, ...}
// or exits 1 with {"failed": "what", ...}.
//
// Usage:
//   node console-agent.mjs BASE_URL CONFIG_JSON SHOT_DIR [--step 'NAME ARGS…']… [--steps JSON]
//
// CONFIG_JSON keys:
//   tenant_domain   the tenant's SIP domain or id, e.g. "demo.localhost"  (required)
//   extension       the agent's extension, e.g. "1002"                    (required)
//   password        its SIP password (the sign-in's password)             (required)
//   operator_token  optional: lets `agent-state` steps change other agents
//                   (e.g. pause 1003 so the queue offers its call to us)
//   tenant          optional tenant id for those API calls (default: the
//                   session's)
//   steps           optional list of steps (as --steps)
//   timeout_ms      optional wait limit per step (default 30000)
//   crm             optional: serve a tiny CRM for the tenant's crm-rest
//                   connector while the steps run: {"port": 9900,
//                   "contact": {...}} answers GET …/contacts?phone=N with
//                   the contact (its "phone" set to N) and records POSTs
//                   (call logs); the report lists both under "crm"
//
// Steps: objects with "do" (JSON), or strings "NAME ARG…" (--step). Sign-in
// (through the sign-in form, with the extension) is always done first and
// the panel opened. Without steps, the journey: phone registered,
// Available → API available, Pause with a reason → paused + reason shown,
// time in state ticks, Available again, the state buttons reachable by
// Tab, "My calls" opens, screenshots at 1280×800 and 390×844.
//
//   {"do": "registered"}                  the phone shows registered
//   {"do": "available"}                   press Available; page + API say available
//   {"do": "pause", "reason": "lunch"}    pause with a reason; page + API say so
//   {"do": "logout"}                      press Log out; page + API say logged-out
//   {"do": "ticks"}                       time in state counts up
//   {"do": "keyboard"}                    Tab reaches the state buttons
//   {"do": "agent-state", "extension": "1003", "action": "pause", "reason": "break"}
//                                         (operator_token) change another agent
//   {"do": "wait-screen-pop", "name"?: "Alice"}
//                                         a call rings with a screen pop; reports
//                                         name, number, queue, wait, tags, contact
//   {"do": "answer"}                      press Answer; the call is connected
//   {"do": "hold"} / {"do": "resume"} / {"do": "mute"} / {"do": "unmute"}
//   {"do": "dtmf", "digits": "12#"}       press the keypad
//   {"do": "call", "to": "1003"}          dial from the call box
//   {"do": "transfer", "to": "1003"}      blind transfer
//   {"do": "consult", "to": "1003"}       consult: the caller held, the target called
//   {"do": "complete-transfer"} / {"do": "back-to-caller"}
//   {"do": "hears", "packets"?: 50}      the call's audio arrives: RTP packets
//                                         and sound energy grow from now on
//   {"do": "callbar"}                     during a call, My calls shows the call
//                                         bar; its link brings the panel back
//   {"do": "hangup"}                      press Hang up; the call ended
//   {"do": "wrap-up", "code": "resolved", "notes": "…"}
//                                         fill and save the wrap-up form;
//                                         reports what the page says
//   {"do": "history", "expect_code"?: "resolved"}
//                                         open My calls; rows, wrap-up shown
//   {"do": "panel"}                       back to #/agent
//   {"do": "sleep", "ms": 1000}
//   {"do": "wait-file", "path": "/tmp/x"}  wait until a driving test creates it
//   {"do": "transfer-targets"}            the transfer box's suggestions (values)
//   {"do": "screenshot", "name": "x", "width"?: 390, "height"?: 844}
// Each finished step is announced on stderr as one JSON line
// ({"done": "available"}), so a driving test can start its SIP caller
// when the agent is ready.
// --step strings: "wait-screen-pop", "answer", "hangup",
// "wrap-up CODE NOTES…", "pause REASON", "sleep MS", "agent-state EXT ACTION [REASON]", …
//
// The end-to-end run (a SIPp caller in queue `support`), e.g.:
//   node console-agent.mjs http://127.0.0.1:8080 \
//     '{"tenant_domain":"demo.localhost","extension":"1002","password":"…",
//       "operator_token":"…","crm":{"port":9900}}' SHOTS --steps '[
//     {"do":"agent-state","extension":"1003","action":"pause","reason":"break"},
//     {"do":"registered"},{"do":"available"},
//     {"do":"wait-screen-pop","name":"Alice Example"},{"do":"answer"},
//     {"do":"sleep","ms":2000},{"do":"hangup"},
//     {"do":"wrap-up","code":"resolved","notes":"e2e"},
//     {"do":"history","expect_code":"resolved"}]'
// and start the caller (1001 dialling 600, uac_call_wait_bye) once stderr
// says {"done":"available"}. Keep the talk under the host's 30 s RTP
// timeout when the caller sends no audio, and do not hold: SIPp's UAC
// scenarios do not answer the re-INVITE the host passes on to the caller.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { launch } from './chromium.mjs';

const args = process.argv.slice(2);
const positional = [];
const cliSteps = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--step') cliSteps.push(args[++i]);
  else if (args[i] === '--steps') cliSteps.push(...JSON.parse(args[++i]));
  else positional.push(args[i]);
}
const [base, configJson, shotDir] = positional;
if (!base || !configJson || !shotDir) {
  console.error('usage: node console-agent.mjs BASE_URL CONFIG_JSON SHOT_DIR [--step "NAME ARGS"]… [--steps JSON]');
  process.exit(2);
}
const config = JSON.parse(configJson);
const TIMEOUT = config.timeout_ms || 30000;
mkdirSync(shotDir, { recursive: true });

/** `"wrap-up resolved the notes"` → `{do: 'wrap-up', code, notes}`. */
function parseStep(s) {
  if (typeof s !== 'string') return s;
  const [name, ...rest] = s.trim().split(/\s+/);
  switch (name) {
    case 'wrap-up': return { do: name, code: rest[0], notes: rest.slice(1).join(' ') };
    case 'pause': return { do: name, reason: rest[0] };
    case 'sleep': return { do: name, ms: Number(rest[0] || 1000) };
    case 'dtmf': return { do: name, digits: rest[0] || '' };
    case 'call': case 'transfer': return { do: name, to: rest[0] };
    case 'wait-screen-pop': return { do: name, name: rest.join(' ') || undefined };
    case 'history': return { do: name, expect_code: rest[0] };
    case 'screenshot': return { do: name, name: rest[0] || 'shot' };
    case 'agent-state': return { do: name, extension: rest[0], action: rest[1], reason: rest[2] };
    default: return { do: name };
  }
}

const JOURNEY = [
  { do: 'registered' },
  { do: 'screenshot', name: 'agent-panel' },
  { do: 'available' },
  { do: 'pause', reason: 'lunch' },
  { do: 'ticks' },
  { do: 'screenshot', name: 'agent-paused' },
  { do: 'available' },
  { do: 'keyboard' },
  { do: 'screenshot', name: 'agent-phone-width', width: 390, height: 844 },
  { do: 'history' },
  { do: 'screenshot', name: 'agent-history' },
  { do: 'panel' },
];
const steps = (cliSteps.length ? cliSteps : config.steps || JOURNEY).map(parseStep);

const report = { steps: [], console_errors: [], ignored: [] };

// The test CRM (crm-rest's look-up answer: the contact object itself).
let crmServer = null;
if (config.crm) {
  report.crm = { lookups: [], logged: [] };
  crmServer = createServer((req, res) => {
    const url = new URL(req.url, 'http://crm');
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.method === 'GET' && url.pathname.endsWith('/contacts')) {
        const phone = url.searchParams.get('phone') || '';
        report.crm.lookups.push(phone);
        const contact = {
          id: 'c-1', name: 'Alice Example', company: 'Example Ltd', email: 'alice@example.com',
          url: `http://127.0.0.1:${config.crm.port}/contacts/c-1`, tags: ['VIP'], plan: 'gold',
          ...(config.crm.contact || {}), phone,
        };
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(contact));
        return;
      }
      if (req.method === 'POST') {
        try { report.crm.logged.push(JSON.parse(body)); } catch { report.crm.logged.push(body); }
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end('{"id":"log-1"}');
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise((ok, bad) => {
    crmServer.once('error', bad);
    crmServer.listen(config.crm.port || 9900, '127.0.0.1', ok);
  });
}
let failedWhat = null;
const browser = await launch({ media: true });
const page = await browser.newPage();
page.setDefaultTimeout(TIMEOUT);
await page.setViewport({ width: 1280, height: 800 });

// Every failed load is a fault: the host answers every route the panel
// uses, and "nobody signed in" is a 204.
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const url = (m.location() && m.location().url) || '';
  const text = m.text();
  report.console_errors.push(`${text}${url ? ` (${url})` : ''}`);
});
page.on('pageerror', (e) => report.console_errors.push(`pageerror: ${e.message || e}`));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');
const attr = (sel, a) => page.$eval(sel, (e, a2) => e.getAttribute(a2), a).catch(() => null);

function fail(what, extra = {}) {
  const e = new Error(what);
  e.extra = extra;
  throw e;
}

/** The API from inside the page (the session cookie signs it). */
async function apiGet(path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin' });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, path);
}

let tenant = config.tenant || null;
const agentPath = () => `/api/tenants/${encodeURIComponent(tenant)}/agents/${encodeURIComponent(config.extension)}`;

async function waitState(state, reason) {
  await page.waitForFunction((s, r) => {
    const e = document.querySelector('#agent-state');
    return e && e.dataset.state === s && (r === undefined || e.dataset.reason === r);
  }, { timeout: TIMEOUT }, state, reason);
  // The API agrees.
  const deadline = Date.now() + 5000;
  let got;
  while (Date.now() < deadline) {
    got = await apiGet(agentPath());
    if (got.body && got.body.state === state && (reason === undefined || got.body.reason === reason)) return got.body;
    await sleep(250);
  }
  fail(`API says ${JSON.stringify(got && got.body)} after the page showed ${state}`);
}

async function shot(name, width, height) {
  if (width) await page.setViewport({ width, height: height || 844 });
  const file = join(shotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (width) await page.setViewport({ width: 1280, height: 800 });
  return file;
}

/** The main call's inbound audio figures (getStats), or null. */
async function inbound() {
  return page.evaluate(async () => {
    const pc = window.switchyardConsolePhone?.main?.session?.connection;
    if (!pc) return null;
    let got = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        got = { packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0 };
      }
    });
    return got;
  });
}

async function callState(state) {
  await page.waitForSelector(`#call-state[data-state="${state}"]`, { timeout: TIMEOUT });
}

async function signIn() {
  await page.goto(`${base.replace(/\/$/, '')}/#/agent`, { waitUntil: 'load' });
  await page.waitForSelector('#tab-extension');
  await page.click('#tab-extension');
  await page.waitForSelector('input[name="tenant"]');
  await page.type('input[name="tenant"]', config.tenant_domain);
  await page.type('input[name="extension"]', config.extension);
  await page.type('input[name="password"]', config.password);
  await page.click('form button[type="submit"]');
  await page.waitForSelector('#agent-state');
  if (!page.url().includes('#/agent')) {
    await page.evaluate(() => { location.hash = '/agent'; });
    await page.waitForSelector('#agent-state');
  }
  const s = await apiGet('/console/session');
  if (s.status !== 200) fail('no session after sign-in', s);
  tenant = tenant || s.body.tenant;
  return { role: s.body.role, tenant: s.body.tenant, extension: s.body.extension };
}

async function run(step) {
  switch (step.do) {
    case 'registered':
      await page.waitForSelector('#phone-reg[data-state="registered"]');
      return { reg: 'registered' };
    case 'available': {
      const before = await attr('#agent-state', 'data-state');
      if (before !== 'available') {
        await page.waitForSelector('#agent-available:not([disabled])');
        await page.click('#agent-available');
      }
      const a = await waitState('available');
      return { page: await text('#agent-state'), api: a.state };
    }
    case 'pause': {
      const reason = step.reason || 'break';
      const options = await page.$$eval('#agent-pause-reason option', (os) => os.map((o) => o.value));
      if (!options.includes(reason)) fail(`pause reason ${reason} not offered`, { options });
      await page.select('#agent-pause-reason', reason);
      await page.click('#agent-pause');
      const a = await waitState('paused', reason);
      const shown = await text('#agent-state');
      if (!shown.includes(reason)) fail(`the page shows "${shown}", not the reason ${reason}`);
      return { page: shown, api: `${a.state}:${a.reason}` };
    }
    case 'logout': {
      await page.click('#agent-logout');
      const a = await waitState('logged-out');
      return { api: a.state };
    }
    case 'ticks': {
      const a = await text('#agent-since');
      await sleep(2200);
      const b = await text('#agent-since');
      const secs = (x) => x.split(':').reduce((n, p) => n * 60 + Number(p), 0);
      if (!(secs(b) > secs(a))) fail(`time in state did not count up: ${a} then ${b}`);
      return { from: a, to: b };
    }
    case 'keyboard': {
      // From the top of the page, Tab until the last state button; then
      // act by keyboard: Enter on Pause pauses, Enter on Available (now
      // reachable: it is disabled while available) makes available again.
      const walk = async (last) => {
        await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
        await page.focus('#main');
        const reached = [];
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press('Tab');
          const id = await page.evaluate(() => document.activeElement && document.activeElement.id);
          if (id) reached.push(id);
          if (id === last) break;
        }
        return reached;
      };
      const reached = await walk('agent-logout');
      const want = ['agent-pause-reason', 'agent-pause', 'agent-logout'];
      const missing = want.filter((w) => !reached.includes(w));
      if (missing.length) fail(`Tab does not reach ${missing.join(', ')}`, { reached });
      // Focus is visible (the console's :focus-visible outline).
      const visible = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      if (visible === 'none') fail('the focused state button shows no outline');
      await page.focus('#agent-pause');
      await page.keyboard.press('Enter');
      await waitState('paused');
      const reached2 = await walk('agent-available');
      if (!reached2.includes('agent-available')) fail('Tab does not reach Available while paused', { reached: reached2 });
      await page.keyboard.press('Enter');
      await waitState('available');
      return { reached, reached_paused: reached2, focus_outline: visible };
    }
    case 'agent-state': {
      if (!config.operator_token) fail('agent-state needs operator_token in the config');
      const body = { action: step.action };
      if (step.reason) body.reason = step.reason;
      const r = await fetch(`${base.replace(/\/$/, '')}/api/tenants/${encodeURIComponent(tenant)}/agents/${encodeURIComponent(step.extension)}/state`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${config.operator_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const j = await r.json().catch(() => null);
      if (!r.ok) fail(`agent-state ${step.extension}: HTTP ${r.status}`, { body: j });
      return { extension: step.extension, state: j.state, reason: j.reason };
    }
    case 'wait-screen-pop': {
      await page.waitForSelector('#call-state[data-state="incoming"]', { timeout: step.timeout_ms || Math.max(TIMEOUT, 60000) });
      await page.waitForSelector('#screen-pop:not([hidden])');
      // The contact may come a moment after the INVITE (event stream).
      if (step.name) {
        await page.waitForFunction((n) => (document.querySelector('#screen-pop')?.textContent || '').includes(n),
          { timeout: 10000 }, step.name).catch(() => {});
      } else await sleep(500);
      const pop = await page.evaluate(() => {
        const q = (s) => document.querySelector(s);
        const tx = (s) => (q(s) ? q(s).textContent.trim() : null);
        return {
          name: tx('#pop-name'),
          number: tx('#pop-number'),
          display: tx('#pop-display'),
          queue: tx('#pop-queue'),
          wait: tx('#pop-wait'),
          wait_secs: q('#pop-wait') ? q('#pop-wait').dataset.secs : null,
          tags: [...document.querySelectorAll('#pop-tags .badge')].map((b) => b.textContent.trim()),
          vip: Boolean(q('.pop-head .badge.vip')),
          contact: tx('#pop-contact-name'),
          contact_card: tx('#pop-contact'),
          crm_link: q('#pop-crm-link') ? q('#pop-crm-link').href : null,
          answer_focused: document.activeElement === q('#call-answer'),
        };
      });
      report.screen_pop = pop;
      await shot('agent-screen-pop');
      await shot('agent-screen-pop-phone', 390, 844);
      if (step.name && !JSON.stringify(pop).includes(step.name)) fail(`the screen pop does not show ${step.name}`, { pop });
      return pop;
    }
    case 'answer':
      await callState('incoming');
      await page.click('#call-answer');
      await callState('confirmed');
      await shot('agent-on-call');
      return { call: 'confirmed' };
    case 'hold':
      await page.click('#call-hold');
      await callState('held');
      return { call: 'held' };
    case 'resume':
      await page.click('#call-hold');
      await callState('confirmed');
      return { call: 'confirmed' };
    case 'mute':
    case 'unmute':
      await page.click('#call-mute');
      await page.waitForSelector(`#call-mute[aria-pressed="${step.do === 'mute'}"]`);
      return { muted: step.do === 'mute' };
    case 'dtmf':
      for (const d of step.digits) {
        await page.click(`#call-keypad button[data-digit="${d}"]`);
        await sleep(step.gap_ms ?? 300);
      }
      return { sent: await text('#dtmf-sent') };
    case 'call':
      await page.$eval('#dial-target', (e) => { e.value = ''; });
      await page.type('#dial-target', step.to);
      await page.click('#dial-call');
      return { to: step.to };
    case 'transfer':
      await page.$eval('#xfer-target', (e) => { e.value = ''; });
      await page.type('#xfer-target', step.to);
      await page.click('#xfer-blind');
      await page.waitForFunction(() => /transferred|failed|refused/.test(document.querySelector('#xfer-state')?.textContent || ''));
      return { result: await text('#xfer-state') };
    case 'consult':
      await page.$eval('#xfer-target', (e) => { e.value = ''; });
      await page.type('#xfer-target', step.to);
      await page.click('#xfer-consult');
      await page.waitForSelector('#xfer-complete:not([disabled])');
      return { consulting: step.to, state: await text('#xfer-state') };
    case 'complete-transfer':
      await page.click('#xfer-complete');
      await page.waitForFunction(() => /transferred|failed|refused/.test(document.querySelector('#xfer-state')?.textContent || ''));
      return { result: await text('#xfer-state') };
    case 'back-to-caller':
      await page.click('#xfer-back');
      await callState('confirmed');
      return { call: 'confirmed' };
    case 'hears': {
      // Polled until the figures grow (or the step's time is up): what
      // the far end says reaches the page's audio, however late it starts.
      const want = step.packets ?? 50;
      const from = (await inbound()) || { packets: 0, energy: 0 };
      const limit = Date.now() + (step.timeout_ms || TIMEOUT);
      let now = from;
      while (Date.now() < limit) {
        now = (await inbound()) || now;
        if (now.packets - from.packets >= want && now.energy > from.energy) {
          return { packets: now.packets - from.packets, energy: now.energy - from.energy };
        }
        await sleep(200);
      }
      fail('the call\'s audio does not arrive', { from, now });
      break;
    }
    case 'callbar': {
      // Another page during the call: the call bar shows it, the phone
      // stays up, and the panel comes back with the call.
      await page.evaluate(() => { location.hash = '/agent/history'; });
      await page.waitForSelector('#agent-callbar', { visible: true });
      const bar = await text('#agent-callbar');
      await shot('agent-callbar');
      await page.click('#agent-callbar a');
      await page.waitForSelector('#call-state');
      await page.waitForFunction(() => document.querySelector('#agent-callbar')?.hidden);
      return { bar, call: await attr('#call-state', 'data-state') };
    }
    case 'hangup': {
      await page.click('#call-hangup');
      await page.waitForFunction(() => ['ended', 'failed', 'idle'].includes(document.querySelector('#call-state')?.dataset.state));
      return { call: await attr('#call-state', 'data-state') };
    }
    case 'wrap-up': {
      await page.waitForSelector('#wrapup-form', { visible: true });
      const codes = await page.$$eval('#wrapup-code option', (os) => os.map((o) => o.value).filter(Boolean));
      if (!codes.includes(step.code)) fail(`disposition ${step.code} not offered`, { codes });
      await page.select('#wrapup-code', step.code);
      await page.$eval('#wrapup-notes', (e) => { e.value = ''; });
      if (step.notes) await page.type('#wrapup-notes', step.notes);
      const countdown = await text('#wrapup-countdown');
      await page.click('#wrapup-save');
      await page.waitForFunction(() => ['saved', 'error'].includes(document.querySelector('#wrapup-result')?.dataset.state),
        { timeout: TIMEOUT });
      const result = { state: await attr('#wrapup-result', 'data-state'), shown: await text('#wrapup-result'), countdown, codes };
      report.wrap_up = result;
      await shot('agent-wrap-up');
      if (result.state !== 'saved') fail(`wrap-up not saved: ${result.shown}`, { wrap_up: result });
      return result;
    }
    case 'history': {
      await page.evaluate(() => { location.hash = '/agent/history'; });
      await page.waitForFunction(() => {
        const l = document.querySelector('#history-list');
        return l && (l.querySelector('table') || l.querySelector('.empty') || l.querySelector('.error'));
      });
      const err = await text('#history-list .error');
      if (err) fail(`My calls: ${err}`);
      const rows = await page.$$eval('#history-list tbody tr', (rs) => rs.map((r) => r.textContent));
      const players = await page.$$eval('#history-list audio', (as) => as.map((a) => a.getAttribute('src')));
      if (step.expect_code && !rows.some((r) => r.includes(step.expect_code))) {
        fail(`My calls shows no call with wrap-up ${step.expect_code}`, { rows });
      }
      report.history = { rows: rows.length, recordings: players.length };
      return report.history;
    }
    case 'panel':
      await page.evaluate(() => { location.hash = '/agent'; });
      await page.waitForSelector('#agent-state');
      return {};
    case 'sleep':
      await sleep(step.ms || 1000);
      return {};
    case 'transfer-targets': {
      // The transfer box's suggestions: the directory's colleagues and
      // queue numbers.
      await page.waitForFunction(() => document.querySelectorAll('#xfer-targets option').length > 0);
      return { targets: await page.$$eval('#xfer-targets option', (os) => os.map((o) => o.value)) };
    }
    case 'wait-file': {
      // A driving test says "go on" by creating the file (e.g. once the
      // supervisor's wallboard has seen the waiting call).
      const limit = Date.now() + (step.timeout_ms || TIMEOUT);
      while (!existsSync(step.path)) {
        if (Date.now() > limit) fail(`${step.path} never appeared`);
        await sleep(100);
      }
      return {};
    }
    case 'screenshot':
      return { file: await shot(step.name || 'shot', step.width, step.height) };
    default:
      fail(`unknown step ${JSON.stringify(step)}`);
  }
  return {};
}

try {
  report.session = await signIn();
  report.steps.push({ do: 'signin', ...report.session });
  process.stderr.write(`${JSON.stringify({ done: 'signin' })}\n`);
  for (const step of steps) {
    const started = Date.now();
    try {
      const r = await run(step);
      report.steps.push({ do: step.do, ms: Date.now() - started, ...r });
      // Progress on stderr, one JSON line a step: a driving test starts
      // its SIP caller once it reads {"done": "available"}.
      process.stderr.write(`${JSON.stringify({ done: step.do })}\n`);
    } catch (e) {
      failedWhat = `${step.do}: ${e.message}`;
      Object.assign(report, e.extra || {});
      break;
    }
  }
} catch (e) {
  failedWhat = `signin: ${e.message}`;
}
if (failedWhat) {
  await shot('agent-failed').catch(() => {});
  report.page_call_state = await attr('#call-state', 'data-state');
  report.page_agent_state = await attr('#agent-state', 'data-state');
}
await browser.close();
if (crmServer) crmServer.close();
if (!failedWhat && report.console_errors.length) failedWhat = 'console errors';
if (failedWhat) {
  console.log(JSON.stringify({ failed: failedWhat, ...report }));
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, ...report }));
