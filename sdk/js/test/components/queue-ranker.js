// A queue-ranker built with the SDK, for the runtime's tests
// (host/plugins/tests/javascript.rs): candidates with every skill the call
// needs, the caller's last agent first, then fewest calls today, lower
// penalty, member order. Counts its decisions in kv (`decisions`).
import { candidates, defineRanker, kv } from '@switchyard/plugin-sdk';

export const ranking = defineRanker((_queue, call, columns) => {
  kv.increment('decisions');
  const need = call.skills.map((s) => s.toLowerCase());
  return candidates(columns)
    .filter((c) => need.every((s) => c.skills.some((have) => have.toLowerCase() === s)))
    .sort(
      (a, b) =>
        Number(b.id === call.lastAgent) - Number(a.id === call.lastAgent) ||
        a.callsToday - b.callsToday ||
        a.penalty - b.penalty ||
        a.order - b.order,
    )
    .map((c) => c.position);
});
