declare module 'switchyard:plugin/kv@0.2.2' {
  export function get(key: string): Uint8Array | undefined;
  export function set(key: string, value: Uint8Array): void;
  export { _delete as delete };
  function _delete(key: string): void;
  /**
   * Atomically add `delta` to a counter (missing counts as 0) and return
   * the new value. Counters are stored as 8-byte little-endian integers.
   */
  export function increment(key: string, delta: bigint): bigint;
  /**
   * Keys that start with `prefix`, sorted, at most `limit`.
   */
  export function listKeys(prefix: string, limit: number): Array<string>;
  export type Error = ErrorTooLarge | ErrorQuotaExceeded | ErrorNotACounter | ErrorUnavailable;
  /**
   * Key longer than 256 bytes or value larger than the tenant's cap.
   */
  export interface ErrorTooLarge {
    tag: 'too-large',
  }
  /**
   * The plugin's key count or byte quota is used up.
   */
  export interface ErrorQuotaExceeded {
    tag: 'quota-exceeded',
  }
  /**
   * `increment` on a value that is not an 8-byte counter.
   */
  export interface ErrorNotACounter {
    tag: 'not-a-counter',
  }
  /**
   * The store failed; the message says how.
   */
  export interface ErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
}
