"""The ``crm-connector`` world: contact look-ups and call logging.

In your ``app.py`` (componentize-py looks for the class called ``Crm``)::

    from switchyard import crm, http, config

    class Crm(crm.CrmConnector):
        def lookup(self, number):
            resp = http.get(config.require("base-url") + "/contacts?phone="
                            + http.encode_query_value(number)).send()
            if resp.status == 404:
                return None
            body = resp.json()
            return crm.contact(id=body["id"], name=body["name"])

        def log_call(self, call):
            http.post(config.require("base-url") + "/calls") \\
                .json(crm.call_json(call)).send()

Raise :class:`switchyard.PluginError` (the helpers' errors are ones) to
report a failure: the host logs its message, the look-up counts as "nobody
known" and the call goes on.
"""

from typing import Any, Dict, Iterable, Optional, Tuple

from ._wit import Exported, types

__all__ = ["CrmConnector", "contact", "call_json", "direction_name", "disposition_name"]


class CrmConnector(Exported):
    """Base of a ``crm-connector`` export: implement both methods.

    ``lookup(self, number: str) -> Optional[Contact]``: the contact for a
    phone number (E.164 or as dialled), ``None`` when the CRM knows nobody.

    ``log_call(self, call: CallRecord) -> None``: record a finished call.
    """

    _results = ("lookup", "log_call")

    def lookup(self, number: str):
        raise NotImplementedError

    def log_call(self, call) -> None:
        raise NotImplementedError


def _text(v: Any) -> Optional[str]:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def contact(
    id: Any,
    name: str,
    company: Optional[str] = None,
    email: Optional[str] = None,
    owner: Optional[str] = None,
    url: Optional[str] = None,
    tags: Iterable[str] = (),
    fields: Iterable[Tuple[str, Any]] = (),
):
    """A ``Contact`` record; numbers are turned into text, empty strings
    into ``None``."""
    return types().Contact(
        id=str(id),
        name=str(name),
        company=_text(company),
        email=_text(email),
        owner=_text(owner),
        url=_text(url),
        tags=[str(t) for t in tags],
        fields=[(str(k), str(v)) for k, v in fields],
    )


def direction_name(direction) -> str:
    """``inbound``, ``outbound`` or ``internal``."""
    return direction.name.lower()


def disposition_name(disposition) -> str:
    """The WIT name of a disposition (``answered``, ``no-answer``, …), with
    ``cancelled`` called ``abandoned`` as CRMs say."""
    name = disposition.name.lower().replace("_", "-")
    return "abandoned" if name == "cancelled" else name


def call_json(c) -> Dict[str, Any]:
    """A finished call as the JSON a CRM's call log usually takes (the
    same shape as the Rust ``crm-rest`` plugin posts)."""
    talk = (c.end_time - c.answer_time) // 1000 if c.answer_time is not None else 0
    return {
        "call_id": c.call_id,
        "direction": direction_name(c.direction),
        "from": c.caller.number,
        "from_name": c.caller.display_name,
        "to": c.callee.number,
        "dialled": c.dialled,
        "started_at_ms": c.start_time,
        "answered_at_ms": c.answer_time,
        "ended_at_ms": c.end_time,
        "duration_seconds": max(0, c.end_time - c.start_time) // 1000,
        "talk_seconds": max(0, talk),
        "disposition": disposition_name(c.disposition),
        "agent": c.agent,
        "queue": c.queue,
        "tags": list(c.tags),
        "recording": c.recording,
    }
