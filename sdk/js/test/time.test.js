// The bundled POSIX rules against node's own ICU time-zone database, hour
// by hour over two years in zones with northern, southern, half-hour and
// no daylight saving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localTime, zoneRule } from '../src/time.js';

const ZONES = ['Europe/Paris', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'America/Sao_Paulo',
  'Pacific/Auckland', 'Europe/London', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Lord_Howe', 'UTC'];

const formats = new Map();
function icu(ms, zone) {
  const f = formats.get(zone) ?? new Intl.DateTimeFormat('en-GB', {
    timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
    weekday: 'long', hourCycle: 'h23',
  });
  formats.set(zone, f);
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour, minute: +p.minute, weekday: p.weekday.toLowerCase() };
}

test('local time matches ICU every 15 minutes of 2026 and 2027', () => {
  for (const zone of ZONES) {
    assert.ok(zoneRule(zone), zone);
    for (let ms = Date.UTC(2026, 0, 1); ms < Date.UTC(2028, 0, 1); ms += 15 * 60000) {
      const { year, month, day, hour, minute, weekday } = localTime(BigInt(ms), zone);
      assert.deepEqual({ year, month, day, hour, minute, weekday }, icu(ms, zone), `${zone} at ${new Date(ms).toISOString()}`);
    }
  }
});

test('an unknown zone is an error naming it', () => {
  assert.throws(() => localTime(0, 'Mars/Olympus'), /Mars\/Olympus/);
});
