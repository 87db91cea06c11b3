/// <reference path="./switchyard-plugin-flow-types.d.ts" />
/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/flow@0.2.2' {
  /**
   * Decide what happens next on `call` after `event`. `state` is what
   * this plugin returned with its previous decision for this call (none
   * on `call-started`). An `err` is logged and the call gets the tenant's
   * fallback.
   */
  export function handle(call: CallSnapshot, event: Event, state: Uint8Array | undefined): Decision;
  export type CallSnapshot = import('switchyard:plugin/types@0.2.2').CallSnapshot;
  export type Event = import('switchyard:plugin/flow-types@0.2.2').Event;
  export type Decision = import('switchyard:plugin/flow-types@0.2.2').Decision;
}
