// A visitor presses "call us" on a page that embeds a tenant's widget, in
// headless Chromium with its fake microphone; talks for a while; hangs up.
// Prints, as JSON: {"state": the call's last state, "stats": {...}}
// Usage: node webcall.mjs PAGE_URL TALK_MS
// Chromium is started by ./chromium.mjs.
import { launch } from './chromium.mjs';

const [pageUrl, talkMs] = process.argv.slice(2);
if (!pageUrl) {
  console.error('usage: node webcall.mjs PAGE_URL TALK_MS');
  process.exit(2);
}
const browser = await launch({ media: true });
const out = { problems: [] };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => out.problems.push(String(e)));
  await page.goto(pageUrl, { waitUntil: 'load' });
  await page.waitForSelector('.sy-callback .sy-call-start');
  await page.click('.sy-callback .sy-call-start');
  await page.waitForFunction(() => {
    const s = document.querySelector('.sy-call-state');
    return s && ['talking', 'failed', 'ended'].includes(s.getAttribute('data-state'));
  });
  out.state = await page.$eval('.sy-call-state', (s) => s.getAttribute('data-state'));
  out.text = await page.$eval('.sy-call-state', (s) => s.textContent);
  if (out.state === 'talking') {
    await new Promise((r) => setTimeout(r, Number(talkMs || 3000)));
    out.stats = await page.evaluate(async () => {
      const pc = window.SwitchyardWebCall.current.session.connection;
      const figures = {};
      const reports = await pc.getStats();
      reports.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          figures.packetsReceived = s.packetsReceived;
          figures.totalAudioEnergy = s.totalAudioEnergy;
          figures.codec = reports.get(s.codecId)?.mimeType;
        }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') figures.packetsSent = s.packetsSent;
      });
      return figures;
    });
    await page.click('.sy-callback .sy-call-end');
    await page.waitForSelector('.sy-call-state[data-state="ended"]');
    out.state = 'ended';
  }
} catch (e) {
  out.problems.push(`failed: ${e}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
