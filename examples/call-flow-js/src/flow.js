// @ts-check
// A small IVR with business hours, as a Switchyard call-flow plugin in
// JavaScript. Settings (one JSON setting, `ivr`; see example-config.json):
//
//   time-zone   IANA zone of the hours (default: the tenant's, from the call)
//   open        weekday → ["HH:MM-HH:MM", …] local opening hours
//   menu        prompts of the menu (file names, or {"say": "…"})
//   options     digit → destination ({"extension": "1002"}, {"queue": "support"}…)
//   operator    the human behind 0, no input and unanswered destinations
//   mailbox     voicemail when closed, or when the operator does not answer
//   closed      prompts played when closed, before the voicemail
//   invalid     prompts played after an invalid digit (optional)
//   max-retries how often the menu repeats on no input or a wrong digit (1)
//
// Rules: 0 reaches the operator at any time; no input or wrong digits past
// `max-retries` reach the operator; a destination that is not answered
// reaches the operator, and an operator who does not answer the mailbox.
// Counters in kv: `calls.open`, `calls.closed`, `choice.<digit>`.
import { config, defineCallFlow, destination, kv, log, time } from '@switchyard/plugin-sdk';
import { answer, gather, hangup, play, queueGaveUp, setTag, voicemail } from '@switchyard/plugin-sdk';

/** @typedef {import('@switchyard/plugin-sdk').Destination} Destination */
/** @typedef {import('@switchyard/plugin-sdk').PromptSpec} PromptSpec */
/**
 * @typedef {object} Ivr
 * @property {string} [timeZone]
 * @property {Record<string, [number, number][]>} open weekday → [start, end) minutes
 * @property {PromptSpec[]} menu
 * @property {Record<string, Destination>} options
 * @property {Destination} operator
 * @property {string} mailbox
 * @property {PromptSpec[]} closed
 * @property {PromptSpec[]} invalid
 * @property {number} maxRetries
 */
/**
 * What the call is doing, kept between events.
 * @typedef {{step: 'menu' | 'sent' | 'operator' | 'mailbox' | 'closed', retries: number}} Progress
 */

const KEYS = ['time-zone', 'open', 'menu', 'options', 'operator', 'mailbox', 'closed', 'invalid', 'max-retries'];

/** @param {string} hhmm @param {string} where */
function minutes(hhmm, where) {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm.trim());
  if (!m || +m[1] > 24 || +m[2] > 59 || (+m[1] === 24 && +m[2] !== 0)) {
    throw new Error(`ivr: ${where}: \`${hhmm}\` is not HH:MM`);
  }
  return +m[1] * 60 + +m[2];
}

/**
 * Parse and check the `ivr` setting; every error names what is wrong.
 * @param {string | undefined} text
 * @returns {Ivr}
 */
export function parseIvr(text) {
  if (text === undefined) throw new Error('setting `ivr` is not set');
  /** @type {any} */
  const raw = config.fromJson('ivr', text);
  if (!raw || typeof raw !== 'object') throw new Error('ivr: not a JSON object');
  for (const k of Object.keys(raw)) if (!KEYS.includes(k)) throw new Error(`ivr: unknown key \`${k}\``);
  const tz = raw['time-zone'];
  if (tz !== undefined && !time.zoneRule(tz)) throw new Error(`ivr: time zone \`${tz}\` is not known`);
  /** @type {Record<string, [number, number][]>} */
  const open = {};
  for (const [day, intervals] of Object.entries(raw.open ?? {})) {
    if (!time.WEEKDAYS.includes(/** @type {any} */ (day))) throw new Error(`ivr: \`${day}\` is not a weekday name`);
    if (!Array.isArray(intervals)) throw new Error(`ivr: ${day}: a list of "HH:MM-HH:MM"`);
    open[day] = intervals.map((iv) => {
      const [a, b, ...rest] = String(iv).split('-');
      if (b === undefined || rest.length) throw new Error(`ivr: ${day}: \`${iv}\` is not HH:MM-HH:MM`);
      const range = /** @type {[number, number]} */ ([minutes(a, day), minutes(b, day)]);
      if (range[0] >= range[1]) throw new Error(`ivr: ${day}: \`${iv}\` ends before it starts`);
      return range;
    });
  }
  /** @type {Record<string, Destination>} */
  const options = {};
  for (const [digit, dest] of Object.entries(raw.options ?? {})) {
    if (!/^[1-9*#]$/.test(digit)) throw new Error(`ivr: option \`${digit}\` is not one key (0 is the operator)`);
    options[digit] = destination.check(dest, `ivr: option ${digit}`);
  }
  if (raw.operator === undefined) throw new Error('ivr: `operator` is required: callers always reach a human');
  if (typeof raw.mailbox !== 'string' || !raw.mailbox) throw new Error('ivr: `mailbox` is required');
  const prompts = (/** @type {string} */ key) => {
    const v = raw[key] ?? [];
    if (!Array.isArray(v)) throw new Error(`ivr: \`${key}\` is a list of prompts`);
    return v;
  };
  return {
    timeZone: tz,
    open,
    menu: prompts('menu'),
    options,
    operator: destination.check(raw.operator, 'ivr: operator'),
    mailbox: raw.mailbox,
    closed: prompts('closed'),
    invalid: prompts('invalid'),
    maxRetries: raw['max-retries'] ?? 1,
  };
}

/** Open at instant `ms` in `zone`? @param {Ivr} ivr @param {bigint} ms @param {string} zone */
export function isOpen(ivr, ms, zone) {
  const now = time.localTime(ms, zone);
  return (ivr.open[now.weekday] ?? []).some(([s, e]) => s <= now.minutes && now.minutes < e);
}

/** @param {Ivr} ivr */
const menu = (ivr) => gather(ivr.menu, { maxDigits: 1, firstDigitTimeoutMs: 5000 });

/** @param {Ivr} ivr @param {Progress} p */
const toOperator = (ivr, p) => ({
  actions: [destination.action(ivr.operator, 20)],
  state: { ...p, step: /** @type {const} */ ('operator') },
});

/** @param {Ivr} ivr @param {Progress} p @param {boolean} invalid */
function retry(ivr, p, invalid) {
  if (p.retries >= ivr.maxRetries) return toOperator(ivr, p);
  const actions = invalid && ivr.invalid.length ? [play(ivr.invalid), menu(ivr)] : [menu(ivr)];
  return { actions, state: { ...p, retries: p.retries + 1 } };
}

/** @param {Ivr} ivr @param {Progress} p */
function notConnected(ivr, p) {
  if (p.step === 'sent') return toOperator(ivr, p);
  if (p.step === 'operator') return { actions: [voicemail(ivr.mailbox)], state: { ...p, step: /** @type {const} */ ('mailbox') } };
  return [hangup()];
}

export const flow = defineCallFlow(
  /**
   * @param {Progress | undefined} progress
   * @returns {import('@switchyard/plugin-sdk').FlowAnswer<Progress>}
   */
  (call, event, progress) => {
    const ivr = parseIvr(config.get('ivr'));
    /** @type {Progress} */
    const p = progress ?? { step: 'menu', retries: 0 };
    switch (event.tag) {
      case 'call-started': {
        const zone = ivr.timeZone ?? call.timeZone;
        if (isOpen(ivr, call.startTime, zone)) {
          kv.increment('calls.open');
          return { actions: [answer(), menu(ivr)], state: { step: 'menu', retries: 0 } };
        }
        kv.increment('calls.closed');
        log.info(`closed: ${call.caller.number} goes to voicemail ${ivr.mailbox}`);
        return {
          actions: [setTag('after-hours'), answer(), play(ivr.closed), voicemail(ivr.mailbox)],
          state: { step: 'closed', retries: 0 },
        };
      }
      case 'digits': {
        const key = event.val.digits.slice(0, 1);
        const dest = ivr.options[key];
        if (dest !== undefined) {
          kv.increment(`choice.${key}`);
          return { actions: [destination.action(dest, 20)], state: { ...p, step: 'sent' } };
        }
        if (key === '0') return toOperator(ivr, p);
        return retry(ivr, p, true);
      }
      case 'gather-timeout':
        return retry(ivr, p, false);
      case 'dial-finished':
        return event.val.outcome === 'answered' ? [hangup()] : notConnected(ivr, p);
      case 'queue-finished': {
        const { reason } = event.val;
        if (reason === 'key') return { actions: [menu(ivr)], state: { step: 'menu', retries: 0 } };
        return queueGaveUp(reason) ? notConnected(ivr, p) : [];
      }
      default:
        return [];
    }
  },
);

// Warm-up while componentize-js pre-initialises the component: the engine
// compiles a function to bytecode the first time it runs, and every
// decision runs in a fresh copy of the snapshot, so code first run in a
// decision is compiled again in every decision. Running the pure code
// paths here (no host calls exist yet) puts their bytecode in the
// snapshot.
{
  const sample = parseIvr(
    JSON.stringify({
      'time-zone': 'Europe/Paris',
      open: { monday: ['09:00-12:30', '13:30-18:00'] },
      menu: ['welcome', { say: 'Press 1.' }],
      options: { 1: { extension: '1001' }, 2: { queue: { name: 'q', 'timeout-secs': 60 } }, 3: { 'ring-group': 'g' } },
      operator: { extension: '1001' },
      mailbox: '1001',
      closed: ['closed'],
      invalid: ['invalid'],
    }),
  );
  const p = /** @type {Progress} */ ({ step: 'sent', retries: 0 });
  isOpen(sample, 1795510800000n, 'Europe/Paris');
  for (const dest of Object.values(sample.options)) destination.action(dest, 20);
  retry(sample, p, true);
  retry(sample, { ...p, retries: 9 }, false);
  notConnected(sample, p);
  notConnected(sample, { ...p, step: 'operator' });
  [answer(), menu(sample), setTag('x'), play(sample.closed), voicemail('1'), hangup()];
}
