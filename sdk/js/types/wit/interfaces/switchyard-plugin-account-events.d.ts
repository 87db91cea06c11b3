/// <reference path="./switchyard-plugin-account-types.d.ts" />
declare module 'switchyard:plugin/account-events@0.2.2' {
  /**
   * Something happened to the tenant's account. The host calls it in
   * the background, under the same limits as `reporting`; an `err` is
   * logged.
   */
  export function onAccountNotice(notice: AccountNotice): void;
  export type AccountNotice = import('switchyard:plugin/account-types@0.2.2').AccountNotice;
}
