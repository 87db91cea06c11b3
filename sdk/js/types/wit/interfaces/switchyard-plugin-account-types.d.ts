/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/account-types@0.2.2' {
  export type Timestamp = import('switchyard:plugin/types@0.2.2').Timestamp;
  /**
   * What happened to the tenant's account.
   * 
   * One case for now. Cases may be added only in a new minor version of
   * this package, never to a published one: a component exports
   * `account-events` with the enum it was built with, and an enum with
   * another case is another type to the component model, so the host
   * must keep calling older components with their own enum (as it does
   * 0.1.0 components with 0.1.0's events) and not tell them the new
   * cases.
   * # Variants
   * 
   * ## `"low-balance"`
   * 
   * The prepaid balance fell below the tenant's low-balance
   * threshold (told once per crossing, after a call was charged or
   * the monthly fees were posted).
   */
  export type AccountNoticeKind = 'low-balance';
  /**
   * One notice about the tenant's account.
   */
  export interface AccountNotice {
    kind: AccountNoticeKind,
    /**
     * The balance now, a decimal number as text (`"0.9"`, `"-1.25"`):
     * money is decimal and a float would round it.
     */
    balance: string,
    /**
     * The threshold it fell below, as text like `balance`.
     */
    threshold: string,
    /**
     * The tenant's currency (ISO 4217 code, `EUR`).
     */
    currency: string,
    /**
     * When the host noticed.
     */
    at: Timestamp,
  }
}
