/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/contacts@0.2.2' {
  export function lookup(number: string): Contact | undefined;
  export type Contact = import('switchyard:plugin/types@0.2.2').Contact;
}
