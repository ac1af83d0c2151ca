"""A query explorer in the notebook: write an IoT Hub query, run it, get every page as a pandas DataFrame.

It works on the learner's own ``IoTHubRegistryManager`` (built with ``from_token_credential``), and beside the
widgets it shows the plain code it runs, so the same result is one line away without widgets. Recent queries are
kept for the kernel's session in :data:`HISTORY`, shared by every explorer. A refused query shows the hub's message
with a caret under the position it names; no traceback. The result is a :class:`~kit.explore.table.FrameTable`:
sort by a column, filter by a text, page through (``rows_shown`` rows a page).

Tests and scripts drive it like a learner: set ``explorer.query_box.value``, press ``explorer.run_button.click()``,
read ``explorer.frame``, ``explorer.status.value``, ``explorer.error.value``, ``explorer.progress_text.value`` and
``explorer.table`` (its ``html.value``, ``view``, ``sort_by``, ``filter_box``, ``next_button``).
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets
import pandas as pd
from azure.iot.hub import IoTHubRegistryManager

from kit import progress, twins
from kit.explore.reading import QueryFailure, count_query, json_page
from kit.explore.table import FrameTable

EXAMPLES = (
    "SELECT * FROM devices",
    "SELECT * FROM devices WHERE tags.building = 'building-a'",
    "SELECT tags.building AS building, COUNT() AS devices FROM devices GROUP BY tags.building",
    "SELECT connectionState, COUNT() AS devices FROM devices GROUP BY connectionState",
    ("SELECT deviceId, properties.reported.temperature AS temperature FROM devices "
     "WHERE properties.reported.temperature > 23"),
)
HISTORY: list[str] = []  # this kernel's queries, newest first
HISTORY_SIZE = 20
ERROR_COLOUR = "#b00020"


def remember(query: str) -> list[str]:
    """Put ``query`` first in the session's history (once) and return the history."""
    if query in HISTORY:
        HISTORY.remove(query)
    HISTORY.insert(0, query)
    del HISTORY[HISTORY_SIZE:]
    return HISTORY


def plain_code(query: str, page_size: int = twins.PAGE_SIZE, fast: bool = False) -> str:
    """The code that does what the explorer does: one kit line, and the SDK loop under it."""
    fetch = ", fetch=json_page" if fast else ""
    size = f", page_size={page_size}" if page_size != twins.PAGE_SIZE else ""
    head = "from kit.explore import json_page\n" if fast else ""
    return (f"{head}from kit import twins\n\nframe = twins.query_dataframe(registry, {query!r}{size}{fetch})\n\n"
            + ("# json_page sends the request of this SDK loop, without building Twin models:\n" if fast else
               "# which reads every page with the SDK:\n") +
            "from azure.iot.hub.models import QuerySpecification\n\n"
            "rows, token = [], None\nwhile True:\n"
            f"    result = registry.query_iot_hub(QuerySpecification(query={query!r}), token, {page_size})\n"
            "    rows.extend(result.items)\n    token = result.continuation_token\n    if not token:\n"
            "        break")


class _LabelWriter:
    """A file for tqdm's text bar that keeps its latest line in a widget (text mode has no terminal to redraw)."""

    def __init__(self, label: widgets.Label) -> None:
        self.label = label

    def write(self, text: str) -> None:
        line = text.replace("\r", "\n").strip().splitlines()
        if line:
            self.label.value = line[-1].strip()

    def flush(self) -> None:
        pass


class QueryExplorer:
    """The widgets, the last result (``frame``, ``elapsed_s``, ``pages``) and the last failure (``failure``)."""

    def __init__(self, registry: IoTHubRegistryManager, query: str = EXAMPLES[0],
                 page_size: int = twins.PAGE_SIZE, rows_shown: int = 20, fast: bool = False,
                 count_first: bool = True) -> None:
        if not isinstance(registry, IoTHubRegistryManager):
            raise TypeError("registry: give the explorer an IoTHubRegistryManager, e.g. "
                            "IoTHubRegistryManager.from_token_credential(host, credential).")
        self.registry = registry
        self.page_size = page_size
        self.rows_shown = rows_shown
        self.count_first = count_first
        self.frame: pd.DataFrame | None = None
        self.failure: QueryFailure | None = None
        self.elapsed_s: float | None = None
        self.pages = 0
        self.query_box = widgets.Textarea(value=query, rows=3, layout=widgets.Layout(width="100%"),
                                          placeholder="SELECT * FROM devices WHERE ...")
        self.history = widgets.Dropdown(description="Recent", layout=widgets.Layout(width="100%"))
        self.history.observe(self._pick, names="value")
        self.fast = widgets.Checkbox(value=fast, indent=False,
                                     description="read pages as JSON (skip the SDK's Twin models: faster)")
        self.run_button = widgets.Button(description="Run query", button_style="primary", icon="play")
        self.run_button.on_click(lambda _: self.run())
        self.error = widgets.HTML()
        self.status = widgets.HTML()
        self.progress_slot = widgets.Box()
        self.progress_text = widgets.Label()
        self.table = FrameTable(rows_shown)
        self.code = widgets.HTML()
        self._refresh_history()
        self._show_code()
        self.box = widgets.VBox([self.history, self.query_box, widgets.HBox([self.run_button, self.fast]),
                                 self.error, self.progress_slot, self.progress_text, self.status, self.table.box,
                                 self.code])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def _refresh_history(self) -> None:
        known = list(dict.fromkeys([*HISTORY, *EXAMPLES]))
        self.history.options = [("recent queries and examples...", "")] + [(q[:110], q) for q in known]
        self.history.value = ""

    def _pick(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.query_box.value = change["new"]

    def _show_code(self, query: str | None = None) -> None:
        code = plain_code(query or self.query_box.value.strip(), self.page_size, self.fast.value)
        self.code.value = ("<details><summary>The same in code (works without widgets)</summary>"
                           f"<pre style='font-size:90%'>{html.escape(code)}</pre></details>")

    def plain_code(self) -> str:
        """The current query as a script that runs without widgets."""
        return plain_code(self.query_box.value.strip(), self.page_size, self.fast.value)

    def _bar(self, total: int | None) -> Any:
        chosen = progress.mode()
        if chosen == "widgets":
            bar = progress.bar(total, "Reading pages", "rows", "widgets", display=False)
            self.progress_slot.children = [bar.container]
            return bar
        self.progress_slot.children = []
        return progress.bar(total, "Reading pages", "rows", "text", file=_LabelWriter(self.progress_text))

    def run(self) -> pd.DataFrame | None:
        """Run the query in the box through every page; show the table, the count and the time, or the error."""
        query = self.query_box.value.strip()
        self.error.value = self.status.value = self.progress_text.value = ""
        self.table.clear()
        self.frame, self.failure, self.elapsed_s, self.pages = None, None, None, 0
        self._show_code(query)
        started = time.perf_counter()
        fetch = json_page if self.fast.value else twins.sdk_page
        try:
            total = self._count(query)
            with self._bar(total) as bar:
                frame = twins.query_dataframe(self.registry, query, self.page_size, fetch=fetch,
                                              progress=self._progress(bar))
        except ValueError as error:  # checked before any request: empty query, page size
            self.error.value = _error_html(str(error))
            return None
        except Exception as error:  # the hub's refusal is shown, never a traceback
            self.failure = QueryFailure(error, query)
            self.error.value = _error_html(str(self.failure), self.failure.pointer(query))
            self._clear_progress()  # an empty "0 rows" bar under the error would only confuse
            return None
        finally:
            if query:
                remember(query)
            self._refresh_history()
        self.elapsed_s = time.perf_counter() - started
        self.frame = frame
        self.status.value = (f"<b>{len(frame):,} rows</b>, {len(frame.columns)} columns, {self.pages} "
                             f"page{'s' if self.pages != 1 else ''}, {self.elapsed_s:.2f} s")
        self.table.show(frame)
        return frame

    def _clear_progress(self) -> None:
        self.progress_slot.children = []
        self.progress_text.value = ""

    def _count(self, query: str) -> int | None:
        counting = count_query(query) if self.count_first else None
        if counting is None:
            return None
        try:
            counted = twins.query_dataframe(self.registry, counting)
        except Exception:  # the query itself will fail and report it, with its own positions
            return None
        return int(counted["total"].iloc[0]) if "total" in counted.columns and len(counted) else 0

    def _progress(self, bar: Any) -> twins.Progress:
        move = progress.paging_callback(bar)

        def update(rows: int, pages: int) -> None:
            self.pages = pages
            move(rows, pages)
        return update


def _error_html(message: str, pointer: str = "") -> str:
    shown = html.escape(message) + (f"\n\n{html.escape(pointer)}" if pointer else "")
    return f'<pre style="color:{ERROR_COLOUR}; white-space:pre-wrap; margin:0">{shown}</pre>'


def explorer(registry: IoTHubRegistryManager, query: str = EXAMPLES[0], **options: Any) -> QueryExplorer:
    """``explore.explorer(registry)``: a :class:`QueryExplorer` on your registry manager."""
    return QueryExplorer(registry, query, **options)
