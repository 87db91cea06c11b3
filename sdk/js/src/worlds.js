// The exports of the other worlds. Each returns the object to export under
// the interface's name, e.g. `export const ranking = defineRanker(...)`.
import { messageOf } from './flow.js';

const guarded = (f) =>
  function (...args) {
    try {
      return f(...args);
    } catch (e) {
      throw messageOf(e); // a thrown string is the WIT `err(string)`
    }
  };

/** queue-strategy world: `export const strategy = defineStrategy((queue, call, candidates) => ids)`. */
export const defineStrategy = (select) => ({ select });

/** queue-ranker world: `export const ranking = defineRanker((queue, call, columns) => positions)`. */
export const defineRanker = (rank) => ({ rank: (q, c, cols) => Uint32Array.from(rank(q, c, cols)) });

/** The candidate columns of `ranking.rank` as records (id, callsToday, …, skillLevels as [name, level] pairs). */
export function candidates(cols) {
  const out = [];
  const n = cols.idEnds.length;
  const names = cols.skillNames;
  let start = 0;
  const bytes = new TextEncoder().encode(cols.ids);
  const dec = new TextDecoder();
  for (let i = 0; i < n; i++) {
    const end = cols.idEnds[i];
    const levels = [];
    for (let j = 0; j < names.length; j++) {
      const l = cols.skillLevels[i * names.length + j];
      if (l) levels.push([names[j], l]);
    }
    out.push({
      position: i,
      id: dec.decode(bytes.subarray(start, end)),
      callsToday: cols.callsToday[i],
      talkSecondsToday: cols.talkSecondsToday[i],
      lastCallEnd: cols.lastCallEnd[i] === 0n ? undefined : cols.lastCallEnd[i],
      idleSince: cols.idleSince[i],
      order: cols.order[i],
      penalty: cols.penalty[i],
      skills: levels.map(([s]) => s),
      skillLevels: levels,
    });
    start = end;
  }
  return out;
}

/** crm-connector world: `export const crm = defineCrmConnector({lookup(number), logCall(record)})`. */
export const defineCrmConnector = (impl) => ({
  lookup: guarded((n) => impl.lookup(n) ?? undefined),
  logCall: guarded((r) => void impl.logCall?.(r)),
});

/** reporter world: `export const reporting = defineReporter({onCallRecord(record), onNotice(notice)})`. */
export const defineReporter = (impl) => ({
  onCallRecord: guarded((r) => void impl.onCallRecord?.(r)),
  onNotice: guarded((n) => void impl.onNotice?.(n)),
});

/** billing-reporter world, beside `reporting`: `export const accountEvents = defineAccountEvents(notice => …)`. */
export const defineAccountEvents = (onAccountNotice) => ({
  onAccountNotice: guarded((n) => void onAccountNotice(n)),
});
