// Fills and sends the "call me back" widget of a page in headless Chromium,
// as a visitor would, and prints what the widget then says, as JSON:
//   {"state": "ok" | "error", "text": "..."}
// Usage: node widget.mjs PAGE_URL NUMBER
// Chromium is started by ./chromium.mjs.
import { launch } from './chromium.mjs';

const [page_url, number] = process.argv.slice(2);
if (!page_url || !number) {
  console.error('usage: node widget.mjs PAGE_URL NUMBER');
  process.exit(2);
}
const browser = await launch();
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  await page.goto(page_url, { waitUntil: 'load' });
  await page.waitForSelector('.sy-callback .sy-number');
  await page.type('.sy-callback .sy-number', number);
  await page.click('.sy-callback .sy-send');
  await page.waitForFunction(() => {
    const r = document.querySelector('.sy-callback .sy-result');
    return r && r.textContent !== 'Sending…' && r.getAttribute('data-state');
  });
  const result = await page.$eval('.sy-callback .sy-result', (r) => ({
    state: r.getAttribute('data-state'),
    text: r.textContent,
  }));
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
