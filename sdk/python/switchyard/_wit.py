"""Access to the world's bindings, which componentize-py generates at build
time as the ``wit_world`` package.

The shared ``types`` interface is called ``types`` in worlds that import
nothing else of that name and ``switchyard_plugin_types`` in worlds that
also import ``wasi:http/types``; :func:`types` hides the difference.
"""

import importlib

from componentize_py_types import Err, Ok  # noqa: F401  (re-exported)

from . import PluginError


#: Every interface a plugin world may import, by generated module name.
#: Those of the world being built are imported now, while componentize-py
#: pre-initialises the app, so that they are part of the snapshot and cost
#: nothing when a call comes.
_INTERFACES = (
    "config", "log", "kv", "contacts", "directory", "mail",
    "types", "switchyard_plugin_types", "flow_types", "queue_types",
    "ranking_types", "account_types",
    "wasi_http_types", "outgoing_handler", "streams", "error", "poll",
)
_MODULES = {}
for _name in _INTERFACES:
    try:
        _MODULES[_name] = importlib.import_module("wit_world.imports." + _name)
    except ImportError:
        pass


def imports(name: str):
    """The generated module of imported interface ``name``; an
    ``ImportError`` naming it when the world does not import it (HTTP in
    a call flow, say: the host would refuse the component anyway)."""
    module = _MODULES.get(name)
    if module is None:
        raise ImportError(
            f"this plugin's world does not import the `{name}` interface "
            "(see wit/switchyard.wit for what each world may use)"
        )
    return module


def types():
    """The generated module of ``switchyard:plugin/types``."""
    module = _MODULES.get("switchyard_plugin_types") or _MODULES.get("types")
    if module is None:
        raise ImportError("the world's bindings have no switchyard:plugin/types")
    return module


def as_result(method):
    """Wrap an exported method so that a :class:`PluginError` becomes the
    WIT ``err(message)`` (componentize-py's ``Err`` exception) instead of a
    trap."""

    def wrapper(self, *args):
        try:
            return method(self, *args)
        except PluginError as e:
            raise Err(str(e)) from None

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    wrapper.__wrapped__ = method
    return wrapper


class Exported:
    """Base of the SDK's export classes: the methods named in ``_results``
    that a subclass defines are wrapped with :func:`as_result`."""

    _results: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls._results:
            method = cls.__dict__.get(name)
            if method is not None and not hasattr(method, "__wrapped__"):
                setattr(cls, name, as_result(method))
