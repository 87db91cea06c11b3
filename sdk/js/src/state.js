// Typed state between the events of one call, kept as JSON bytes.
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Decode the state bytes; `undefined` when there are none (first event). */
export function load(bytes) {
  if (bytes === undefined || bytes === null || bytes.length === 0) return undefined;
  try {
    return JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new Error(`state does not decode: ${e.message}`);
  }
}

/** Encode a JSON value as state bytes. */
export function save(value) {
  return enc.encode(JSON.stringify(value));
}
