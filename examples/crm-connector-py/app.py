"""A REST CRM connector in Python: contact look-up with field mapping and
call logging, against any CRM with a JSON REST API.

| setting       | default                    | meaning                                   |
|---------------|----------------------------|-------------------------------------------|
| `base-url`    | — (required)               | e.g. `https://crm.example.com/api`        |
| `token`       | none                       | sent as `Authorization: Bearer <token>`   |
| `lookup-path` | `/contacts?phone={number}` | `{number}` is percent-encoded             |
| `log-path`    | `/calls`                   | where call records are POSTed             |
| `fields`      | see below                  | JSON: which CRM keys hold which field     |
| `timeout-ms`  | `3000`                     | per request                               |

A look-up answer may be the contact object itself, an array of contacts
(the first is taken), or an object whose `results`, `data`, `contacts` or
`items` array holds them; an empty answer or `404` means "unknown number".
Any other status is an error that names it.

`fields` maps contact fields to CRM keys (dots reach into nested objects),
e.g. `{"name": "properties.fullname", "company": "org.name"}`; the
defaults are the field's own name. Without a name, `first_name` and
`last_name` are joined. Other plain values of the contact object become
the contact's extra `fields` (at most 20).
"""

from switchyard import PluginError, config, crm, http, log

CONTACT_FIELDS = ("id", "name", "company", "email", "owner", "url", "tags")
LISTS = ("results", "data", "contacts", "items")


def field_map() -> dict:
    """The `fields` setting merged over the defaults; a clear error when it
    is not an object of strings naming known contact fields."""
    mapping = config.json("fields", {})
    if not isinstance(mapping, dict):
        raise PluginError("setting `fields` must be a JSON object, e.g. {\"name\": \"fullname\"}")
    unknown = sorted(set(mapping) - set(CONTACT_FIELDS))
    if unknown:
        raise PluginError(
            f"setting `fields`: unknown contact field(s) {', '.join(unknown)} "
            f"(known: {', '.join(CONTACT_FIELDS)})"
        )
    for k, v in mapping.items():
        if not isinstance(v, str) or not v:
            raise PluginError(f"setting `fields`: `{k}` must name a CRM key as a string")
    return {**{f: f for f in CONTACT_FIELDS}, **mapping}


def at(obj, path: str):
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text(obj, path: str):
    v = at(obj, path)
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return str(v)
    return v if isinstance(v, str) and v else None


def first_contact(body):
    if isinstance(body, list):
        return body[0] if body else None
    if isinstance(body, dict):
        for key in LISTS:
            if isinstance(body.get(key), list):
                items = body[key]
                return items[0] if items else None
        return body or None
    return None


def contact_from(obj, f: dict):
    if not isinstance(obj, dict):
        return None
    cid = text(obj, f["id"])
    name = text(obj, f["name"])
    if name is None:
        parts = [p for p in (text(obj, "first_name"), text(obj, "last_name")) if p]
        name = " ".join(parts) or None
    if cid is None or name is None:
        return None
    tags = at(obj, f["tags"])
    if isinstance(tags, list):
        tags = [t for t in tags if isinstance(t, str)]
    elif isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    else:
        tags = []
    used = set(f.values())
    extra = [
        (k, str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in obj.items()
        if k not in used and isinstance(v, (str, int, float, bool))
    ][:20]
    return crm.contact(
        id=cid, name=name, company=text(obj, f["company"]), email=text(obj, f["email"]),
        owner=text(obj, f["owner"]), url=text(obj, f["url"]), tags=tags, fields=extra,
    )


def excerpt(body: bytes) -> str:
    t = body.decode("utf-8", errors="replace").strip()
    return t[:200] + "…" if len(t) > 200 else t


def request(r: http.Request) -> http.Request:
    return (r.timeout(config.integer("timeout-ms", 3000))
            .header("accept", "application/json")
            .bearer(config.get("token")))


def base_url() -> str:
    base = config.require("base-url")
    if not base.startswith(("http://", "https://")):
        raise PluginError(f"setting `base-url` must start with http:// or https:// (got {base!r})")
    return base.rstrip("/")


class Crm(crm.CrmConnector):
    def lookup(self, number):
        fields = field_map()
        path = config.get_or("lookup-path", "/contacts?phone={number}")
        url = base_url() + path.replace("{number}", http.encode_query_value(number))
        resp = request(http.get(url)).send()
        if resp.status == 404:
            return None
        if not resp.ok:
            raise PluginError(f"CRM answered {resp.status} to the look-up: {excerpt(resp.body)}")
        if not resp.body.strip():
            return None
        found = contact_from(first_contact(resp.json()), fields)
        if found is None:
            log.debug(f"CRM knows nobody at {number}")
        return found

    def log_call(self, call):
        url = base_url() + config.get_or("log-path", "/calls")
        resp = request(http.post(url)).json(crm.call_json(call)).send()
        if not resp.ok:
            raise PluginError(f"CRM answered {resp.status} to the call log: {excerpt(resp.body)}")
