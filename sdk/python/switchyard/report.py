"""The ``reporter`` and ``billing-reporter`` worlds: told about every
finished call and live events (and, for billing reporters, the account).

In your ``app.py`` (componentize-py looks for the class ``Reporting``, and
``AccountEvents`` in the billing-reporter world)::

    from switchyard import report, kv

    class Reporting(report.Reporter):
        def on_call_record(self, call):
            kv.increment("calls")

        def on_notice(self, notice):
            pass
"""

from ._wit import Exported

__all__ = ["Reporter", "AccountEvents"]


class Reporter(Exported):
    """Base of a ``reporting`` export."""

    _results = ("on_call_record", "on_notice")

    def on_call_record(self, call) -> None:
        pass

    def on_notice(self, notice) -> None:
        pass


class AccountEvents(Exported):
    """Base of the ``account-events`` export of a billing reporter."""

    _results = ("on_account_notice",)

    def on_account_notice(self, notice) -> None:
        pass
