// Where a flow sends a caller, in the JSON vocabulary the first-party
// plugins (router, ivr-menu, business-hours) use in their configuration:
//
//   {"extension": "1002"}        {"extensions": ["1002", "1003"]}
//   {"ring-group": "sales"}      {"queue": "support"}
//   {"queue": {"name": "support", "skills": ["it"], "priority": 5, "timeout-secs": 60}}
//   {"voicemail": "1001"}        {"flow": "after-hours"}
//   {"number": "+15550100"}      {"reject": "busy"}     "hangup"
//   {"conference": "board"}
import * as f from './flow.js';

const KINDS = ['extension', 'extensions', 'ring-group', 'queue', 'voicemail', 'flow', 'number', 'conference', 'reject'];

/** Check a destination as written in configuration; throws naming `where` when it is not one. */
export function check(dest, where = 'destination') {
  if (dest === 'hangup') return dest;
  const bad = (why) => new Error(`${where}: ${why}: ${JSON.stringify(dest)}`);
  if (!dest || typeof dest !== 'object' || Array.isArray(dest)) throw bad('not a destination');
  const keys = Object.keys(dest);
  if (keys.length !== 1 || !KINDS.includes(keys[0])) throw bad(`expected one of ${KINDS.join(', ')} or "hangup"`);
  const [kind] = keys;
  const v = dest[kind];
  if (kind === 'extensions') {
    if (!Array.isArray(v) || !v.length || v.some((x) => typeof x !== 'string')) throw bad('extensions is a list of numbers');
  } else if (kind === 'queue') {
    if (typeof v !== 'string' && (typeof v !== 'object' || typeof v?.name !== 'string')) throw bad('queue is a name or {name, …}');
  } else if (kind === 'reject') {
    if (!['busy', 'decline', 'unavailable'].includes(v)) throw bad('reject is busy, decline or unavailable');
  } else if (typeof v !== 'string' || !v) {
    throw bad(`${kind} is a non-empty string`);
  }
  return dest;
}

/** True when reaching `dest` means ringing somebody (a dial). */
export const rings = (dest) =>
  typeof dest === 'object' && ['extension', 'extensions', 'ring-group', 'number'].some((k) => k in dest);

/** The action that sends the caller to `dest`; dials ring for `ringTimeoutSecs`. */
export function action(dest, ringTimeoutSecs = 30, extraPriority = 0) {
  check(dest);
  if (dest === 'hangup') return f.hangup();
  const [[kind, v]] = Object.entries(dest);
  switch (kind) {
    case 'extension':
      return f.dial([f.ext(v)], { ringTimeoutSecs });
    case 'extensions':
      return f.dial(v.map(f.ext), { ringTimeoutSecs });
    case 'ring-group':
      return f.dial([f.ringGroup(v)], { ringTimeoutSecs });
    case 'number':
      return f.dial([f.number(v)], { ringTimeoutSecs });
    case 'queue':
      return typeof v === 'string'
        ? f.enqueue(v, { priority: extraPriority })
        : f.enqueue(v.name, {
            skills: v.skills ?? [],
            priority: (v.priority ?? 0) + extraPriority,
            timeoutSecs: v['timeout-secs'],
          });
    case 'voicemail':
      return f.voicemail(v);
    case 'flow':
      return f.gotoFlow(v);
    case 'conference':
      return f.conference(v);
    case 'reject':
      return f.reject(v);
  }
}

/** The mailbox that stands for `dest` when nobody answers (extension, ring group or queue name). */
export function mailbox(dest) {
  if (typeof dest !== 'object') return undefined;
  if ('extension' in dest) return dest.extension;
  if ('ring-group' in dest) return dest['ring-group'];
  if ('queue' in dest) return typeof dest.queue === 'string' ? dest.queue : dest.queue.name;
  return undefined;
}
