// The one way the browser tests start Chromium: Debian's, at $CHROMIUM or
// /usr/bin/chromium (puppeteer-core downloads nothing), headless, as root
// in CI. `media: true` adds Chromium's fake microphone (a beep), allowed
// without a prompt, and lets WebRTC use the host's loopback address.
import puppeteer from 'puppeteer-core';

export async function launch({ media = false } = {}) {
  const args = [
    // Root in CI: Chromium's sandbox needs an unprivileged user.
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
  ];
  if (media) {
    args.push(
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      // The host's media address is loopback in the tests.
      '--allow-loopback-in-peer-connection',
    );
  }
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
}
