"""Typed state between the events of one call.

A fresh instance serves every event, so what a flow must remember between
events of a call travels in the opaque ``state`` blob it returns with each
decision (capped by the tenant's ``max_state_bytes``). These helpers keep
it as compact JSON::

    st = state.load(raw, {"tries": 0})
    st["tries"] += 1
    return flow.decide([...], state=st)
"""

import json as _json
from typing import Any, Optional

from . import PluginError


class StateError(PluginError):
    """The state blob is not what this plugin saved."""


def load(raw: Optional[bytes], default: Any = None) -> Any:
    """The state saved with the previous decision; ``default`` (a fresh
    copy, for dicts and lists) when there is none."""
    if raw is None or len(raw) == 0:
        if isinstance(default, (dict, list)):
            return _json.loads(_json.dumps(default))
        return default
    try:
        return _json.loads(bytes(raw))
    except ValueError as e:
        raise StateError(f"flow state is not this plugin's JSON: {e}") from None


def save(value: Any) -> bytes:
    """``value`` as the state blob (compact JSON)."""
    return _json.dumps(value, separators=(",", ":")).encode()
