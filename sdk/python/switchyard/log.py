"""Logging into the tenant's plugin log (lines are capped in length and
rate by the host). ``print`` to stdout/stderr is kept in the same log."""

from ._wit import imports


def _write(level_name: str, message: str) -> None:
    host = imports("log")
    host.log(getattr(host.Level, level_name), str(message))


def trace(message: str) -> None:
    _write("TRACE", message)


def debug(message: str) -> None:
    _write("DEBUG", message)


def info(message: str) -> None:
    _write("INFO", message)


def warn(message: str) -> None:
    _write("WARN", message)


def error(message: str) -> None:
    _write("ERROR", message)
