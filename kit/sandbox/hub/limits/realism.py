"""The hub's realism knobs: behaviour every real hub has that a learner would otherwise first meet on Azure.

Each knob is a hub setting (``hub_settings``, key ``realism.<name>``), shown and changed with
``python -m kit.sandbox realism``; a running sandbox picks a change up at its next request (no restart). Defaults are
Azure's behaviour, so the course meets what a real hub does; an instructor may switch one off for a demo.

* ``throttling`` (on): operation throttles per tier and unit, traffic shaping, then 429 ThrottlingException
  (``throttling``);
* ``query_lag_seconds`` (2): twin queries see each twin as it was this long ago (``query_lag``); GET is never lagged;
* ``unquoted_etags`` (ignored): an ``If-Match`` etag without double quotes is ignored, as the real hub does;
  ``compared`` checks it like a quoted one (the sandbox's earlier, stricter behaviour);
* ``role_propagation_seconds``: how long a new role assignment takes to apply (``rbac`` owns it; also
  ``python -m kit.sandbox role propagation``).

Other parts add their knob with :func:`register` (for example the propagation delay of role assignments), and the
command line offers it at once. docs/parity.md lists every knob with its source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.sandbox import rbac, settings_store
from kit.sandbox.db import Database

KEY_PREFIX = "realism."


@dataclass(frozen=True)
class Knob:
    """One setting: its name, default, how a text value is read (raising ValueError with the fix) and a help line."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    option: str  # the command-line option, e.g. --query-lag
    setting: str = ""  # the hub setting that holds it, when another part owns it; else realism.<name>

    @property
    def key(self) -> str:
        return self.setting or KEY_PREFIX + self.name


def on_off(text: str) -> bool:
    """``on``/``off`` (also true/false, 1/0) as a bool."""
    value = str(text).strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"'{text}' is neither on nor off.")


def seconds(text: str) -> float:
    """A duration in seconds, 0 or more (0 switches the behaviour off)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"'{text}' is not a number of seconds, e.g. 2 or 0.5.") from None
    if not 0 <= value <= 3600:
        raise ValueError(f"{value:g} s is out of range; give 0 (off) to 3600 seconds.")
    return value


def etag_rule(text: str) -> str:
    value = str(text).strip().lower()
    if value not in ("ignored", "compared"):
        raise ValueError(f"'{text}' is neither 'ignored' (Azure) nor 'compared'.")
    return value


def _show_bool(value: bool) -> str:
    return "on" if value else "off"


KNOBS: dict[str, Knob] = {}


def register(knob: Knob) -> None:
    """Add a knob (another part of the sandbox owns its behaviour); ``realism`` shows and sets it from then on."""
    KNOBS[knob.name] = knob


register(Knob("throttling", True, on_off, "operation throttles per tier and unit, traffic shaping, then 429 "
              "ThrottlingException (on|off)", "--throttling"))
register(Knob("query_lag_seconds", 2.0, seconds, "seconds by which twin queries lag twin writes (0: none)",
              "--query-lag"))
register(Knob("unquoted_etags", "ignored", etag_rule, "an If-Match etag without double quotes is 'ignored' (Azure) "
              "or 'compared'", "--unquoted-etags"))
register(Knob("role_propagation_seconds", rbac.DEFAULT_PROPAGATION_S, seconds,
              "seconds before a new role assignment applies (rbac; Azure: up to 10 minutes)", "--role-propagation",
              setting=rbac.PROPAGATION_KEY))


def read(db: Database) -> dict[str, Any]:
    """Every knob's current value (its default when never set)."""
    db.ensure_schema(settings_store.SCHEMA)
    keys = [knob.key for knob in KNOBS.values()]
    stored = {row[0]: row[1] for row in db.all(
        f"SELECT key, value FROM hub_settings WHERE key IN ({','.join('?' * len(keys))})", keys)}
    values: dict[str, Any] = {}
    for knob in KNOBS.values():
        text = stored.get(knob.key)
        try:
            values[knob.name] = knob.default if text is None else knob.parse(text)
        except ValueError:  # a hand-edited value: fall back to the default rather than break every request
            values[knob.name] = knob.default
    return values


def update(db: Database, changes: dict[str, str]) -> dict[str, Any]:
    """Store knob values given as text (checked first, so a bad one changes nothing); returns all values."""
    parsed = {}
    for name, text in changes.items():
        knob = KNOBS.get(name)
        if knob is None:
            raise ValueError(f"realism: no knob '{name}'; known: {', '.join(KNOBS)}.")
        try:
            parsed[name] = knob.parse(text)
        except ValueError as error:
            raise ValueError(f"{knob.option}: {error}") from None
    for name, value in parsed.items():
        settings_store.put(db, KNOBS[name].key, _show_bool(value) if isinstance(value, bool) else str(value))
    return read(db)


def ensure(db: Database, wanted: dict[str, Any]) -> None:
    """Set the knobs in ``wanted`` (values or text) that differ from the stored ones; leave the rest untouched."""
    current = read(db)
    changes = {name: str(_show_bool(value) if isinstance(value, bool) else value) for name, value in wanted.items()
               if KNOBS[name].parse(_show_bool(value) if isinstance(value, bool) else str(value)) != current[name]}
    if changes:
        update(db, changes)


QUICK = {"throttling": False, "query_lag_seconds": 0.0}  # for speed figures and quick tests, not for the course


def switch_off(state_dir: Path) -> None:
    """Throttling off and no query lag in the sandbox of ``state_dir``: a benchmark measures the sandbox, not the
    tier's limits, and a test that is not about realism should not wait for them."""
    db = Database.in_state_dir(state_dir)
    try:
        ensure(db, QUICK)
    finally:
        db.close()


def defaults() -> dict[str, Any]:
    """Every knob at its default: the hub as Azure behaves."""
    return {name: knob.default for name, knob in KNOBS.items()}


def shown(values: dict[str, Any]) -> dict[str, Any]:
    """The values as the command prints them (on/off for switches)."""
    return {name: _show_bool(value) if isinstance(value, bool) else value for name, value in values.items()}


class Live:
    """The knobs as a running hub sees them: read once, then again only after another connection committed.

    ``PRAGMA data_version`` changes when another connection (the ``realism`` command) writes the database, so a change
    applies at the next request and an unchanged database costs one pragma per request, not a query.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._version: int | None = None
        self._values: dict[str, Any] = {}
        self.generation = 0  # bumps on every reload, so dependants (the throttle) can reset

    def values(self) -> dict[str, Any]:
        version = self.db.scalar("PRAGMA data_version")
        if version != self._version:
            self._values = read(self.db)
            self._version = version
            self.generation += 1
        return self._values

    def __getitem__(self, name: str) -> Any:
        return self.values()[name]
