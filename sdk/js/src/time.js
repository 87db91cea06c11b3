// Local wall-clock time in an IANA time zone, without a time-zone database
// in the engine: the zone's POSIX TZ rule (src/zones.js, the rule in force
// today) applied to the instant. Right for the present and the future as
// long as a zone's rules do not change; past instants before a rule change
// are given today's rule.
import { ZONES } from './zones.js';

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** The POSIX TZ rule of `zone`, or undefined when the zone is unknown. */
export function zoneRule(zone) {
  return Object.prototype.hasOwnProperty.call(ZONES, zone) ? ZONES[zone] : undefined;
}

// "<+0330>-3:30", "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0"
function parseRule(rule) {
  let i = 0;
  const name = () => {
    if (rule[i] === '<') {
      const end = rule.indexOf('>', i);
      if (end < 0) throw new Error(`bad TZ rule ${rule}`);
      i = end + 1;
      return;
    }
    while (i < rule.length && /[A-Za-z]/.test(rule[i])) i++;
  };
  // [+-]hh[:mm[:ss]] in seconds
  const offset = () => {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(rule.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    const s = +m[2] * 3600 + +(m[3] ?? 0) * 60 + +(m[4] ?? 0);
    return m[1] === '-' ? -s : s;
  };
  const date = () => {
    const m = /^(?:M(\d{1,2})\.(\d)\.(\d)|J(\d{1,3})|(\d{1,3}))(?:\/([+-]?\d{1,3}(?::\d{1,2}(?::\d{1,2})?)?))?/.exec(
      rule.slice(i),
    );
    if (!m) throw new Error(`bad TZ rule ${rule}`);
    i += m[0].length;
    let time = 7200;
    if (m[6] !== undefined) {
      const [h, mi = '0', s = '0'] = m[6].replace(/^[+-]/, '').split(':');
      time = (+h * 3600 + +mi * 60 + +s) * (m[6][0] === '-' ? -1 : 1);
    }
    if (m[1]) return { kind: 'M', month: +m[1], week: +m[2], weekday: +m[3], time };
    if (m[4]) return { kind: 'J', n: +m[4], time };
    return { kind: 'n', n: +m[5], time };
  };
  name();
  const std = offset();
  if (std === undefined) throw new Error(`bad TZ rule ${rule}`);
  const out = { std: -std };
  if (i >= rule.length) return out;
  name();
  const dst = rule[i] === ',' ? undefined : offset();
  out.dst = dst === undefined ? out.std + 3600 : -dst;
  if (rule[i] !== ',') return { std: out.std };
  i++;
  out.start = date();
  if (rule[i] !== ',') throw new Error(`bad TZ rule ${rule}`);
  i++;
  out.end = date();
  return out;
}

const DAY = 86400000;
const leap = (y) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

// Milliseconds (UTC-based epoch, i.e. local midnight as if UTC) of the
// transition day in year `y`, plus its local time.
function transitionLocal(y, r) {
  let dayMs;
  if (r.kind === 'M') {
    const first = Date.UTC(y, r.month - 1, 1);
    const wd1 = new Date(first).getUTCDay();
    let day = 1 + ((r.weekday - wd1 + 7) % 7) + (r.week - 1) * 7;
    const days = new Date(Date.UTC(y, r.month, 0)).getUTCDate();
    while (day > days) day -= 7;
    dayMs = Date.UTC(y, r.month - 1, day);
  } else if (r.kind === 'J') {
    dayMs = Date.UTC(y, 0, 1) + (r.n - 1 + (leap(y) && r.n >= 60 ? 1 : 0)) * DAY;
  } else {
    dayMs = Date.UTC(y, 0, 1) + r.n * DAY;
  }
  return dayMs + r.time * 1000;
}

const parsed = new Map();

/** Seconds east of UTC in `zone` at instant `ms`; throws for an unknown zone. */
export function utcOffsetSeconds(ms, zone) {
  let r = parsed.get(zone);
  if (!r) {
    const rule = zoneRule(zone);
    if (rule === undefined) throw new Error(`time zone \`${zone}\` is not known`);
    r = parseRule(rule);
    parsed.set(zone, r);
  }
  if (!r.start) return r.std;
  const y = new Date(ms + r.std * 1000).getUTCFullYear();
  const start = transitionLocal(y, r.start) - r.std * 1000;
  const end = transitionLocal(y, r.end) - r.dst * 1000;
  const inDst = start < end ? ms >= start && ms < end : !(ms >= end && ms < start);
  return inDst ? r.dst : r.std;
}

/**
 * The local date and time of instant `ms` (milliseconds since the epoch,
 * a number or a bigint such as `call.startTime`) in IANA zone `zone`.
 */
export function localTime(ms, zone) {
  const t = Number(ms);
  const offset = utcOffsetSeconds(t, zone);
  const d = new Date(t + offset * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    weekday: WEEKDAYS[(d.getUTCDay() + 6) % 7],
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    /** Minutes since local midnight. */
    minutes: d.getUTCHours() * 60 + d.getUTCMinutes(),
    offsetSeconds: offset,
  };
}
