/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/crm@0.2.2' {
  /**
   * Find the contact for a phone number (E.164 or as dialled).
   */
  export function lookup(number: string): Contact | undefined;
  /**
   * Record a finished call in the CRM (activity / call log).
   */
  export function logCall(call: CallRecord): void;
  export type Contact = import('switchyard:plugin/types@0.2.2').Contact;
  export type CallRecord = import('switchyard:plugin/types@0.2.2').CallRecord;
}
