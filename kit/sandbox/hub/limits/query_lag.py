"""Twin queries lag twin writes (realism knob ``query_lag_seconds``), as on a real hub.

"Query results are eventually consistent operations and delays of up to 30 minutes should be tolerated"
(query-twins.md): a query may still return a twin as it was before a recent write. The sandbox keeps that short (2 s by
default) so the course stays fast, and shows it the same way every time: a query sees each twin as it was ``lag``
seconds ago. A device created within the lag is not yet returned, one deleted within the lag still is. ``GET
/twins/{id}`` always answers the current twin.

This is a thin layer beside the registry: the registry reports each twin write here with the text it replaces, and
the query route swaps in the remembered version for the few rows written within the lag. Rows written earlier come
straight from SQLite, so the query path is unchanged when nothing was written recently.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterator

Key = tuple[str, int]  # (table, rowid)


class TwinHistory:
    """The twin versions replaced within the last ``lag`` seconds, per row, oldest first."""

    def __init__(self, lag: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self.lag = lag
        self.clock = clock
        self._versions: dict[Key, deque[tuple[float, str | None]]] = {}
        self._order: deque[tuple[float, Key]] = deque()

    def record(self, table: str, rowid: int, previous: str | None) -> None:
        """A write to ``table`` row ``rowid`` replaced ``previous`` (None: the row did not exist before)."""
        lag = self.lag()
        if lag <= 0:
            return
        now = self.clock()
        self._expire(now - lag)
        key = (table, rowid)
        self._versions.setdefault(key, deque()).append((now, previous))
        self._order.append((now, key))

    def _expire(self, horizon: float) -> None:
        while self._order and self._order[0][0] <= horizon:
            _, key = self._order.popleft()
            versions = self._versions[key]
            versions.popleft()
            if not versions:
                del self._versions[key]

    def visible(self, table: str) -> dict[int, str | None]:
        """Rows of ``table`` written within the lag → the text a query sees (None: not visible yet)."""
        lag = self.lag()
        if lag <= 0:
            self._versions.clear()
            self._order.clear()
            return {}
        self._expire(self.clock() - lag)
        return {rowid: versions[0][1] for (name, rowid), versions in self._versions.items() if name == table}


def lagged(rows: Iterator[tuple[int, str]], visible: dict[int, str | None],
           after: int) -> Iterator[tuple[int, str]]:
    """``rows`` (rowid order, from SQLite) with the rows written within the lag replaced by what queries see."""
    if not visible:
        yield from rows
        return
    older = sorted((rowid, text) for rowid, text in visible.items() if rowid > after and text is not None)
    current = ((rowid, text) for rowid, text in rows if rowid not in visible)
    yield from heapq.merge(current, older, key=lambda row: row[0])
