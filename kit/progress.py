"""Progress bars for long operations (paging through twins, bulk changes, jobs), in whatever can show them.

A notebook front end (JupyterLab, Notebook 7) gets tqdm's widget bar; anything that cannot render widgets (a
terminal, a script, nbval or another headless runner) gets tqdm's plain text bar on stdout. The choice is automatic:
a front end that renders widgets names the cell it runs in the request's metadata (``cellId``); headless runners
send none. ``KIT_PROGRESS=widgets|text`` overrides the guess, e.g. for a front end that renders widgets but sends no
``cellId``.

The long operations themselves (bulk creates and deletes, waiting for a job) are in :mod:`kit.bulk`, which shows
their progress with :func:`bar`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any, Literal

from tqdm import tqdm
from tqdm.std import tqdm as text_tqdm

__all__ = ["MODE_ENV", "Mode", "bar", "mode", "paging_callback", "requests_a_widget_front_end"]

MODE_ENV = "KIT_PROGRESS"
Mode = Literal["widgets", "text"]


def requests_a_widget_front_end(parent: Mapping[str, Any] | None) -> bool:
    """True when the kernel request came from a front end that renders widgets: it names its cell (``cellId``)."""
    metadata = (parent or {}).get("metadata") or {}
    return bool(metadata.get("cellId"))


def mode() -> Mode:
    """``widgets`` in a notebook front end that renders them, else ``text`` (or what ``KIT_PROGRESS`` says)."""
    chosen = os.environ.get(MODE_ENV, "").strip().lower()
    if chosen in ("widgets", "text"):
        return chosen  # type: ignore[return-value]
    if chosen:
        raise ValueError(f"{MODE_ENV}: '{chosen}' is neither 'widgets' nor 'text'; unset it to choose automatically.")
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:  # plain Python, a terminal IPython, pytest
        return "text"
    return "widgets" if requests_a_widget_front_end(kernel.get_parent()) else "text"


def bar(total: int | None = None, description: str = "", unit: str = "it", chosen: Mode | None = None,
        file: IO[str] | None = None, display: bool = True) -> tqdm:
    """A tqdm bar: the widget bar (``tqdm.notebook``) or plain text on ``file`` (stdout by default).

    ``display=False`` builds a widget bar without showing it, so a larger widget can place ``bar.container``."""
    if (chosen or mode()) == "widgets":
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(total=total, desc=description, unit=unit, display=display)
    return text_tqdm(total=total, desc=description, unit=unit, file=file or sys.stdout, ascii=True,
                     mininterval=0.5, dynamic_ncols=False, ncols=90)


def paging_callback(progress_bar: tqdm) -> Callable[[int, int], None]:
    """A ``progress`` callback for :func:`kit.twins.query_dataframe`: moves the bar to the rows read so far."""
    def update(rows: int, pages: int) -> None:
        progress_bar.set_postfix_str(f"{pages} pages", refresh=False)
        progress_bar.update(rows - progress_bar.n)
    return update
