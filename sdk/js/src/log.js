// Logging into the tenant's plugin log (capped in length and rate).
import { log as host } from 'switchyard:plugin/log@0.2.2';

const line = (parts) =>
  parts.map((p) => (typeof p === 'string' ? p : p instanceof Error ? p.message : JSON.stringify(p, big))).join(' ');
const big = (_k, v) => (typeof v === 'bigint' ? v.toString() : v);

/** Write one line at `level` ('trace', 'debug', 'info', 'warn', 'error'). */
export function write(level, message) {
  host(level, message);
}
export const trace = (...parts) => host('trace', line(parts));
export const debug = (...parts) => host('debug', line(parts));
export const info = (...parts) => host('info', line(parts));
export const warn = (...parts) => host('warn', line(parts));
export const error = (...parts) => host('error', line(parts));
