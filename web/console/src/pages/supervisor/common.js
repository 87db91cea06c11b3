// What the wallboard and the reports share: the tenant's time zone and
// pause reasons (as far as this session may learn them), calendar days in
// that zone, the supervisor settings kept in localStorage, CSV building
// and downloads, and the event kinds the shared stream does not listen to.

import { api, get, t } from '../../api.js';

export const DAY_MS = 24 * 3600 * 1000;
/** The reports API answers at most 31 days per request. */
export const MAX_SPAN_DAYS = 31;

// --- the tenant --------------------------------------------------------

let tenantInfo = null;

/**
 * `{timeZone, zoneSource, pauseReasons}`. `GET /api/tenants/{t}` is the
 * operator's (a 403 for tenant keys today), so for other sessions the zone
 * falls back to the browser's, and the pause reasons to the pause columns
 * of the agent report's CSV header — "the tenant's reasons, then any
 * other found" — over an empty window, which lists the tenant's only.
 */
export async function tenant(session) {
  if (tenantInfo && tenantInfo.tenant === session.tenant) return tenantInfo;
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const info = { tenant: session.tenant, timeZone: browserZone, zoneSource: 'browser', pauseReasons: null };
  if (session.time_zone) {
    info.timeZone = session.time_zone;
    info.zoneSource = 'tenant';
  }
  if (Array.isArray(session.pause_reasons)) info.pauseReasons = session.pause_reasons;
  // A supervisor's GET is a known 403 (and a console error): only admins
  // try, once per browser session.
  const refused = `switchyard.tenant-refused.${session.tenant}`;
  if (session.role !== 'supervisor' && !sessionStorage.getItem(refused)
    && (!session.time_zone || !info.pauseReasons)) {
    try {
      const tv = await get(t(''));
      if (tv.time_zone && validZone(tv.time_zone)) {
        info.timeZone = tv.time_zone;
        info.zoneSource = 'tenant';
      }
      if (Array.isArray(tv.pause_reasons)) info.pauseReasons = tv.pause_reasons;
    } catch (e) {
      // Not this role's: the fallbacks below.
      if (e.status === 403) sessionStorage.setItem(refused, '1');
    }
  }
  if (!info.pauseReasons) {
    try {
      const csv = await api('GET', t('/reports/agents?from=0&to=1&format=csv'));
      const header = String(csv).split(/\r?\n/)[0].split(',');
      info.pauseReasons = header.filter((c) => c.startsWith('pause_ms_')).map((c) => c.slice(9));
    } catch {
      info.pauseReasons = [];
    }
  }
  tenantInfo = info;
  return info;
}

function validZone(tz) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

// --- calendar days in a time zone ----------------------------------------

const partsFormat = new Map();

/** The wall-clock fields of instant `ms` in zone `tz`. */
export function zoned(ms, tz) {
  let f = partsFormat.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    partsFormat.set(tz, f);
  }
  const p = {};
  for (const x of f.formatToParts(new Date(ms))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return { y: p.year, m: p.month, d: p.day, h: p.hour % 24, mi: p.minute, s: p.second };
}

/** How far `tz`'s wall clock is ahead of UTC at `ms`. */
export function offsetMs(ms, tz) {
  const z = zoned(ms, tz);
  const wall = Date.UTC(z.y, z.m - 1, z.d, z.h, z.mi, z.s);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** The instant a calendar day `YYYY-MM-DD` starts in `tz`. */
export function dayStart(day, tz) {
  const [y, m, d] = day.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d);
  // Two rounds settle the offset across a DST change.
  let ms = wall - offsetMs(wall, tz);
  ms = wall - offsetMs(ms, tz);
  return ms;
}

/** `YYYY-MM-DD` of instant `ms` in `tz`. */
export function dayOf(ms, tz) {
  const z = zoned(ms, tz);
  return `${z.y}-${String(z.m).padStart(2, '0')}-${String(z.d).padStart(2, '0')}`;
}

/** The calendar day `n` days after `day`. */
export function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** Today, in `tz`: `[start, now]`. */
export function today(tz, now = Date.now()) {
  return { from: dayStart(dayOf(now, tz), tz), to: now + 1 };
}

/**
 * `[from, to)` cut into windows the API takes (at most 31 days): 30
 * calendar days at a time, so a DST hour never pushes one past the limit.
 */
export function chunks(fromDay, toDayExclusive, tz) {
  const out = [];
  for (let d = fromDay; d < toDayExclusive; d = addDays(d, 30)) {
    const end = addDays(d, 30) < toDayExclusive ? addDays(d, 30) : toDayExclusive;
    out.push({ from: dayStart(d, tz), to: dayStart(end, tz) });
  }
  return out;
}

/** The interval to ask for so local hours are whole rows: `hour`, or
 * `15m` in a zone whose offset is not whole hours. */
export function intervalFor(from, to, tz) {
  const whole = (ms) => offsetMs(ms, tz) % 3600000 === 0;
  return whole(from) && whole(to - 1) ? 'hour' : '15m';
}

// --- settings ------------------------------------------------------------

const SETTINGS_KEY = 'switchyard.supervisor.settings';
const DEFAULTS = { slTarget: 80, longWaitSecs: 60, monitorExtension: '' };

export function settings() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch {
    return { ...DEFAULTS };
  }
}

export function saveSettings(s) {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify({ ...settings(), ...s }));
}

// --- CSV -----------------------------------------------------------------

function csvField(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 text: a header row, then the rows. */
export function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** Hand `text` to the browser as a file download. */
export function download(name, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A function that runs `f` once, `ms` after the last call. */
export function debounce(ms, f) {
  let timer = null;
  const d = () => {
    clearTimeout(timer);
    timer = setTimeout(f, ms);
  };
  d.cancel = () => clearTimeout(timer);
  return d;
}

/** `42 %` for a ratio 0–1, `–` for none. */
export function pct(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return `${(x * 100).toFixed(digits)} %`;
}

/** Seconds (one decimal under 10) for ms, `–` for none. */
export function secs(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}
