/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/ranking-types@0.2.2' {
  export type Timestamp = import('switchyard:plugin/types@0.2.2').Timestamp;
  /**
   * The agents who could take the call now (logged in, idle, in the
   * queue), as columns: entry `i` of every per-candidate list is
   * candidate `i`, and each of those lists has one entry per candidate.
   * The fields mean what the same fields of `queue-types.agent-candidate`
   * mean.
   */
  export interface CandidateColumns {
    /**
     * The candidates' ids (extension numbers), concatenated in order.
     */
    ids: string,
    /**
     * Where each id ends in `ids`, in bytes: candidate `i`'s id is
     * `ids[id-ends[i - 1] .. id-ends[i]]` (from 0 for the first).
     */
    idEnds: Uint32Array,
    /**
     * Calls answered today.
     */
    callsToday: Uint32Array,
    /**
     * Seconds spent talking today.
     */
    talkSecondsToday: Uint32Array,
    /**
     * When the candidate's last call ended; 0 when they had none today.
     */
    lastCallEnd: BigUint64Array,
    /**
     * Since when the candidate has been idle (see
     * `agent-candidate.idle-since`).
     */
    idleSince: BigUint64Array,
    /**
     * Position in the queue's configured member order (0 first).
     */
    order: Uint32Array,
    /**
     * Penalty in this queue (0 none; higher: offer to others first).
     */
    penalty: Uint32Array,
    /**
     * Every skill any of these candidates has, each once (names that
     * differ only in ASCII case are one skill, spelled as first seen).
     */
    skillNames: Array<string>,
    /**
     * Skill levels as a matrix with one row per candidate and one
     * column per entry of `skill-names`, row after row: candidate
     * `i`'s level in skill `j` is entry `i * len(skill-names) + j`.
     * 0 means the candidate lacks the skill; levels are 1-255, higher
     * is better.
     */
    skillLevels: Uint8Array,
  }
}
