"""Read-only view of the tenant's directory (call-flow world only)."""

from typing import List, Optional

from ._wit import imports


def extension(number: str):
    """The extension ``number`` (``number``, ``display_name``,
    ``registered``, ``has_voicemail``), if it exists."""
    return imports("directory").get_extension(number)


def is_reachable(number: str) -> bool:
    """Whether the extension exists and has a registered device now."""
    e = extension(number)
    return bool(e is not None and e.registered)


def ring_group_members(name: str) -> Optional[List[str]]:
    """Member extensions of a ring group, in ring order."""
    return imports("directory").ring_group_members(name)


def queue_status(name: str):
    """A queue's live figures (``waiting``, ``agents_logged_in``,
    ``agents_available``, ``longest_wait_seconds``,
    ``average_wait_seconds``), if the queue exists."""
    return imports("directory").get_queue_status(name)
