"""A DataFrame as a table that stays readable past 100 rows: sort by a column, keep the rows that contain a text, and
page through, with ipywidgets only (they render in JupyterLab, VS Code and on Binder with no build step).

The query explorer shows its result in one; ``FrameTable().show(frame)`` works on any DataFrame. Tests and scripts
drive it like a learner: set ``sort_by.value``, ``descending.value`` or ``filter_box.value``, press
``next_button.click()``, and read ``view`` (the filtered, sorted rows), ``html.value`` and ``position.value``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

QUERY_ORDER = ""  # the sort_by value that keeps the rows as the query returned them


class FrameTable:
    """Sorting, filtering and paging controls over one HTML page of a DataFrame."""

    def __init__(self, page_size: int = 20) -> None:
        if page_size < 1:
            raise ValueError(f"page_size: {page_size} rows per page; give 1 or more.")
        self.page_size = page_size
        self.frame: pd.DataFrame | None = None
        self.page = 0
        self._text: pd.DataFrame | None = None  # the frame as lower-case text, for filtering
        self.sort_by = widgets.Dropdown(description="Sort by", options=[("query order", QUERY_ORDER)])
        self.descending = widgets.Checkbox(description="descending", indent=False,
                                           layout=widgets.Layout(width="auto"))
        self.filter_box = widgets.Text(description="Filter", placeholder="rows where any cell contains...",
                                       continuous_update=False)
        self.previous_button = widgets.Button(description="previous", icon="chevron-left",
                                              layout=widgets.Layout(width="auto"))
        self.next_button = widgets.Button(description="next", icon="chevron-right", layout=widgets.Layout(width="auto"))
        self.position = widgets.Label()
        self.html = widgets.HTML()
        for control in (self.sort_by, self.descending, self.filter_box):
            control.observe(self._first_page, names="value")
        self.previous_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(1))
        self.controls = widgets.HBox([self.sort_by, self.descending, self.filter_box, self.previous_button,
                                      self.next_button, self.position], layout=widgets.Layout(flex_flow="row wrap"))
        self.box = widgets.VBox([self.controls, self.html])
        self.clear()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def show(self, frame: pd.DataFrame) -> None:
        """Show ``frame`` from its first page, in the query's order and unfiltered."""
        self.frame, self._text = frame, None
        with self.box.hold_trait_notifications():
            self.sort_by.options = [("query order", QUERY_ORDER)] + [(str(column), column) for column in frame.columns]
            self.sort_by.value, self.descending.value, self.filter_box.value = QUERY_ORDER, False, ""
        self.controls.layout.display = "flex" if len(frame) > self.page_size else "none"
        self.page = 0
        self._render()

    def clear(self) -> None:
        """No table: the controls hidden and the page empty (a refused query leaves nothing stale)."""
        self.frame, self._text, self.page = None, None, 0
        self.controls.layout.display = "none"
        self.html.value = self.position.value = ""

    @property
    def view(self) -> pd.DataFrame:
        """The rows that contain the filter text (in any cell, ignoring case), sorted as chosen."""
        if self.frame is None:
            return pd.DataFrame()
        rows = self.frame
        text = self.filter_box.value.strip().lower()
        if text:
            if self._text is None:
                self._text = self.frame.astype(str).apply(lambda column: column.str.lower())
            rows = rows[self._text.apply(lambda column: column.str.contains(text, regex=False)).any(axis=1)]
        if self.sort_by.value != QUERY_ORDER:
            rows = _sorted(rows, self.sort_by.value, self.descending.value)
        return rows

    @property
    def pages(self) -> int:
        """How many pages the current view has (at least one)."""
        return max(1, -(-len(self.view) // self.page_size))

    def _first_page(self, change: dict[str, Any] | None = None) -> None:
        self.page = 0
        self._render()

    def _turn(self, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._render()

    def _render(self) -> None:
        if self.frame is None:
            return
        view = self.view
        first = self.page * self.page_size
        shown = view.iloc[first:first + self.page_size]
        self.html.value = shown.to_html(max_cols=14, na_rep="", border=0)
        filtered = f" (filtered from {len(self.frame):,})" if len(view) != len(self.frame) else ""
        self.position.value = (f"rows {first + 1:,}-{first + len(shown):,} of {len(view):,}{filtered}"
                               if len(shown) else f"no rows of {len(self.frame):,} match")
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1


def _sorted(rows: pd.DataFrame, column: Any, descending: bool) -> pd.DataFrame:
    """Rows sorted by one column, missing values last; a column of mixed types is sorted by its text."""
    try:
        return rows.sort_values(column, ascending=not descending, na_position="last", kind="stable")
    except TypeError:
        return rows.sort_values(column, ascending=not descending, na_position="last", kind="stable",
                                key=lambda values: values.astype(str))
