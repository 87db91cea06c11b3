// Drives the console's admin and operator pages in headless Chromium and
// checks each result twice: on the page, and by reading the API back with
// the admin key (or operator token) from node.
//
// Usage: node console-admin.mjs BASE_URL CONFIG_JSON SHOT_DIR [STEPS_JSON]
//   BASE_URL     e.g. http://127.0.0.1:28082
//   CONFIG_JSON  {"admin_key": "sy_…",            a tenant API key of role admin
//                 "operator_token": "syop_…",     the host's operator token
//                 "broken_wasm": "/path/file",    a file the plugin upload refuses
//                 "good_wasm": "/path/file",      optional: a component the host takes (any world),
//                                                 for the catalogue steps
//                 "agent_extension": "1002",      an extension without the supervisor flag
//                 "agent_password": "…",          its SIP password
//                 "supervisor_extension": "1001", optional: an extension with the supervisor flag
//                 "supervisor_password": "…",     its SIP password
//                 "tenant": "demo",               optional (default demo)
//                 "tenant_domain": "demo.localhost"}  optional (default demo.localhost)
//   SHOT_DIR     screenshots are written here
//   STEPS_JSON   optional: a JSON array of steps (default: the whole journey below)
//
// Steps (each an object with "do"):
//   {"do": "signin-key"}              sign in with admin_key through the sign-in form
//   {"do": "create-queue"}            New queue (unique name) → listed, and GET /queues/NAME
//   {"do": "add-agent", "extension": "1003"}  on that queue's page → listed, and in the API
//                                     (create-queue, add-agent and cleanup take "queue": NAME
//                                     to name the queue when the steps are run apart)
//   {"do": "extension-create-delete"} create (generated password, shown once), then delete
//   {"do": "upload-broken-plugin"}    the page shows exactly the API's refusal
//   {"do": "prompt-player"}           a prompt's page has a player whose audio loads
//   {"do": "prompt-upload"}           a WAV made here is uploaded, listed with its length, deleted;
//                                     broken_wasm uploaded as a prompt shows the API's refusal
//   {"do": "api-key-create-revoke"}   token shown once works against the API; revoked, it stops
//   {"do": "plugin-config-errors"}    settings JSON: a parse error shown before sending, the
//                                     API's refusal (a host key) shown as the API words it
//   {"do": "plugin-versions", "plugin": "crm-rest"}  save its settings unchanged (a new
//                                     active version), roll back, activate the new one again
//   {"do": "shots", "pages": ["/admin/queues", …]}  screenshots at 1280×800 and 390×844
//   {"do": "signin-supervisor"}       sign in as supervisor_extension / supervisor_password
//   {"do": "supervisor-readonly"}     a queue's page shows its agents with no controls that change
//   {"do": "signout"}
//   {"do": "signin-operator"}         sign in with operator_token
//   {"do": "operator-tenants"}        Tenants lists the tenant (demo)
//   {"do": "tenant-suspend-resume"}   (not in the default journey: it briefly suspends demo)
//   {"do": "catalogue-publish"}       as operator: publish good_wasm (unique name), describe it
//                                     with a settings schema ({"weight": integer ≥ 1})
//   {"do": "catalogue-install"}       as admin: settings against the schema refused in the API's
//                                     words, then installed → the plugin's page, and in the API
//                                     (both in the default journey only when good_wasm is given)
//   {"do": "signin-agent"}            sign in as agent_extension
//   {"do": "agent-no-admin"}          no Configure navigation; #/admin/queues says "Not allowed"
//   {"do": "cleanup"}                 delete the queue this run created (through the API)
// Prints one JSON object: {"ok": true, "steps": [...], ...figures} or exits 1
// with {"failed": "what", ...}.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './chromium.mjs';

const [base, configJson, shotDir, stepsJson] = process.argv.slice(2);
if (!base || !configJson || !shotDir) {
  console.error('usage: node console-admin.mjs BASE_URL CONFIG_JSON SHOT_DIR [STEPS_JSON]');
  process.exit(2);
}
const config = JSON.parse(configJson);
const tenant = config.tenant || 'demo';
const domain = config.tenant_domain || `${tenant}.localhost`;
mkdirSync(shotDir, { recursive: true });
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
// The queue this run creates; steps may name another ("queue": …) so
// that the pieces can be called in separate runs.
let queueName = `q-${run}`;
const catalogueName = `cat-${run}`;

const DEFAULT_STEPS = [
  { do: 'signin-key' },
  { do: 'create-queue' },
  { do: 'add-agent', extension: '1003' },
  { do: 'extension-create-delete' },
  { do: 'upload-broken-plugin' },
  { do: 'prompt-player' },
  { do: 'prompt-upload' },
  { do: 'api-key-create-revoke' },
  { do: 'plugin-config-errors' },
  { do: 'plugin-versions' },
  { do: 'shots', pages: ['/admin/extensions', '/admin/queues', `/admin/queues/${queueName}`, '/admin/plugins', '/admin/prompts'] },
  { do: 'signout' },
  { do: 'signin-operator' },
  { do: 'operator-tenants' },
  { do: 'shots', pages: ['/operator/tenants', '/operator/system'] },
  ...(config.good_wasm ? [{ do: 'catalogue-publish' }, { do: 'signout' }, { do: 'signin-key' }, { do: 'catalogue-install' }] : []),
  { do: 'signout' },
  ...(config.supervisor_extension ? [{ do: 'signin-supervisor' }, { do: 'supervisor-readonly' }, { do: 'signout' }] : []),
  { do: 'signin-agent' },
  { do: 'agent-no-admin' },
  { do: 'cleanup' },
];
const steps = stepsJson ? JSON.parse(stepsJson) : DEFAULT_STEPS;

const out = { ok: true, steps: [], queue: queueName };
const problems = [];
// Refusals the journey provokes on purpose, logged by Chromium as
// "Failed to load resource": not errors of the page.
const expected = [
  ...[400, 413, 415, 422].map((status) => ({ url: '/plugins/', status })),
  ...[413, 422].map((status) => ({ url: '/prompts/', status })),
  { url: '/http-allowlist', status: 400 },
  { url: '/install', status: 400 },
];

/** A WAV the host takes for a prompt: 8000 Hz mono 16-bit PCM, a 440 Hz tone. */
function wav(seconds) {
  const n = Math.round(8000 * seconds);
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24); b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + i * 2);
  return b;
}

/** A failed check: thrown, reported once below, after the clean-up. */
class Failed extends Error {
  constructor(what, extra) {
    super(what);
    this.extra = extra;
  }
}
function fail(what, extra = {}) {
  throw new Failed(what, extra);
}
let queueCreated = false;
let queueDeleted = false;

/** The API from node, with a bearer credential. */
async function apiAs(token, method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
  if (body !== undefined) {
    if (body instanceof Uint8Array) init.body = body;
    else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, data };
}
const admin = (m, p, b, hd) => apiAs(config.admin_key, m, `/api/tenants/${tenant}${p}`, b, hd);

const browser = await launch();
let page;
try {
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => problems.push(`pageerror: ${e}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = (m.location() && m.location().url) || '';
    const status = Number((text.match(/status of (\d+)/) || [])[1]);
    if (/Failed to load resource/.test(text) && expected.some((x) => url.includes(x.url) && x.status === status)) return;
    problems.push(`console: ${text} ${url}`);
  });

  // Open a page and wait until it has drawn: its heading is there and
  // nothing says Loading. The old page is cleared first so that its
  // heading is not taken for the new one's.
  const go = async (path) => {
    if (await page.evaluate((p) => location.hash === `#${p}`, path)) {
      // The same address fires no hashchange: go by the home page so
      // that the page is drawn afresh, not left as the last step left it.
      await page.evaluate(() => { location.hash = '/'; });
      await page.waitForFunction(() => location.hash === '#/' && document.querySelector('#main h1'));
    }
    await page.evaluate((p) => {
      // Focus leaves <main>, so that its focus again says the render is done.
      if (document.activeElement) document.activeElement.blur();
      document.getElementById('main').replaceChildren();
      location.hash = p;
    }, path);
    await page.waitForFunction(() => document.querySelector('#main h1') && !document.querySelector('#main .loading'));
    // The shell focuses <main> once the page's render has resolved (after
    // its last fetch): typing before that would lose keys to it.
    await page.waitForFunction(() => document.activeElement === document.getElementById('main'), { timeout: 5000 }).catch(() => {});
  };
  // Toasts (bottom right, 5 s) may lie over a row's buttons, and a
  // mouse click at the button's place would land on the toast: buttons
  // are pressed as the keyboard would (focus, then Enter).
  const press = async (sel) => {
    await page.waitForSelector(sel);
    await page.focus(sel);
    await page.keyboard.press('Enter');
  };
  const textOf = (sel) => page.$eval(sel, (e) => e.textContent.trim());
  const waitText = (sel, text) => page.waitForFunction((s, t) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(t)), {}, sel, text);

  async function signIn(tab, values) {
    await page.goto(base, { waitUntil: 'load' });
    await page.waitForSelector('.signin');
    await press(`#tab-${tab}`);
    for (const [name, v] of Object.entries(values)) {
      await page.$eval(`.signin input[name="${name}"]`, (e) => { e.value = ''; });
      await page.type(`.signin input[name="${name}"]`, v);
    }
    await press('.signin button[type="submit"]');
    // The header shows once signed in (an agent's navigation may be empty).
    await page.waitForSelector('#top:not([hidden])');
    await page.waitForFunction(() => !document.querySelector('.signin'));
  }

  const shot = async (name) => {
    await page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
  };

  for (const step of steps) {
    const record = { do: step.do };
    if (step.queue) queueName = step.queue;
    switch (step.do) {
      case 'signin-key':
        await signIn('key', { key: config.admin_key });
        record.nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
        if (!record.nav.includes('Queues')) fail('admin nav has no Queues', record);
        break;
      case 'signin-operator':
        await signIn('operator', { token: config.operator_token });
        break;
      case 'signin-agent':
        await signIn('extension', { tenant: domain, extension: config.agent_extension, password: config.agent_password });
        break;
      case 'signin-supervisor':
        await signIn('extension', { tenant: domain, extension: config.supervisor_extension, password: config.supervisor_password });
        break;
      case 'supervisor-readonly': {
        await go('/admin/queues/support');
        await page.waitForSelector('#queue-agents tbody tr');
        const writable = await page.evaluate(() => ({
          submit: document.querySelectorAll('#main button[type="submit"]').length,
          del: document.querySelectorAll('#main button.danger').length,
          enabled: [...document.querySelectorAll('#main .crud-form input, #main .crud-form select')].filter((e) => !e.disabled).length,
        }));
        if (writable.submit || writable.del || writable.enabled) fail('a supervisor gets controls that change the queue', writable);
        await go('/admin/queues');
        if (await page.$('#new-queue')) fail('a supervisor gets a New queue button');
        record.readonly = true;
        break;
      }
      case 'prompt-upload': {
        const name = `test-${run}`;
        const wavPath = join(tmpdir(), `${name}.wav`);
        writeFileSync(wavPath, wav(0.6));
        await go('/admin/prompts');
        await page.type('input[name="prompt-name"]', name);
        await (await page.$('input[name="prompt-file"]')).uploadFile(wavPath);
        await press('form.upload button[type="submit"]');
        await page.waitForSelector('#prompt-upload-result .ok');
        await page.waitForFunction((n) => [...document.querySelectorAll('table a')].some((a) => a.textContent === n), {}, name);
        const stored = (await admin('GET', '/prompts')).data.find((p) => p.id === name);
        if (!stored || stored.meta.duration_ms !== '600') fail('the uploaded prompt is not in the API as sent', { stored });
        // Not a WAV: the page shows the API's own words.
        await page.type('input[name="prompt-name"]', `${name}-bad`);
        await (await page.$('input[name="prompt-file"]')).uploadFile(config.broken_wasm);
        await press('form.upload button[type="submit"]');
        await page.waitForSelector('#prompt-upload-result .error');
        const shown = await textOf('#prompt-upload-result .error');
        const r = await admin('PUT', `/prompts/${name}-bad`, new Uint8Array(readFileSync(config.broken_wasm)), { 'Content-Type': 'audio/wav' });
        if (r.status < 400 || shown !== r.data.message) fail('the page does not show the API\'s refusal of the prompt', { shown, api: r });
        await press(`button[aria-label="Delete prompt ${name}"]`);
        await press('.confirm-yes');
        await page.waitForFunction((n) => ![...document.querySelectorAll('table a')].some((a) => a.textContent === n), {}, name);
        if ((await admin('GET', `/prompts/${name}`)).status !== 404) fail('the deleted prompt is still in the API');
        rmSync(wavPath, { force: true });
        record.refused = shown;
        break;
      }
      case 'api-key-create-revoke': {
        await go('/admin/api-keys');
        await press('#new-API-key');
        await page.type('.creator input[name="name"]', `console test ${run}`);
        await page.select('.creator select[name="role"]', 'supervisor');
        await press('.creator button[type="submit"]');
        await page.waitForSelector('.secret-card .secret');
        const token = await textOf('.secret-card .secret');
        const id = token.split('_')[1];
        let r = await apiAs(token, 'GET', `/api/tenants/${tenant}/extensions`);
        if (r.status !== 200) fail('the token shown does not work', { status: r.status });
        await press('.secret-card button.done');
        await press(`button[aria-label="Revoke API key ${id}"]`);
        await press('.confirm-yes');
        await page.waitForFunction((x) => !document.body.textContent.includes(x), {}, `console test ${run}`);
        r = await apiAs(token, 'GET', `/api/tenants/${tenant}/extensions`);
        if (r.status !== 401) fail('the revoked token still works', { status: r.status });
        record.key = id;
        break;
      }
      case 'plugin-config-errors': {
        const plugin = step.plugin || 'crm-rest';
        const before = (await admin('GET', `/plugins/${plugin}`)).data.versions.length;
        await go(`/admin/plugins/${plugin}`);
        await page.waitForSelector('#plugin-config');
        const save = async (text) => {
          await page.$eval('#plugin-config', (e, v) => { e.value = v; }, text);
          await page.evaluate(() => document.querySelector('#plugin-config').closest('form').requestSubmit());
        };
        await save('{"url": ');
        await page.waitForSelector('.json-parse-error');
        const parse = await textOf('.json-parse-error');
        await save('{"switchyard.x": "1"}');
        await page.waitForSelector('.api-error');
        const shown = await textOf('.api-error');
        const r = await admin('PUT', `/plugins/${plugin}/config`, { 'switchyard.x': '1' });
        if (r.status !== 400 || shown !== r.data.message) fail('the page does not show the API\'s refusal of the settings', { shown, api: r });
        const after = (await admin('GET', `/plugins/${plugin}`)).data.versions.length;
        if (after !== before) fail('a refused setting stored a version', { before, after });
        record.parse = parse;
        record.message = shown;
        break;
      }
      case 'plugin-versions': {
        const plugin = step.plugin || 'crm-rest';
        const active = async () => (await admin('GET', `/plugins/${plugin}`)).data;
        const before = await active();
        await go(`/admin/plugins/${plugin}`);
        await page.waitForSelector('#plugin-config');
        // Saving the settings as they are stores them as a new version.
        await page.evaluate(() => document.querySelector('#plugin-config').closest('form').requestSubmit());
        const next = before.versions[before.versions.length - 1].number + 1;
        await page.waitForFunction((n) => document.body.textContent.includes(`active version v${n}`), {}, next);
        if ((await active()).active !== next) fail('saving the settings did not make a new active version', { api: await active() });
        await press('#plugin-rollback');
        await page.waitForFunction((n) => document.body.textContent.includes(`active version v${n}`), {}, before.active);
        if ((await active()).active !== before.active) fail('roll back did not reach the API', { api: await active() });
        await press(`button[aria-label="Activate version ${next}"]`);
        await page.waitForFunction((n) => document.body.textContent.includes(`active version v${n}`), {}, next);
        if ((await active()).active !== next) fail('activate did not reach the API', { api: await active() });
        record.versions = [before.active, next];
        break;
      }
      case 'catalogue-publish': {
        await go('/operator/catalogue');
        await page.type('input[name="catalogue-name"]', catalogueName);
        await (await page.$('input[name="catalogue-file"]')).uploadFile(config.good_wasm);
        await page.$eval('input[name="catalogue-name"]', (e) => e.closest('form').requestSubmit());
        await page.waitForSelector('.upload-result .ok');
        // Earlier runs' entries are listed too: wait for this one's.
        await page.waitForFunction((n) => [...document.querySelectorAll('section.card')]
          .some((c) => c.querySelector('h2')?.textContent.startsWith(`${n} `) && c.querySelector('details textarea')), {}, catalogueName);
        const describe = { description: 'console test', config_schema: { type: 'object', properties: { weight: { type: 'integer', minimum: 1 } }, required: ['weight'] }, hosts: [] };
        await page.evaluate((n, d) => {
          const box = [...document.querySelectorAll('section.card')].find((c) => c.querySelector('h2')?.textContent.startsWith(`${n} `));
          const area = box.querySelector('details textarea');
          area.value = JSON.stringify(d);
          area.closest('form').requestSubmit();
        }, catalogueName, describe);
        await page.waitForFunction((n) => [...document.querySelectorAll('section.card')]
          .some((c) => c.querySelector('h2')?.textContent.startsWith(`${n} `) && c.querySelector('summary')?.textContent.includes('console test')), {}, catalogueName);
        const r = await apiAs(config.operator_token, 'GET', `/api/catalogue/${catalogueName}`);
        if (r.status !== 200 || r.data[0].description !== 'console test') fail('the published entry is not described in the API', { api: r });
        record.entry = catalogueName;
        break;
      }
      case 'catalogue-install': {
        await go('/admin/catalogue');
        const sel = `.catalogue-entry[data-entry="${catalogueName}"]`;
        await page.waitForSelector(`${sel} textarea`);
        const submit = (v) => page.$eval(`${sel} textarea`, (e, x) => { e.value = x; e.closest('form').requestSubmit(); }, v);
        await submit('{"weight": "heavy"}');
        await page.waitForSelector(`${sel} .api-error`);
        const shown = await textOf(`${sel} .api-error`);
        const r = await admin('POST', `/catalogue/${catalogueName}/install`, { config: { weight: 'heavy' } });
        if (r.status !== 400 || shown !== r.data.message) fail('the page does not show the schema error as the API gives it', { shown, api: r });
        await submit('{"weight": 3}');
        await page.waitForFunction((n) => location.hash === `#/admin/plugins/${n}` && document.querySelector('#plugin-config'), {}, catalogueName);
        const cfg = await admin('GET', `/plugins/${catalogueName}/config`);
        if (cfg.status !== 200 || cfg.data.weight !== '3') fail('the installed plugin is not in the API with its settings', { api: cfg });
        record.message = shown;
        break;
      }
      case 'tenant-suspend-resume': {
        await go(`/operator/tenants/${tenant}`);
        for (const [label, want] of [['Suspend', true], ['Resume', false]]) {
          await press(`.card button[aria-label="${label} ${tenant}"]`);
          await page.waitForSelector(`.card button[aria-label="${want ? 'Resume' : 'Suspend'} ${tenant}"]`);
          const r = await apiAs(config.operator_token, 'GET', `/api/tenants/${tenant}`);
          if (r.data.suspended !== want) fail(`${label} did not reach the API`, { api: r.data });
        }
        break;
      }
      case 'signout':
        await press('#signout');
        await page.waitForSelector('.signin');
        break;
      case 'create-queue': {
        await go('/admin/queues');
        await press('#new-queue');
        await page.type('.creator input[name="name"]', queueName);
        await page.$eval('.creator input[name="max_waiting"]', (e) => { e.value = '7'; });
        await press('.creator button[type="submit"]');
        await page.waitForFunction((n) => [...document.querySelectorAll('table a')].some((a) => a.textContent === n), {}, queueName);
        const r = await admin('GET', `/queues/${queueName}`);
        if (r.status === 200) queueCreated = true;
        if (r.status !== 200 || r.data.max_waiting !== 7) fail('the created queue is not in the API as entered', { api: r });
        record.queue = queueName;
        break;
      }
      case 'add-agent': {
        const ext = step.extension || '1003';
        await go(`/admin/queues/${queueName}`);
        await page.waitForSelector('#queue-agents');
        await page.type('input[name="agent-extension"]', ext);
        await page.type('input[name="agent-skills"]', 'billing=80');
        await press('#add-agent');
        await page.waitForSelector(`#queue-agents [data-agent="${ext}"]`);
        const r = await admin('GET', `/queues/${queueName}`);
        const a = r.data.agents && r.data.agents.find((x) => x.extension === ext);
        if (!a || a.skills.billing !== 80) fail('the agent is not in the queue in the API', { api: r });
        record.agents = r.data.agents.map((x) => x.extension);
        break;
      }
      case 'extension-create-delete': {
        const number = `7${run.replace(/\D/g, '').slice(-3)}${Math.floor(Math.random() * 9000 + 1000)}`;
        await go('/admin/extensions');
        await press('#new-extension');
        await page.type('.creator input[name="number"]', number);
        await page.type('.creator input[name="display_name"]', 'Console test');
        await press('.creator .gen-password');
        const pw = await page.$eval('.creator input[name="password"]', (e) => e.value);
        await press('.creator button[type="submit"]');
        await page.waitForSelector('.secret-card .secret');
        const shown = await textOf('.secret-card .secret');
        if (shown !== pw || pw.length < 8) fail('the generated password is not shown once after creating', { pw, shown });
        let r = await admin('GET', `/extensions/${number}`);
        if (r.status !== 200 || r.data.display_name !== 'Console test') fail('the created extension is not in the API', { api: r });
        // The password works: an extension sign-in with it is accepted.
        const s = await fetch(`${base}/console/session`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Origin: base },
          body: JSON.stringify({ method: 'extension', tenant: domain, extension: number, password: pw }),
        });
        if (s.status !== 200 && s.status !== 201) fail('the generated password does not sign in', { status: s.status });
        await shot('extension-created');
        // Delete it from the list, confirming in place.
        await press(`button[aria-label="Delete extension ${number}"]`);
        await press('.confirm-yes');
        await page.waitForFunction((n) => ![...document.querySelectorAll('table a')].some((a) => a.textContent === n), {}, number);
        r = await admin('GET', `/extensions/${number}`);
        if (r.status !== 404) fail('the deleted extension is still in the API', { api: r });
        record.extension = number;
        break;
      }
      case 'upload-broken-plugin': {
        const name = `broken-${run}`;
        await go('/admin/plugins');
        await page.type('#plugin-name', name);
        const input = await page.$('#plugin-file');
        await input.uploadFile(config.broken_wasm);
        await press('#plugin-upload');
        await page.waitForSelector('#plugin-upload-error');
        const shown = await textOf('#plugin-upload-error');
        const bytes = new Uint8Array(readFileSync(config.broken_wasm));
        const r = await admin('POST', `/plugins/${name}`, bytes, { 'Content-Type': 'application/wasm' });
        if (r.status < 400 || !r.data.message) fail('the API took the broken plugin', { api: r });
        if (shown !== r.data.message) fail('the page does not show the API\'s message', { shown, api: r.data.message });
        const listed = await admin('GET', `/plugins/${name}`);
        if (listed.status !== 404) fail('the broken plugin was stored', { api: listed });
        record.message = shown;
        await shot('plugin-refused');
        break;
      }
      case 'prompt-player': {
        await go('/admin/prompts');
        await page.waitForSelector('table a[href^="#/admin/prompts/"]');
        const name = await page.$eval('table a[href^="#/admin/prompts/"]', (a) => a.textContent);
        await press('table a[href^="#/admin/prompts/"]');
        await page.waitForSelector('audio.player.big[controls]');
        // The player's source loads with the session cookie alone.
        const loaded = await page.evaluate(() => new Promise((resolve) => {
          const a = document.querySelector('audio.player.big');
          a.addEventListener('loadedmetadata', () => resolve({ duration: a.duration }), { once: true });
          a.addEventListener('error', () => resolve({ error: a.error && a.error.code }), { once: true });
          a.preload = 'metadata';
          a.load();
        }));
        if (!(loaded.duration > 0)) fail('the prompt player does not load its audio', { loaded });
        const api = (await admin('GET', '/prompts')).data.find((p) => p.id === name);
        const ms = Number(api.meta.duration_ms);
        if (Math.abs(loaded.duration * 1000 - ms) > 250) fail('the player plays another length than the API says', { loaded, ms });
        record.prompt = name;
        record.duration_s = loaded.duration;
        await shot('prompt-page');
        break;
      }
      case 'operator-tenants': {
        await go('/operator/tenants');
        await waitText('table a', tenant);
        const r = await apiAs(config.operator_token, 'GET', '/api/tenants');
        if (!r.data.some((x) => x.id === tenant)) fail('the API lists no such tenant', { api: r });
        record.tenants = await page.$$eval('table[data-resource="tenant"] tbody tr', (trs) => trs.length);
        break;
      }
      case 'agent-no-admin': {
        const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.getAttribute('href')));
        const titles = await page.$$eval('#nav .nav-title', (s) => s.map((x) => x.textContent));
        if (nav.some((x) => x.startsWith('#/admin/') || x.startsWith('#/operator/')) || titles.includes('Configure')) {
          fail('the agent sees the admin navigation', { nav, titles });
        }
        await page.evaluate(() => { location.hash = '/admin/queues'; });
        await page.waitForFunction(() => document.querySelector('#main h1')?.textContent === 'Not allowed');
        await shot('agent-not-allowed');
        record.nav = nav;
        break;
      }
      case 'shots':
        for (const p of step.pages) {
          const slug = p.replace(/^\//, '').replace(/[^a-z0-9]+/gi, '-');
          await go(p);
          await new Promise((r) => setTimeout(r, 300));
          await page.setViewport({ width: 1280, height: 800 });
          await shot(`${slug}-1280`);
          await page.setViewport({ width: 390, height: 844 });
          await new Promise((r) => setTimeout(r, 150));
          await shot(`${slug}-390`);
          await page.setViewport({ width: 1280, height: 800 });
        }
        record.pages = step.pages;
        break;
      case 'cleanup': {
        const r = await admin('DELETE', `/queues/${queueName}`);
        queueDeleted = r.status === 204;
        record.status = r.status;
        break;
      }
      case 'sleep':
        await new Promise((r) => setTimeout(r, step.ms || 1000));
        break;
      default:
        fail(`unknown step ${step.do}`);
    }
    out.steps.push(record);
  }
  if (problems.length) fail('console errors', { problems });
  console.log(JSON.stringify(out));
} catch (e) {
  try { if (page) await page.screenshot({ path: join(shotDir, 'failure.png'), fullPage: true }); } catch { /* closed */ }
  const what = e instanceof Failed ? e.message : String((e && e.stack) || e);
  console.log(JSON.stringify({ failed: what, ...(e.extra || {}), steps: out.steps, problems }));
  process.exitCode = 1;
} finally {
  // A run that stopped half-way leaves no queue behind (a run that
  // passed keeps it until a cleanup step: the steps may be called apart).
  if (process.exitCode === 1 && queueCreated && !queueDeleted) {
    try { await admin('DELETE', `/queues/${queueName}`); } catch { /* the server is gone */ }
  }
  await browser.close();
}
