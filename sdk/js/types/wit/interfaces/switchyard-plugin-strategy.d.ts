/// <reference path="./switchyard-plugin-queue-types.d.ts" />
declare module 'switchyard:plugin/strategy@0.2.2' {
  /**
   * Order `candidates` for `call`: the host offers the call to the
   * returned agent ids in that order. Ids not among the candidates are
   * ignored; candidates left out are not offered this call.
   */
  export function select(queue: QueueInfo, call: WaitingCall, candidates: Array<AgentCandidate>): Array<string>;
  export type QueueInfo = import('switchyard:plugin/queue-types@0.2.2').QueueInfo;
  export type WaitingCall = import('switchyard:plugin/queue-types@0.2.2').WaitingCall;
  export type AgentCandidate = import('switchyard:plugin/queue-types@0.2.2').AgentCandidate;
}
