// The screen pop: what the host tells the agent's phone of a queue call
// before it is answered, read from the INVITE (the host puts it in the
// display name for any phone, and in headers for panels like this one):
//   From display name    "VIP support: Alice" (tags, queue: caller)
//   X-Switchyard-Queue   the queue
//   X-Switchyard-Wait    seconds the caller waited when offered
//   X-Switchyard-Tags    comma list (VIP…)
//   Call-Info            <URL>;purpose=info — the caller's page in the CRM
//   X-Switchyard-Call-Id the host's call id (= the call record's id)
//   X-Switchyard-Contact the CRM contact as JSON
// Every header may be absent (a direct call, an older host): parse
// defensively and show what there is.

function header(request, name) {
  try {
    const v = request.getHeader(name);
    return v === undefined || v === null ? '' : String(v).trim();
  } catch {
    return '';
  }
}

/** `<https://crm/x>;purpose=info, <…>;purpose=icon` → the info URL. */
export function callInfoUrl(value) {
  for (const part of (value || '').split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]+)>(.*)$/.exec(part);
    if (!m) continue;
    const purpose = /purpose\s*=\s*"?([\w-]+)/i.exec(m[2]);
    if (!purpose || purpose[1].toLowerCase() === 'info') return safeUrl(m[1]);
  }
  return '';
}

/** Only http(s) links are offered (never `javascript:`). */
export function safeUrl(u) {
  try {
    const url = new URL(u);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '';
  } catch {
    return '';
  }
}

const str = (v) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** The contact header's JSON, tolerated as plain, percent- or base64-encoded. */
export function parseContact(value) {
  if (!value) return null;
  const tries = [() => value, () => decodeURIComponent(value), () => atob(value)];
  for (const t of tries) {
    try {
      const v = JSON.parse(t());
      if (v && typeof v === 'object' && !Array.isArray(v)) return contactFrom(v);
    } catch { /* next form */ }
  }
  return null;
}

/** A contact object (header or SSE `offered` detail) in the one shape the card shows. */
export function contactFrom(v) {
  if (!v || typeof v !== 'object') return null;
  let fields = [];
  if (Array.isArray(v.fields)) {
    fields = v.fields
      .filter((f) => Array.isArray(f) && f.length >= 2)
      .map(([k, x]) => [str(k), str(x)]);
  } else if (v.fields && typeof v.fields === 'object') {
    fields = Object.entries(v.fields).map(([k, x]) => [k, str(x)]);
  }
  const tags = Array.isArray(v.tags) ? v.tags.map(str).filter(Boolean)
    : str(v.tags).split(',').map((x) => x.trim()).filter(Boolean);
  const c = {
    id: str(v.id),
    name: str(v.name),
    company: str(v.company),
    email: str(v.email),
    owner: str(v.owner),
    url: safeUrl(str(v.url)),
    tags,
    fields: fields.filter(([k]) => k).slice(0, 20),
  };
  return c.name || c.id || c.company || c.email ? c : null;
}

/**
 * `"VIP support: Alice"` → the caller's own name (after the queue's
 * prefix), when the prefix is the tags and queue we know of.
 */
export function callerName(display, queue) {
  if (!display) return '';
  const i = display.indexOf(': ');
  if (queue && i > 0 && display.slice(0, i).split(' ').includes(queue)) return display.slice(i + 2);
  return display;
}

export function screenPop(request, display, number) {
  const queue = header(request, 'X-Switchyard-Queue');
  const waitRaw = header(request, 'X-Switchyard-Wait');
  const wait = /^\d+$/.test(waitRaw) ? Number(waitRaw) : null;
  const tags = header(request, 'X-Switchyard-Tags').split(',').map((x) => x.trim()).filter(Boolean);
  return {
    queue,
    waitSecs: wait,
    tags,
    crmUrl: callInfoUrl(header(request, 'Call-Info')),
    callId: header(request, 'X-Switchyard-Call-Id'),
    contact: parseContact(header(request, 'X-Switchyard-Contact')),
    display,
    name: callerName(display, queue),
    number,
    offeredMs: Date.now(),
  };
}
