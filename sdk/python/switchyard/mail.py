"""E-mail through the operator's relay, for reporter plugins only (at most
5 messages per invocation, 10 recipients each; see the WIT ``mail``)."""

from typing import Iterable

from . import PluginError
from ._wit import Err, imports


class MailError(PluginError):
    """The message was not sent (not configured, rate-limited, invalid,
    failed: the message says which)."""


def send(to: Iterable[str], subject: str, body: str) -> None:
    """Hand one plain-text message to the relay."""
    m = imports("mail")
    try:
        m.send(m.MailMessage(to=list(to), subject=subject, body=body))
    except Err as e:
        kind = type(e.value).__name__.split("_", 1)[-1]
        detail = getattr(e.value, "value", None)
        raise MailError(f"mail not sent: {kind}" + (f": {detail}" if detail else "")) from None
