"""Automatic device management: configurations that set desired properties on the twins a condition targets.

Stored in SQLite (``hub_configurations``: the document as served; ``hub_configuration_applied``: which
configuration each device last received). Metrics are computed with the query engine when a configuration is
read or written, so they are always current.

Documented choices (the reference marks the details UNCONFIRMED):

* Applying: the sandbox applies ``content.deviceContent`` at once (the real hub does it in the background, within
  minutes), synchronously on every configuration write and again on every read. Among the configurations whose
  ``targetCondition`` matches a twin, the highest ``priority`` wins, and on a tie the most recently created one
  (ADM docs). The winner's ``properties.desired.<path>`` values are merged into the twin's desired properties
  once, when it becomes the device's winner; deleting a configuration leaves the values it set.
* ``modulesContent`` / ``moduleContent`` are stored but not applied to twins (edge deployments:
  ``applyConfigurationContent`` applies modules content to one edge device).
* ``systemMetrics``: ``targetedCount`` runs ``select deviceId from devices where <targetCondition>``; ``appliedCount``
  runs ``select deviceId from devices where configurations.[[<id>]].status = 'Applied'`` over twins carrying the
  applied configuration (the served twins do not show that section). Custom metrics count the rows their query
  returns. An empty ``targetCondition`` targets nothing.
* Create answers 201, update 200 (the SDK accepts both); an etag mismatch is 412, updating a missing configuration
  404 ConfigurationNotFound; ``id`` and ``content`` cannot change (400). At most ``MAX_CONFIGURATIONS`` per tier
  (quotas-throttling "Other limits": 10 on a free hub, 100 on basic and standard hubs) → 413
  ConfigurationCountLimitExceeded (413101, troubleshoot-error-codes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from kit.sandbox import settings_store
from kit.sandbox.hub.devices import twins
from kit.sandbox.hub.devices.registry import ID_PATTERN, Registry, dumps
from kit.sandbox.hub.jobs import store as job_store
from kit.sandbox.hub.query import QueryError, parse, parse_condition
from kit.sandbox.hub.transport.errors import HubError, argument_invalid, precondition_failed

MAX_CONFIGURATIONS = {"F1": 10, "S1": 100, "S2": 100, "S3": 100}
MAX_LIST = 1000
ETAG_COUNTER = "configuration_etag_counter"
CONTENT_KINDS = ("deviceContent", "modulesContent", "moduleContent")
DESIRED_PREFIX = "properties.desired."
SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_configurations (
    rowid     INTEGER PRIMARY KEY,
    config_id TEXT NOT NULL UNIQUE,
    doc       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hub_configuration_applied (
    device_id TEXT PRIMARY KEY,
    config_id TEXT NOT NULL
);
"""



def not_found(config_id: str) -> HubError:
    """The hub's 404 for an unknown configuration id."""
    return HubError(404, "ConfigurationNotFound", f"The configuration '{config_id}' does not exist on this hub.")


def query_error(field: str, text: Any, full_query: bool) -> str:
    """The parse error of a condition or query, or "" when it is valid."""
    if not isinstance(text, str) or not text.strip():
        return f"{field} is empty."
    try:
        parse(text) if full_query else parse_condition(text)
    except QueryError as error:
        return f"{field}: {error}"
    return ""


def _check_content(content: Any) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise argument_invalid("content is required: an object with deviceContent, modulesContent or moduleContent.")
    present = [kind for kind in CONTENT_KINDS if content.get(kind)]
    if len(present) != 1:
        raise argument_invalid("content must hold exactly one non-empty section: deviceContent (device twins), "
                               "modulesContent (edge deployment) or moduleContent (module twins).")
    for kind in ("deviceContent", "moduleContent"):
        for key in content.get(kind) or {}:
            if not key.startswith(DESIRED_PREFIX) or key == DESIRED_PREFIX:
                raise argument_invalid(f"content.{kind} key '{key}' must start with '{DESIRED_PREFIX}', "
                                       "e.g. properties.desired.chillerWaterSettings.")
    return {kind: content[kind] for kind in CONTENT_KINDS if content.get(kind)}


def desired_patch(device_content: dict[str, Any]) -> dict[str, Any]:
    """``{"properties.desired.a.b": v}`` → the desired-properties patch ``{"a": {"b": v}}``."""
    patch: dict[str, Any] = {}
    for key, value in device_content.items():
        node = patch
        *parents, leaf = key[len(DESIRED_PREFIX):].split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return patch


def _check_labels(labels: Any) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise argument_invalid("labels must be an object of string values, e.g. {\"team\": \"ops\"}.")
    return labels


def _check_metric_queries(metrics: Any) -> dict[str, str]:
    queries = (metrics.get("queries") or {}) if isinstance(metrics, dict) else metrics or {}
    if not isinstance(queries, dict):
        raise argument_invalid("metrics.queries must be an object of name → query.")
    for name, text in queries.items():
        problem = query_error(f"metrics.queries.{name}", text, full_query=True)
        if problem:
            raise argument_invalid(problem)
    return queries


class ConfigurationStore:
    """Configurations: CRUD with etags, metrics with the query engine, and applying device content to twins."""

    def __init__(self, registry: Registry, collections: dict[str, Callable[[int], Iterator[tuple[int, dict]]]]) -> None:
        self.registry = registry
        self.db = registry.db
        self.collections = collections
        self.db.ensure_schema(SCHEMA)

    # ---- storage ------------------------------------------------------------------------------------------------

    def _stored(self, config_id: str) -> dict[str, Any] | None:
        text = self.db.scalar("SELECT doc FROM hub_configurations WHERE config_id = ?", (config_id,))
        return None if text is None else json.loads(text)

    def _all(self) -> list[dict[str, Any]]:
        return [json.loads(row[0]) for row in self.db.all("SELECT doc FROM hub_configurations ORDER BY rowid")]

    def put(self, config_id: str, body: dict[str, Any], if_match: str | None) -> tuple[dict[str, Any], bool]:
        """Create (no If-Match) or update (If-Match); returns (configuration with metrics, created)."""
        if not ID_PATTERN.match(config_id) or config_id != config_id.lower():
            raise argument_invalid(f"configuration id '{config_id}' is invalid: use 1-128 lowercase letters, digits "
                                   "or - : + % _ # * ? ! ( ) , = @ ; $ '.")
        if body.get("id") not in (None, config_id):
            raise argument_invalid("Configuration identifier and Content cannot be updated: the body's id "
                                   f"'{body['id']}' differs from '{config_id}' in the URL.")
        condition = body.get("targetCondition") or ""
        if condition and query_error("targetCondition", condition, full_query=False):
            raise argument_invalid(query_error("targetCondition", condition, full_query=False))
        priority = body.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
            raise argument_invalid("priority must be a whole number, 0 or more (higher wins).")
        changes = {"labels": _check_labels(body.get("labels")), "targetCondition": condition, "priority": priority,
                   "metrics": {"results": {}, "queries": _check_metric_queries(body.get("metrics"))}}
        now = twins.now_iso()
        with self.db.transaction():
            previous = self._stored(config_id)
            if previous is None and if_match is not None and if_match != "*":
                raise not_found(config_id)
            if previous is not None and if_match is None:
                raise HubError(409, "ConfigurationAlreadyExists",
                               f"A configuration with id '{config_id}' already exists; send its etag to update it.")
            if previous is None:
                count = self.db.scalar("SELECT COUNT(*) FROM hub_configurations") or 0
                tier = job_store.tier(self.db)
                if count >= MAX_CONFIGURATIONS[tier]:
                    raise HubError(413, "ConfigurationCountLimitExceeded",
                                   f"This {tier} hub holds {count} configurations, its limit; delete one first.")
                doc = {"id": config_id, "schemaVersion": body.get("schemaVersion") or "1.0", **changes,
                       "content": _check_content(body.get("content")), "createdTimeUtc": now}
            else:
                if if_match not in ("*", previous["etag"]):
                    raise precondition_failed("Configuration", previous["etag"], str(if_match))
                content = body.get("content")
                if content is not None and _check_content(content) != previous["content"]:
                    raise argument_invalid("Configuration identifier and Content cannot be updated; create a new "
                                           "configuration for new content.")
                doc = {**previous, **changes}
            doc["lastUpdatedTimeUtc"] = now
            doc["etag"] = twins.identity_etag(settings_store.next_counter(self.db, ETAG_COUNTER))
            if previous is None:
                self.db.execute("INSERT INTO hub_configurations (config_id, doc) VALUES (?, ?)",
                                (config_id, dumps(doc)))
            else:
                self.db.execute("UPDATE hub_configurations SET doc = ? WHERE config_id = ?", (dumps(doc), config_id))
        self.apply()
        return self._with_metrics(doc), previous is None

    def get(self, config_id: str) -> dict[str, Any]:
        """One configuration with fresh metrics (targets are applied first, so counts are current)."""
        self.apply()
        doc = self._stored(config_id)
        if doc is None:
            raise not_found(config_id)
        return self._with_metrics(doc)

    def list(self, top: int | None) -> list[dict[str, Any]]:
        """Up to ``top`` configurations (default and maximum ``MAX_LIST``), metrics fresh."""
        self.apply()
        limit = top if top is not None and 1 <= top <= MAX_LIST else MAX_LIST
        return [self._with_metrics(doc) for doc in self._all()[:limit]]

    def delete(self, config_id: str, if_match: str | None) -> None:
        """Delete a configuration (``If-Match`` checked) and forget which devices it was applied to."""
        with self.db.transaction():
            doc = self._stored(config_id)
            if doc is None:
                raise not_found(config_id)
            if if_match not in (None, "*", doc["etag"]):
                raise precondition_failed("Configuration", doc["etag"], str(if_match))
            self.db.execute("DELETE FROM hub_configurations WHERE config_id = ?", (config_id,))
            self.db.execute("DELETE FROM hub_configuration_applied WHERE config_id = ?", (config_id,))

    # ---- applying and metrics -----------------------------------------------------------------------------------

    def _device_twins(self) -> Iterator[dict[str, Any]]:
        for _, text in self.registry.twin_rows("hub_devices", 0):
            yield json.loads(text)

    def apply(self) -> None:
        """Give every targeted device its winning configuration's device content (once per change of winner)."""
        candidates = []
        for doc in self._all():
            if doc["content"].get("deviceContent") and doc["targetCondition"]:
                candidates.append((doc, parse_condition(doc["targetCondition"])))
        candidates.sort(key=lambda item: (item[0]["priority"], item[0]["createdTimeUtc"]), reverse=True)
        applied = {row[0]: row[1] for row in self.db.all("SELECT device_id, config_id FROM hub_configuration_applied")}
        if not candidates:
            return
        for twin in self._device_twins():
            winner = next((doc for doc, condition in candidates if condition.matches(twin)), None)
            device_id = twin["deviceId"]
            if winner is None or applied.get(device_id) == winner["id"]:
                continue
            try:
                self.registry.update_twin(
                    device_id, {"properties": {"desired": desired_patch(winner["content"]["deviceContent"])}}, "*")
            except HubError:  # deleted meanwhile, or the content does not fit this twin
                continue
            self.db.execute("INSERT INTO hub_configuration_applied (device_id, config_id) VALUES (?, ?) "
                            "ON CONFLICT(device_id) DO UPDATE SET config_id = excluded.config_id",
                            (device_id, winner["id"]))

    def _count(self, text: str, docs: Callable[[], Iterator[dict[str, Any]]] | None = None) -> int:
        query = parse(text)
        provider = self.collections.get(query.source)
        source = docs() if docs else (doc for _, doc in provider(0)) if provider else iter(())
        if query.is_aggregate:
            return len(query.aggregate(source))
        return sum(1 for doc in source if query.matches(doc))

    def _with_metrics(self, doc: dict[str, Any]) -> dict[str, Any]:
        config_id = doc["id"]
        system = {
            "targetedCount": f"select deviceId from devices where {doc['targetCondition']}",
            "appliedCount": f"select deviceId from devices where configurations.[[{config_id}]].status = 'Applied'",
        }
        applied = {row[0] for row in self.db.all(
            "SELECT device_id FROM hub_configuration_applied WHERE config_id = ?", (config_id,))}

        def with_configurations() -> Iterator[dict[str, Any]]:
            for twin in self._device_twins():
                if twin["deviceId"] in applied:
                    twin["configurations"] = {config_id: {"status": "Applied"}}
                yield twin

        results = {
            "targetedCount": self._count(system["targetedCount"], self._device_twins) if doc["targetCondition"] else 0,
            "appliedCount": self._count(system["appliedCount"], with_configurations) if applied else 0,
        }
        queries = doc["metrics"]["queries"]
        metrics = {"results": {name: self._count(text) for name, text in queries.items()}, "queries": queries}
        return {**doc, "systemMetrics": {"results": results, "queries": system}, "metrics": metrics}

    # ---- other operations ---------------------------------------------------------------------------------------

    @staticmethod
    def test_queries(body: dict[str, Any]) -> dict[str, Any]:
        """``POST /configurations/testQueries``: the errors of a target condition and custom metric queries."""
        condition = body.get("targetCondition")
        metric_queries = body.get("customMetricQueries") or {}
        if not isinstance(metric_queries, dict):
            raise argument_invalid("customMetricQueries must be an object of name → query.")
        errors = {name: query_error(name, text, full_query=True) for name, text in metric_queries.items()}
        return {"targetConditionError": query_error("targetCondition", condition, False) if condition else "",
                "customMetricQueryErrors": {name: error for name, error in errors.items() if error}}

    def apply_to_edge_device(self, device_id: str, content: dict[str, Any]) -> None:
        """Set the desired properties of an edge device's modules from ``modulesContent`` (the device must be an
        IoT Edge device). ``$edgeAgent`` and ``$edgeHub`` are created if missing (the real hub makes them with the
        device); other modules that do not exist yet are left for the edge runtime to create."""
        device = self.registry.get_device(device_id)
        if not (device.get("capabilities") or {}).get("iotEdge"):
            raise argument_invalid(f"Device {device_id} is not an IoT Edge device: configuration content can only "
                                   "be applied to an edge device (capabilities.iotEdge = true).")
        modules = content.get("modulesContent")
        if not isinstance(modules, dict) or not modules:
            raise argument_invalid("modulesContent is required: an object of module id → {\"properties.desired\": "
                                   "{...}}.")
        existing = {m["moduleId"] for m in self.registry.list_modules(device_id)}
        for module_id, module_content in modules.items():
            desired = (module_content or {}).get("properties.desired") if isinstance(module_content, dict) else None
            if not isinstance(desired, dict):
                raise argument_invalid(f"modulesContent.{module_id} needs a 'properties.desired' object.")
            if module_id not in existing:
                if module_id not in ("$edgeAgent", "$edgeHub"):
                    continue
                self.registry.put_module(device_id, module_id, {"managedBy": "iotEdge"}, None)
            self.registry.update_twin(device_id, {"properties": {"desired": desired}}, "*", module_id=module_id,
                                      replace=True)
