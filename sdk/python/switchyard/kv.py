"""The key-value store scoped to (tenant, plugin): keep here what must
outlive one call or one instance (counters, rotations, caches)."""

import json as _json
from typing import Any, List, Optional

from . import PluginError
from ._wit import Err, imports


class KvError(PluginError):
    """The store refused or failed: too large, quota exceeded, not a
    counter, or unavailable (the message says which)."""


def _describe(e) -> str:
    name = type(e).__name__.split("_", 1)[-1]
    value = getattr(e, "value", None)
    words = {
        "TooLarge": "key or value too large",
        "QuotaExceeded": "the plugin's kv quota is used up",
        "NotACounter": "the value is not an 8-byte counter",
        "Unavailable": "the store is unavailable",
    }.get(name, name)
    return f"{words}: {value}" if value else words


def _call(what: str, key: str, f, *args):
    try:
        return f(*args)
    except Err as e:
        raise KvError(f"kv {what} {key!r}: {_describe(e.value)}") from None


def get(key: str) -> Optional[bytes]:
    """The value of ``key``, if any."""
    return _call("get", key, imports("kv").get, key)


def set(key: str, value: bytes) -> None:  # noqa: A001 - mirrors the WIT
    """Store ``value`` under ``key``."""
    _call("set", key, imports("kv").set, key, bytes(value))


def delete(key: str) -> None:
    """Remove ``key`` (missing is fine)."""
    _call("delete", key, imports("kv").delete, key)


def increment(key: str, delta: int = 1) -> int:
    """Atomically add ``delta`` to a counter (missing counts as 0); the
    new value."""
    return _call("increment", key, imports("kv").increment, key, int(delta))


def counter(key: str) -> int:
    """A counter's value (0 when missing)."""
    return increment(key, 0)


def keys(prefix: str = "", limit: int = 100) -> List[str]:
    """Keys that start with ``prefix``, sorted, at most ``limit``."""
    return _call("list-keys", prefix, imports("kv").list_keys, prefix, int(limit))


def get_json(key: str, default: Any = None) -> Any:
    """A value stored with :func:`set_json`; ``default`` when missing."""
    raw = get(key)
    if raw is None:
        return default
    try:
        return _json.loads(raw)
    except ValueError as e:
        raise KvError(f"kv value {key!r} is not JSON: {e}") from None


def set_json(key: str, value: Any) -> None:
    """Store ``value`` as compact JSON."""
    set(key, _json.dumps(value, separators=(",", ":")).encode())
