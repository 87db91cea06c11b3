/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/reporting@0.2.2' {
  /**
   * A call finished and its record is stored.
   */
  export function onCallRecord(call: CallRecord): void;
  /**
   * A live event happened.
   */
  export function onNotice(notice: Notice): void;
  export type CallRecord = import('switchyard:plugin/types@0.2.2').CallRecord;
  export type Notice = import('switchyard:plugin/types@0.2.2').Notice;
}
