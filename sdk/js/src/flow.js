// Events, actions and decisions of the `call-flow` world, with builders.
// Values have the shapes jco gives WIT types: variants are
// `{tag: 'kebab-name', val}`, records camelCase objects, options
// `undefined` when absent, u64 timestamps `bigint`.
import * as state from './state.js';

// ---- prompts ----------------------------------------------------------------
/** A prompt file the tenant uploaded, by name. */
export const file = (name) => ({ tag: 'file', val: name });
/** Text to speak (where the host has text-to-speech). */
export const say = (text) => ({ tag: 'say', val: text });
/** A built-in tone: 'ringback', 'busy', 'beep' or 'congestion'. */
export const tone = (t) => ({ tag: 'tone', val: t });
/** Silence, in milliseconds. */
export const silence = (ms) => ({ tag: 'silence', val: ms });
/** A prompt from configuration: a string is a file name; `{say}`/`{file}` objects are taken as such. */
export function prompt(spec) {
  if (typeof spec === 'string') return file(spec);
  if (spec && typeof spec.say === 'string') return say(spec.say);
  if (spec && typeof spec.file === 'string') return file(spec.file);
  if (spec && typeof spec.tag === 'string') return spec;
  throw new Error(`not a prompt: ${JSON.stringify(spec)}`);
}

// ---- dial targets -----------------------------------------------------------
/** A tenant extension (every registered device rings). */
export const ext = (number) => ({ tag: 'extension', val: number });
/** A ring group by name. */
export const ringGroup = (name) => ({ tag: 'ring-group', val: name });
/** A phone number, out through the tenant's trunk. */
export const number = (n) => ({ tag: 'number', val: n });
/** Any SIP URI. */
export const sipUri = (uri) => ({ tag: 'sip-uri', val: uri });

// ---- actions ------------------------------------------------------------------
/** Answer the call. */
export const answer = () => ({ tag: 'answer' });
/** Play prompts in order. */
export const play = (...prompts) => ({ tag: 'play', val: prompts.flat().map(prompt) });
/** End the call. */
export const hangup = () => ({ tag: 'hangup' });
/** Refuse an unanswered call: 'busy', 'decline' or 'unavailable'. */
export const reject = (reason = 'unavailable') => ({ tag: 'reject', val: reason });
/** Attach a label to the call (agents see it; CDRs keep it). */
export const setTag = (tag) => ({ tag: 'set-tag', val: tag });
/** Wait with silence, in milliseconds. */
export const pause = (ms) => ({ tag: 'pause', val: ms });
/** Hand the call to another flow of the tenant. */
export const gotoFlow = (name) => ({ tag: 'goto-flow', val: name });
/** Blind-transfer the caller to a dial target. */
export const transfer = (target) => ({ tag: 'transfer', val: { target } });

/**
 * Collect digits while playing `prompts`. Defaults: 1 digit, no finish key,
 * 5 s for the first digit, 3 s between digits.
 */
export function gather(prompts, opts = {}) {
  return {
    tag: 'gather',
    val: {
      prompts: [prompts].flat().map(prompt),
      maxDigits: opts.maxDigits ?? 1,
      finishOnKey: opts.finishOnKey,
      firstDigitTimeoutMs: opts.firstDigitTimeoutMs ?? 5000,
      interDigitTimeoutMs: opts.interDigitTimeoutMs ?? 3000,
    },
  };
}

/** Ring `targets` (dial targets, or strings taken as extensions); at once for 30 s unless changed. */
export function dial(targets, opts = {}) {
  return {
    tag: 'dial',
    val: {
      targets: [targets].flat().map((t) => (typeof t === 'string' ? ext(t) : t)),
      mode: opts.mode ?? 'simultaneous',
      ringTimeoutSecs: opts.ringTimeoutSecs ?? 30,
      callerId: opts.callerId,
    },
  };
}

/** Put the caller in `queue`: priority 0, no skills, no timeout unless changed. */
export function enqueue(queue, opts = {}) {
  return {
    tag: 'enqueue',
    val: {
      queue,
      priority: Math.min(255, Math.max(0, opts.priority ?? 0)),
      skills: opts.skills ?? [],
      timeoutSecs: opts.timeoutSecs,
    },
  };
}

/** Send the caller to a voicemail box, with its own (or the default) greeting unless `greeting` is given. */
export const voicemail = (mailbox, opts = {}) => ({
  tag: 'voicemail',
  val: { mailbox, greeting: opts.greeting === undefined ? undefined : prompt(opts.greeting) },
});

/** Record the caller for up to `maxSeconds`, after a beep, ended by `#` unless changed. */
export const recordAudio = (maxSeconds, opts = {}) => ({
  tag: 'record-audio',
  val: { maxSeconds, finishOnKey: 'finishOnKey' in opts ? opts.finishOnKey : '#', beep: opts.beep ?? true },
});

/** Join the conference `room`. */
export const conference = (room, opts = {}) => ({
  tag: 'conference',
  val: { room, moderator: opts.moderator ?? false, muted: opts.muted ?? false },
});

// ---- events -------------------------------------------------------------------
/**
 * True for the `queue-finished` reasons where the queue gave up on the
 * caller without them choosing to leave: timeout, no-agents, full, empty.
 */
export const queueGaveUp = (reason) => ['timeout', 'no-agents', 'full', 'empty'].includes(reason);

/** The digits of a `digits` event ('' for any other event). */
export const digitsOf = (event) => (event.tag === 'digits' ? event.val.digits : '');

// ---- decisions ------------------------------------------------------------------
/** A decision: actions, and optionally a JSON state kept for the next event. */
export function decide(actions, keep) {
  return { actions, state: keep === undefined ? undefined : state.save(keep) };
}

/** The message of anything thrown. */
export const messageOf = (e) => (e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e));

/**
 * Makes the `flow` export of a call-flow component from a handler:
 *
 *     export const flow = defineCallFlow((call, event, state) => [...actions]);
 *
 * The handler gets the state it returned last time, decoded (undefined on
 * `call-started`), and returns either a list of actions (no state kept) or
 * `{actions, state}` (state: any JSON value). Anything it throws becomes the
 * `err` the host logs before giving the call the tenant's fallback.
 */
export function defineCallFlow(handler) {
  return {
    handle(call, event, bytes) {
      try {
        const out = handler(call, event, state.load(bytes));
        if (Array.isArray(out)) return { actions: out, state: undefined };
        if (out && Array.isArray(out.actions)) {
          return out.state instanceof Uint8Array ? out : decide(out.actions, out.state);
        }
        throw new Error('a call-flow handler returns a list of actions or {actions, state}');
      } catch (e) {
        // A thrown string is the WIT `err(string)`; an Error would trap.
        throw messageOf(e);
      }
    },
  };
}
