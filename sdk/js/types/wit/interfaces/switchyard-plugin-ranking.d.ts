/// <reference path="./switchyard-plugin-queue-types.d.ts" />
/// <reference path="./switchyard-plugin-ranking-types.d.ts" />
declare module 'switchyard:plugin/ranking@0.2.2' {
  /**
   * Order the candidates for `call`: return positions in
   * `candidates` (0 is the first candidate), best first; the host
   * offers the call in that order. Positions out of range and repeats
   * are ignored; candidates left out are not offered this call.
   */
  export function rank(queue: QueueInfo, call: WaitingCall, candidates: CandidateColumns): Uint32Array;
  export type QueueInfo = import('switchyard:plugin/queue-types@0.2.2').QueueInfo;
  export type WaitingCall = import('switchyard:plugin/queue-types@0.2.2').WaitingCall;
  export type CandidateColumns = import('switchyard:plugin/ranking-types@0.2.2').CandidateColumns;
}
