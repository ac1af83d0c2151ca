"""One device's twin, readable: a tree with the ``$metadata`` time of every value, and desired against reported.

``twin_tree(registry.get_twin("thermostat-a-1"))`` prints as an indented text tree and renders as a foldable HTML
tree in a notebook. ``desired_vs_reported(twin)`` lists each key that differs (``$metadata`` and ``$version`` are
bookkeeping, not settings): ``missing`` (desired, not reported yet), ``changed`` (both, different values) and
``added`` (reported only). A reported value in the IoT Plug and Play acknowledgement form
(``{"value": 21.5, "ac": 200, "av": 3}``) is compared by its ``value``.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from kit import twins

SECTIONS = ("desired", "reported")
BOOKKEEPING = ("$metadata", "$version")


def _as_twin_dict(twin: Any) -> dict[str, Any]:
    value = twins.as_dict(twin)
    if not isinstance(value, dict):
        raise TypeError("twin: give a twin from registry.get_twin(device_id) (or its dict form).")
    return value


def _stamp(metadata: dict[str, Any] | None) -> str:
    if not isinstance(metadata, dict) or "$lastUpdated" not in metadata:
        return ""
    version = metadata.get("$lastUpdatedVersion")
    return f"updated {metadata['$lastUpdated']}" + (f", v{version}" if version is not None else "")


class TwinTree:
    """A twin with its metadata; ``str()`` gives the text tree, ``_repr_html_`` the foldable one."""

    def __init__(self, twin: Any) -> None:
        self.twin = _as_twin_dict(twin)

    def _header(self) -> str:
        t = self.twin
        return (f"{t.get('deviceId', '?')}  (etag {t.get('etag', '?')}, version {t.get('version', '?')}, "
                f"{t.get('status', '?')}, {t.get('connectionState', '?')})")

    def _sections(self) -> list[tuple[str, Any, dict[str, Any] | None]]:
        """(name, content, metadata) for tags, desired and reported."""
        properties = self.twin.get("properties") or {}
        found: list[tuple[str, Any, dict[str, Any] | None]] = [("tags", self.twin.get("tags") or {}, None)]
        for name in SECTIONS:
            section = properties.get(name) or {}
            found.append((name, section, section.get("$metadata")))
        return found

    def lines(self) -> list[str]:
        """The tree as plain-text lines (``str()`` joins them), for consoles without HTML."""
        out = [self._header()]
        sections = self._sections()
        for index, (name, content, metadata) in enumerate(sections):
            last = index == len(sections) - 1
            version = content.get("$version") if isinstance(content, dict) else None
            note = "  ".join(x for x in (f"$version {version}" if version is not None else "", _stamp(metadata)) if x)
            out.append(("└── " if last else "├── ") + name + (f"   [{note}]" if note else ""))
            out += _text_branch(content, metadata, "    " if last else "│   ")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        parts = [f"<div style='font-family:monospace'><b>{html.escape(self._header())}</b>"]
        for name, content, metadata in self._sections():
            stamp = _stamp(metadata)
            parts.append(f"<details open><summary><b>{name}</b> <small>{html.escape(stamp)}</small></summary>"
                         f"{_html_branch(content, metadata)}</details>")
        return "".join(parts) + "</div>"


def _children(content: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in content.items() if key not in BOOKKEEPING]


def _text_branch(content: Any, metadata: dict[str, Any] | None, indent: str) -> list[str]:
    lines: list[str] = []
    items = _children(content) if isinstance(content, dict) else []
    for index, (key, value) in enumerate(items):
        last = index == len(items) - 1
        child_meta = (metadata or {}).get(key) if isinstance(metadata, dict) else None
        stamp = _stamp(child_meta)
        shown = f"{key}" if isinstance(value, dict) else f"{key}: {value!r}"
        lines.append(indent + ("└── " if last else "├── ") + shown + (f"   ({stamp})" if stamp else ""))
        if isinstance(value, dict):
            lines += _text_branch(value, child_meta, indent + ("    " if last else "│   "))
    return lines


def _html_branch(content: Any, metadata: dict[str, Any] | None) -> str:
    items = _children(content) if isinstance(content, dict) else []
    rows = []
    for key, value in items:
        child_meta = (metadata or {}).get(key) if isinstance(metadata, dict) else None
        stamp = f" <small style='color:#666'>{html.escape(_stamp(child_meta))}</small>" if _stamp(child_meta) else ""
        if isinstance(value, dict):
            rows.append(f"<li><details><summary>{html.escape(key)}{stamp}</summary>"
                        f"{_html_branch(value, child_meta)}</details></li>")
        else:
            rows.append(f"<li>{html.escape(key)}: <b>{html.escape(repr(value))}</b>{stamp}</li>")
    return "<ul style='list-style:none; margin:0 0 0 1em; padding:0'>" + "".join(rows) + "</ul>"


def twin_tree(twin: Any) -> TwinTree:
    """The twin (from ``registry.get_twin``) as a tree with metadata timestamps."""
    return TwinTree(twin)


def _leaves(content: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys → values, skipping bookkeeping; a Plug and Play acknowledgement counts as its ``value``."""
    if not isinstance(content, dict):
        return {prefix: content}
    if prefix and "value" in content and "ac" in content:
        return {prefix: content["value"]}
    leaves: dict[str, Any] = {}
    for key, value in _children(content):
        leaves.update(_leaves(value, f"{prefix}.{key}" if prefix else key))
    return leaves


def desired_vs_reported(twin: Any) -> pd.DataFrame:
    """One row per key that differs: ``key``, ``change`` (missing / changed / added), ``desired``, ``reported``."""
    properties = _as_twin_dict(twin).get("properties") or {}
    desired, reported = (_leaves(properties.get(name) or {}) for name in SECTIONS)
    rows = []
    for key in sorted(desired.keys() | reported.keys()):
        if key not in reported:
            change = "missing"
        elif key not in desired:
            change = "added"
        elif desired[key] != reported[key]:
            change = "changed"
        else:
            continue
        rows.append({"key": key, "change": change, "desired": desired.get(key), "reported": reported.get(key)})
    return pd.DataFrame(rows, columns=["key", "change", "desired", "reported"])
