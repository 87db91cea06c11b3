""""Who is calling?" — answered by the tenant's active crm-connector
(call-flow world only)."""

from typing import Optional

from ._wit import imports


def lookup(number: str):
    """The tenant CRM's contact for ``number`` (a ``Contact`` record with
    ``id``, ``name``, ``company``, ``email``, ``owner``, ``url``, ``tags``,
    ``fields``); ``None`` when the tenant has no connector, the CRM knows
    nobody, or the connector failed within its budget."""
    return imports("contacts").lookup(number)


def name_of(number: str) -> Optional[str]:
    """The caller's name from the CRM, if known."""
    c = lookup(number)
    return c.name if c is not None else None
