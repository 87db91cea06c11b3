// A small blocking HTTP client over `wasi:http`, for crm-connector and
// reporter plugins (the host refuses HTTP in other worlds). The host
// decides where a plugin may connect (the tenant's allowlist, no private
// addresses) and caps time and response size; a refusal is an HttpError
// whose message carries the host's error code.
import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingRequest, OutgoingBody, RequestOptions } from 'wasi:http/types@0.2.12';

const enc = new TextEncoder();
const dec = new TextDecoder();

export class HttpError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'HttpError';
    /** 'invalid-url', 'transport', 'too-large' or 'body'. */
    this.kind = kind;
  }
}

const describe = (e) => {
  const p = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  return typeof p === 'object' ? JSON.stringify(p, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) : String(p);
};

function splitUrl(url) {
  const m = /^(https?):\/\/([^/?#]+)(\/[^#]*)?$/.exec(url);
  if (!m) throw new HttpError('invalid-url', `invalid URL ${JSON.stringify(url)}`);
  return { scheme: { tag: m[1] === 'https' ? 'HTTPS' : 'HTTP' }, authority: m[2], path: m[3] ?? '/' };
}

/**
 * Send a request and read the whole response:
 *
 *     const r = request('https://crm.example.com/api/contacts?phone=' + encodeURIComponent(n),
 *                       { headers: { authorization: 'Bearer …' } });
 *     if (r.status === 200) use(r.json());
 *
 * Options: method ('GET'), headers (object), body (string, Uint8Array or,
 * with `json`, any value), timeoutMs (5000), maxBodyBytes (1 MiB).
 */
export function request(url, opts = {}) {
  const u = splitUrl(url);
  const headers = new Fields();
  const add = (k, v) => {
    try {
      headers.append(k.toLowerCase(), typeof v === 'string' ? enc.encode(v) : v);
    } catch (e) {
      throw new HttpError('transport', `header ${k}: ${describe(e)}`);
    }
  };
  for (const [k, v] of Object.entries(opts.headers ?? {})) add(k, v);
  let body = opts.body;
  if (opts.json !== undefined) {
    body = enc.encode(JSON.stringify(opts.json));
    add('content-type', 'application/json');
  } else if (typeof body === 'string') {
    body = enc.encode(body);
  }
  const req = new OutgoingRequest(headers);
  const method = (opts.method ?? 'GET').toLowerCase();
  const known = ['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch'];
  req.setMethod(known.includes(method) ? { tag: method } : { tag: 'other', val: opts.method });
  req.setScheme(u.scheme);
  req.setAuthority(u.authority);
  req.setPathWithQuery(u.path);
  const outBody = req.body();
  const options = new RequestOptions();
  const ns = BigInt(opts.timeoutMs ?? 5000) * 1000000n;
  for (const set of ['setConnectTimeout', 'setFirstByteTimeout', 'setBetweenBytesTimeout']) {
    try {
      options[set](ns); // the host may refuse; its own caps apply anyway
    } catch {}
  }
  let pending;
  try {
    pending = handle(req, options);
  } catch (e) {
    throw new HttpError('transport', `HTTP request failed: ${describe(e)}`);
  }
  try {
    if (body !== undefined) {
      const out = outBody.write();
      for (let i = 0; i < body.length; i += 4096) out.blockingWriteAndFlush(body.subarray(i, i + 4096));
      out[Symbol.dispose]?.();
    }
    OutgoingBody.finish(outBody, undefined);
  } catch (e) {
    throw new HttpError('transport', `writing body: ${describe(e)}`);
  }
  let got;
  while ((got = pending.get()) === undefined) pending.subscribe().block();
  if (got.tag === 'err') throw new HttpError('transport', 'response taken twice');
  if (got.val.tag === 'err') throw new HttpError('transport', `HTTP request failed: ${describe(got.val.val)}`);
  const resp = got.val.val;
  const status = resp.status();
  const respHeaders = resp.headers().entries();
  const stream = resp.consume().stream();
  const max = opts.maxBodyBytes ?? 1 << 20;
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stream.blockingRead(65536n);
    } catch (e) {
      if (e?.payload?.tag === 'closed') break;
      throw new HttpError('transport', `reading body: ${describe(e)}`);
    }
    size += chunk.length;
    if (size > max) throw new HttpError('too-large', `HTTP response larger than ${max} bytes`);
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return {
    status,
    headers: respHeaders,
    body: bytes,
    /** The first header called `name` (case-insensitive), as text. */
    header(name) {
      const h = respHeaders.find(([k]) => k.toLowerCase() === name.toLowerCase());
      return h && dec.decode(h[1]);
    },
    text: () => dec.decode(bytes),
    json() {
      try {
        return JSON.parse(dec.decode(bytes));
      } catch (e) {
        throw new HttpError('body', `HTTP response body: ${e.message}`);
      }
    },
  };
}

export const get = (url, opts = {}) => request(url, { ...opts, method: 'GET' });
export const post = (url, opts = {}) => request(url, { ...opts, method: 'POST' });
