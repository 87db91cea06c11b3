"""switchyard: write Switchyard plugins in Python.

A Switchyard plugin is a WebAssembly component that implements one world of
the ``switchyard:plugin`` WIT package (``wit/switchyard.wit``, 0.2.2).
componentize-py turns a Python module into such a component; it generates
the world's bindings (the ``wit_world`` package) while it builds, and this
package wraps them in small typed helpers, in the spirit of the Rust SDK:

=================== ==================================== =========================
world               export (a class in your ``app.py``)  helpers
=================== ==================================== =========================
``call-flow``       ``class Flow(flow.CallFlow)``        :mod:`switchyard.flow`,
                                                         :mod:`switchyard.state`,
                                                         :mod:`switchyard.contacts`,
                                                         :mod:`switchyard.directory`
``crm-connector``   ``class Crm(crm.CrmConnector)``      :mod:`switchyard.crm`,
                                                         :mod:`switchyard.http`
``queue-ranker``    ``class Ranking(queue.Ranker)``      :mod:`switchyard.queue`
``queue-strategy``  ``class Strategy(queue.Strategy)``   :mod:`switchyard.queue`
``reporter``        ``class Reporting(report.Reporter)`` :mod:`switchyard.report`,
                                                         :mod:`switchyard.http`,
                                                         :mod:`switchyard.mail`
=================== ==================================== =========================

Every world also has :mod:`switchyard.config`, :mod:`switchyard.kv` and
:mod:`switchyard.log`.

Use only the helpers your world has: ``switchyard.http`` in a call flow,
say, raises ``ImportError`` when called, because the call-flow world has no
HTTP (the host would refuse the import anyway). The interfaces of the
world being built are imported while componentize-py pre-initialises the
app, so they are in the snapshot and cost nothing per call.

Errors: raise :class:`PluginError` (or let a helper raise one of its
subclasses) from an exported method and the host gets ``err(message)``:
it logs the message and the call gets the tenant's fallback. Any other
exception is a bug: componentize-py prints its traceback (the host keeps
it in the tenant's plugin log) and traps, and the call falls back too.
"""

import time

__all__ = ["PluginError", "now_ms"]

#: The version of the ``switchyard:plugin`` WIT package this SDK targets.
WIT_VERSION = "0.2.2"


class PluginError(Exception):
    """A failure the plugin reports to the host as ``err(message)``.

    Exported methods of the SDK's base classes turn it into the WIT
    ``result``'s error case; its message is what the tenant's log shows.
    """

    def __str__(self) -> str:
        return " ".join(str(a) for a in self.args) if self.args else type(self).__name__


def now_ms() -> int:
    """Milliseconds since the Unix epoch, UTC (the WIT ``timestamp``)."""
    return time.time_ns() // 1_000_000
