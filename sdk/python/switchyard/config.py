"""The plugin's settings, as the tenant configured them for this plugin.

A version's settings never change, so reading them on every call is cheap
and always current.
"""

import json as _json
from typing import Any, Dict, List, Optional, Tuple

from . import PluginError
from ._wit import imports


class ConfigError(PluginError):
    """A setting is missing or not what the plugin expects; the message
    names the setting."""


def _host():
    return imports("config")


def get(key: str) -> Optional[str]:
    """One setting, if set."""
    return _host().get(key)


def get_or(key: str, default: str) -> str:
    """One setting, or ``default`` when it is not set."""
    value = _host().get(key)
    return default if value is None else value


def require(key: str) -> str:
    """One setting that must be set (and not empty)."""
    value = _host().get(key)
    if value is None or value.strip() == "":
        raise ConfigError(f"setting `{key}` is not set")
    return value


def all() -> List[Tuple[str, str]]:  # noqa: A001 - mirrors the Rust SDK
    """Every setting, sorted by key."""
    return list(_host().get_all())


def as_dict() -> Dict[str, str]:
    """Every setting, as a dict."""
    return dict(_host().get_all())


def integer(key: str, default: Optional[int] = None) -> Optional[int]:
    """A setting parsed as an integer; ``default`` when unset."""
    value = _host().get(key)
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise ConfigError(f"setting `{key}`: {value!r} is not an integer") from None


def boolean(key: str, default: bool = False) -> bool:
    """A setting parsed as a boolean (true/false, yes/no, on/off, 1/0)."""
    value = _host().get(key)
    if value is None:
        return default
    v = value.strip().lower()
    if v in ("true", "yes", "on", "1"):
        return True
    if v in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"setting `{key}`: {value!r} is not true or false")


def json(key: str, default: Any = None) -> Any:
    """A setting parsed as JSON; ``default`` when unset."""
    value = _host().get(key)
    if value is None:
        return default
    try:
        return _json.loads(value)
    except ValueError as e:
        raise ConfigError(f"setting `{key}` is not valid JSON: {e}") from None
