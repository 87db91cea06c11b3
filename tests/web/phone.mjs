// Drives the host's browser phone (/phone) in headless Chromium, with
// Chromium's fake microphone (a beep), through a list of steps, and prints
// what happened as JSON:
//   {"stats": {NAME: {...}}, "states": [...], "problems": [...]}
// Usage: node phone.mjs PHONE_PAGE_URL PASSWORD STEPS_JSON
// Steps (each an object with "do"):
//   {"do": "register"}                     log in, wait until registered
//   {"do": "call", "to": "1002"}           dial
//   {"do": "wait", "state": "confirmed"}   wait for the call state
//   {"do": "answer"}                       answer the ringing call
//   {"do": "sleep", "ms": 2000}
//   {"do": "dtmf", "digits": "112", "gap_ms": 700}   RFC 4733 from the keypad
//   {"do": "stats", "name": "talk"}        the peer connection's figures
//   {"do": "hold"}                         press Hold (a re-INVITE, sendonly)
//   {"do": "resume"}                       press Resume (sendrecv again)
//   {"do": "hangup"}
// Chromium is started by ./chromium.mjs.
import { launch } from './chromium.mjs';

const [pageUrl, password, stepsJson] = process.argv.slice(2);
if (!pageUrl || password === undefined || !stepsJson) {
  console.error('usage: node phone.mjs PHONE_PAGE_URL PASSWORD STEPS_JSON');
  process.exit(2);
}
const steps = JSON.parse(stepsJson);
const browser = await launch({ media: true });
const out = { stats: {}, states: [], problems: [] };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => out.problems.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') out.problems.push(m.text());
    // PHONE_DEBUG=1 (and ?debug=1 on the page for JsSIP's own log).
    if (process.env.PHONE_DEBUG) console.error(`[page] ${m.text()}`);
  });
  await page.goto(pageUrl, { waitUntil: 'load' });
  const callState = (state) =>
    page.waitForSelector(`#call-state[data-state="${state}"]`);
  for (const step of steps) {
    switch (step.do) {
      case 'register':
        await page.type('#password', password);
        await page.click('#register');
        await page.waitForSelector('#reg-state[data-state="registered"]');
        out.states.push('registered');
        break;
      case 'call':
        await page.$eval('#dial-number', (e) => { e.value = ''; });
        await page.type('#dial-number', step.to);
        await page.click('#call');
        break;
      case 'wait':
        await callState(step.state);
        out.states.push(step.state);
        break;
      case 'answer':
        await callState('incoming');
        await page.click('#answer');
        break;
      case 'sleep':
        await new Promise((r) => setTimeout(r, step.ms));
        break;
      case 'dtmf':
        for (const d of step.digits) {
          await page.click(`#keypad button[data-digit="${d}"]`);
          await new Promise((r) => setTimeout(r, step.gap_ms ?? 500));
        }
        break;
      case 'stats':
        out.stats[step.name] = await page.evaluate(async () => {
          const pc = window.switchyardPhone.session.connection;
          const figures = { ice: pc.iceConnectionState, dtls: pc.connectionState };
          const reports = await pc.getStats();
          reports.forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') {
              figures.packetsReceived = s.packetsReceived;
              figures.totalAudioEnergy = s.totalAudioEnergy;
              figures.audioLevel = s.audioLevel;
              figures.codec = reports.get(s.codecId)?.mimeType;
            }
            if (s.type === 'outbound-rtp' && s.kind === 'audio') {
              figures.packetsSent = s.packetsSent;
            }
          });
          return figures;
        });
        break;
      case 'hold':
        await page.click('#hold');
        await callState('held');
        out.states.push('held');
        break;
      case 'resume':
        await page.click('#resume');
        await callState('confirmed');
        out.states.push('resumed');
        break;
      case 'hangup':
        await page.click('#hangup');
        await callState('ended');
        out.states.push('ended');
        break;
      default:
        throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
} catch (e) {
  out.problems.push(`step failed: ${e}`);
  out.failed = true;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
