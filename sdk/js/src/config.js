// The plugin's settings, as the tenant configured them. Settings are
// strings; structured configuration is usually one JSON setting (`json`).
import * as host from 'switchyard:plugin/config@0.2.2';

/** One setting, or undefined. */
export function get(key) {
  return host.get(key);
}
/** One setting, or `fallback` when it is not set. */
export function getOr(key, fallback) {
  return host.get(key) ?? fallback;
}
/** Every setting, as an object sorted by key. */
export function all() {
  return Object.fromEntries(host.getAll());
}
/** A setting that must be set; throws naming the key otherwise. */
export function required(key) {
  const v = host.get(key);
  if (v === undefined) throw new Error(`setting \`${key}\` is not set`);
  return v;
}
/** A whole-number setting; undefined when not set, throws naming the key when it does not parse. */
export function int(key) {
  const v = host.get(key);
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  if (!Number.isInteger(n)) throw new Error(`setting \`${key}\`: \`${v}\` is not a whole number`);
  return n;
}
/** A JSON setting parsed; undefined when not set, throws naming the key when it is not JSON. */
export function json(key) {
  const v = host.get(key);
  return v === undefined ? undefined : fromJson(key, v);
}
/** Parse `text` as the JSON setting `key` (for tests of configuration). */
export function fromJson(key, text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`setting \`${key}\` is not valid JSON: ${e.message}`);
  }
}
