"""Queue strategies: order the agents who could take a call.

Two worlds play this role. ``queue-strategy`` hands the candidates over as
records (``class Strategy(queue.Strategy)`` with ``select``);
``queue-ranker`` (0.2.1) hands them over as columns and wants positions
back (``class Ranking(queue.Ranker)`` with ``rank``), cheaper for large
queues. Build with ``-w switchyard:plugin/queue-strategy`` or
``-w switchyard:plugin/queue-ranker`` accordingly.

An instance may serve several decisions in a row: parse settings once if
you like, but keep counters and rotations in :mod:`switchyard.kv`.
"""

from typing import Dict, List, Optional

from ._wit import Exported

__all__ = ["Strategy", "Ranker", "Candidates"]


class Strategy(Exported):
    """Base of a ``queue-strategy`` export: implement
    ``select(self, queue, call, candidates) -> list of agent ids``, best
    first (ids that are not candidates are ignored; candidates left out
    are not offered this call)."""

    def select(self, queue, call, candidates) -> List[str]:
        raise NotImplementedError


class Candidates:
    """The columns of a ``ranking.rank`` decision, read by candidate."""

    def __init__(self, columns):
        self.columns = columns
        ids, ends, start = [], columns.id_ends, 0
        raw = columns.ids.encode()
        for end in ends:
            ids.append(raw[start:end].decode())
            start = end
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, agent_id: str) -> Optional[int]:
        try:
            return self.ids.index(agent_id)
        except ValueError:
            return None

    def skill_level(self, i: int, skill: str) -> int:
        """Candidate ``i``'s level in ``skill`` (0: lacks it)."""
        names = [s.lower() for s in self.columns.skill_names]
        try:
            j = names.index(skill.lower())
        except ValueError:
            return 0
        return self.columns.skill_levels[i * len(names) + j]

    def row(self, i: int) -> Dict[str, object]:
        c = self.columns
        return {
            "id": self.ids[i], "calls_today": c.calls_today[i],
            "talk_seconds_today": c.talk_seconds_today[i],
            "last_call_end": c.last_call_end[i] or None, "idle_since": c.idle_since[i],
            "order": c.order[i], "penalty": c.penalty[i],
        }


class Ranker(Exported):
    """Base of a ``queue-ranker`` export: implement
    ``rank(self, queue, call, candidates) -> list of positions`` (wrap the
    columns in :class:`Candidates` to read them by candidate)."""

    def rank(self, queue, call, candidates) -> List[int]:
        raise NotImplementedError
