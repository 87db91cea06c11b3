// The one way pages talk to the host: the JSON API under /api, signed in by
// the session cookie (HttpOnly, so scripts never see it) and, for anything
// that changes something, the session's CSRF token in X-CSRF-Token.

let session = null;

/**
 * The signed-in session: {role, tenant, extension, name, domain, time_zone,
 * pause_reasons, csrf, expires_ms}.
 */
export function current() {
  return session;
}

export function setSession(s) {
  session = s;
}

/** An API error as the host words it: status, message, and the field. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.kind = body && body.error;
    this.field = body && body.field;
  }
}

async function parse(res) {
  const type = res.headers.get('content-type') || '';
  if (res.status === 204) return null;
  if (type.includes('json')) return res.json();
  return res.text();
}

/**
 * `api('GET', '/api/tenants/demo/queues')`; a body is sent as JSON unless
 * it is a Blob/File/ArrayBuffer (uploads), sent as it is. Throws ApiError.
 */
export async function api(method, path, body, { headers = {} } = {}) {
  const h = { ...headers };
  const init = { method, headers: h, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD' && session) h['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) {
      init.body = body;
      if (!h['Content-Type']) h['Content-Type'] = 'application/octet-stream';
    } else {
      init.body = JSON.stringify(body);
      h['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(path, init);
  const data = await parse(res);
  if (res.status === 401 && session && !path.startsWith('/console/session')) {
    // The session ended (expired, signed out elsewhere, key revoked).
    window.dispatchEvent(new CustomEvent('session-ended'));
  }
  if (!res.ok) throw new ApiError(res.status, typeof data === 'object' ? data : { message: data });
  return data;
}

/** A path under the signed-in tenant: `t('/queues')`. */
export function t(path) {
  return `/api/tenants/${encodeURIComponent(session.tenant)}${path}`;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);
export const put = (p, b) => api('PUT', p, b);
export const patch = (p, b) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);

/**
 * The tenant's live event stream (`/api/tenants/{t}/events`, SSE):
 * `onEvent(kind, data)` for each; returns a function that closes it.
 * The browser reconnects by itself after a drop.
 */
export function events(onEvent) {
  const src = new EventSource(t('/events'), { withCredentials: true });
  const kinds = new Set();
  const listen = (k) => {
    if (kinds.has(k)) return;
    kinds.add(k);
    src.addEventListener(k, (e) => {
      let data = null;
      try { data = JSON.parse(e.data); } catch { data = e.data; }
      onEvent(k, data);
    });
  };
  src.onmessage = (e) => onEvent('message', e.data);
  // Every event name the host sends (host/calls/src/calls_in_progress.rs
  // and queues.rs): call states, queue offers, agents' states, supervision,
  // conference rooms, and `lagged` when this stream fell behind.
  for (const k of ['started', 'routing', 'ringing', 'queued', 'ivr', 'voicemail', 'answered',
    'conference', 'ended',
    'offered', 'lagged', 'monitoring',
    'agent-logged-out', 'agent-available', 'agent-reserved', 'agent-on-call', 'agent-busy',
    'agent-wrap-up', 'agent-paused',
    'conference-joined', 'conference-left', 'conference-muted', 'conference-unmuted',
    'conference-talking', 'conference-silent', 'conference-ended']) listen(k);
  return () => src.close();
}
