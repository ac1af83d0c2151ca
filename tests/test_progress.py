"""kit.progress: the automatic widget/text choice, and the bars themselves."""

from __future__ import annotations

import io

import pytest
from tqdm.notebook import tqdm as widget_tqdm

from kit import progress


def test_front_end_detection_from_the_request():
    assert progress.requests_a_widget_front_end({"metadata": {"cellId": "4b1d", "deletedCells": []}})
    assert not progress.requests_a_widget_front_end({"metadata": {}, "header": {"msg_type": "execute_request"}})
    assert not progress.requests_a_widget_front_end(None)


def test_mode_is_text_without_a_kernel_and_follows_the_override(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    assert progress.mode() == "text"
    monkeypatch.setenv(progress.MODE_ENV, "widgets")
    assert progress.mode() == "widgets"
    monkeypatch.setenv(progress.MODE_ENV, "fancy")
    with pytest.raises(ValueError, match="KIT_PROGRESS: 'fancy'"):
        progress.mode()


def test_text_bar_writes_plain_lines():
    out = io.StringIO()
    with progress.bar(3, "Counting", "rows", "text", file=out) as bar:
        bar.update(3)
    assert "Counting: 100%" in out.getvalue() and "3/3" in out.getvalue()


def test_widget_bar_can_be_placed_in_another_widget(monkeypatch):
    monkeypatch.setenv(progress.MODE_ENV, "widgets")
    bar = progress.bar(10, "Reading", "rows", display=False)
    try:
        assert isinstance(bar, widget_tqdm)
        bar.update(4)
        bar.refresh()
        assert bar.container.children[1].value == 4 and bar.container.children[1].max == 10
    finally:
        bar.close()


def test_paging_callback_moves_to_rows_read():
    out = io.StringIO()
    with progress.bar(250, "Reading", "rows", "text", file=out) as bar:
        update = progress.paging_callback(bar)
        update(100, 1)
        update(250, 3)
        assert bar.n == 250
    assert "250/250" in out.getvalue() and "3 pages" in out.getvalue()
