// Key-value storage scoped to (tenant, plugin): no other plugin or tenant
// sees these keys. Values are bytes, capped in size; keys at 256 bytes.
// Host errors are thrown as `KvError` (its `kind` is the WIT error case).
import * as host from 'switchyard:plugin/kv@0.2.2';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A failed kv call: `kind` is 'too-large', 'quota-exceeded', 'not-a-counter' or 'unavailable'. */
export class KvError extends Error {
  constructor(op, key, err) {
    const kind = err?.tag ?? 'unavailable';
    super(`kv ${op} ${key}: ${kind}${err?.val ? ` (${err.val})` : ''}`);
    this.name = 'KvError';
    this.kind = kind;
  }
}

function call(op, key, f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === 'object' && 'payload' in e) throw new KvError(op, key, e.payload);
    throw e;
  }
}

/** The bytes under `key`, or undefined. */
export const get = (key) => call('get', key, () => host.get(key));
/** Store bytes (a Uint8Array) or a string (as UTF-8) under `key`. */
export const set = (key, value) =>
  call('set', key, () => host.set(key, typeof value === 'string' ? enc.encode(value) : value));
/** Remove `key` (no error if it was missing). */
export const remove = (key) => call('delete', key, () => host.delete(key));
export { remove as delete };
/** The text under `key` (UTF-8), or undefined. */
export function getText(key) {
  const v = get(key);
  return v === undefined ? undefined : dec.decode(v);
}
/** Atomically add `delta` to the counter `key` (missing counts as 0); returns the new value as a number. */
export const increment = (key, delta = 1) => Number(call('increment', key, () => host.increment(key, BigInt(delta))));
/** The counter `key` (0 when missing). */
export const counter = (key) => increment(key, 0);
/** Keys starting with `prefix`, sorted, at most `limit`. */
export const keys = (prefix, limit = 100) => call('list-keys', prefix, () => host.listKeys(prefix, limit));
/** The JSON value under `key`, or undefined; throws when it is not JSON. */
export function getJson(key) {
  const v = get(key);
  if (v === undefined) return undefined;
  try {
    return JSON.parse(dec.decode(v));
  } catch (e) {
    throw new Error(`kv ${key} holds invalid JSON: ${e.message}`);
  }
}
/** Store `value` as JSON under `key`. */
export const setJson = (key, value) => set(key, enc.encode(JSON.stringify(value)));
