// A crm-connector built with the SDK, for the runtime's tests
// (host/plugins/tests/javascript.rs): contacts from a REST API,
// `GET {base-url}/contacts?phone=…` (404: unknown), calls logged with
// `POST {base-url}/calls`. Settings: `base-url`, `token`.
import { config, defineCrmConnector, log } from '@switchyard/plugin-sdk';
import { get, post } from '@switchyard/plugin-sdk/http';

const auth = () => ({ authorization: `Bearer ${config.required('token')}` });

export const crm = defineCrmConnector({
  lookup(number) {
    const url = `${config.required('base-url')}/contacts?phone=${encodeURIComponent(number)}`;
    const r = get(url, { headers: auth() });
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`CRM answered ${r.status}: ${r.text()}`);
    /** @type {any} */
    const c = r.json();
    log.info('found', c.id, 'for', number);
    return {
      id: String(c.id),
      name: c.name,
      company: c.company ?? undefined,
      email: c.email ?? undefined,
      owner: c.owner ?? undefined,
      url: c.url ?? undefined,
      tags: c.tags ?? [],
      fields: Object.entries(c.extra ?? {}).map(([k, v]) => [k, String(v)]),
    };
  },
  logCall(record) {
    const r = post(`${config.required('base-url')}/calls`, {
      headers: auth(),
      json: { call: record.callId, from: record.caller.number, disposition: record.disposition, end: Number(record.endTime) },
    });
    if (r.status >= 300) throw new Error(`CRM answered ${r.status}`);
  },
});
