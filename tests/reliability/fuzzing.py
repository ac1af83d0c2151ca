"""Schema-driven fuzzing of the sandbox hub's REST API with schemathesis, against IoT Hub's own OpenAPI document.

Each operation of ``iothub-dataplane-2021-04-12.json`` gets ``max_examples`` generated requests (valid api-version,
a bearer token of a Data Contributor), and every answer is sorted:

* a 5xx, or no answer at all, is a failure whatever it is;
* a 2xx must be a status the document lists for the operation, with a body that validates against its schema;
* a 4xx must be the hub's error (the ``iothub-errorcode`` header and the ``{"Message","ExceptionMessage"}``
  envelope): the document lists no error responses, the hub's errors are documented elsewhere.

A departure from the document is a *finding*: ``KNOWN_FINDINGS`` lists the ones the sandbox keeps on purpose,
because the real hub answers that way too (see docs/parity.md, "Schema conformance"). Used by
``test_fuzz_api.py`` (small and bounded) and ``benchmarks/fuzz_long.py`` (longer runs).
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Response
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from kit.sandbox.hub.transport.http import API_VERSION

OPENAPI_DOCUMENT = Path(__file__).with_name("iothub-dataplane-2021-04-12.json")
PINNED_DEVICE = "thermostat-a-1"  # seeded, online, answers direct methods
PINNED_MODULE = "fuzz-module"  # made on it by ``fuzz_hub``
REQUEST_TIMEOUT_S = 15

# Finding pattern → why the sandbox answers that way (the same reasons as in docs/parity.md).
KNOWN_FINDINGS: dict[str, str] = {
    r"schema .*/(statusUpdatedTime|connectionStateUpdatedTime|lastActivityTime|statusUpdateTime|"
    r"lastUpdatedTime|startTimeUtc|endTimeUtc|createdTimeUtc)\b.*format":
        "never-set times are \"0001-01-01T00:00:00\" (no zone), as the real hub sends them",
    r"schema .*/(statusReason|deviceScope|primaryThumbprint|secondaryThumbprint|managedBy|modelId|"
    r"primaryKey|secondaryKey|etag|deviceEtag|parentScopes|continuationToken|moduleId)\b.*null":
        "null for an unset field, as the real hub sends it (the document says only \"string\")",
    r"schema .*/(tags|desired|reported)/additionalProperties/type":
        "twin values of any JSON type (the document says object); every real twin has a numeric $version",
}
# The web server's plain 404 or 405 (not the hub's error) is excused only for these operations, which the sandbox
# does not serve; anywhere else it means a route went missing.
UNSERVED_OPERATIONS: dict[str, str] = {
}
PLAIN_NOT_FOUND = re.compile(r"4xx without the hub error envelope \((404 Not Found|405 Method Not Allowed)\)")


@dataclass
class FuzzResult:
    """What one fuzz run saw: requests and statuses per operation, and findings with an example each."""

    requests: int = 0
    seconds: float = 0.0
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    findings: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, operation: str, finding: str, example: str) -> None:
        self.findings[operation].setdefault(finding, example)

    @property
    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for status, n in counts.items() if status >= 500)

    def unexplained(self) -> list[tuple[str, str, str]]:
        """(operation, finding, example) not covered by ``KNOWN_FINDINGS`` or ``UNSERVED_OPERATIONS``."""
        return [(op, finding, example) for op, found in sorted(self.findings.items())
                for finding, example in found.items() if known_reason(finding, op) is None]


def known_reason(finding: str, operation: str) -> str | None:
    if PLAIN_NOT_FOUND.search(finding):
        reason = UNSERVED_OPERATIONS.get(operation)
        return f"not served by the sandbox: {reason}" if reason else None
    return next((reason for pattern, reason in KNOWN_FINDINGS.items() if re.search(pattern, finding)), None)


def _schema_findings(group: FailureGroup) -> list[str]:
    found = []
    for failure in group.exceptions:
        path = getattr(failure, "schema_path", None)
        if path is None:  # status_code_conformance and other non-schema checks
            found.append(f"{failure.title}: {failure.message.splitlines()[0]}")
            continue
        kind = "null" if getattr(failure, "instance", 0) is None else str(path[-1])
        found.append(f"schema /{'/'.join(map(str, path))} ({kind})")
    return found


def _is_hub_error(response: Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    headers = {name.lower(): values for name, values in response.headers.items()}
    return (bool(headers.get("iothub-errorcode")) and isinstance(body, dict)
            and str(body.get("Message", "")).startswith("ErrorCode:")
            and str(body.get("ExceptionMessage", "")).startswith("Tracking ID:"))


def fuzz(base_url: str, ca_bundle: str, authorization: str, max_examples: int,
         pinned: dict[str, str] | None = None, result: FuzzResult | None = None,
         derandomize: bool = True) -> FuzzResult:
    """Fuzz every operation of the document against ``base_url``, adding to ``result``.

    Random path ids mostly reach "not found"; ``pinned`` (path parameter → existing id) sends the generated bodies
    and headers to real devices and modules instead, so validation and the stores are exercised. Deletes are left
    out of a pinned run, which would otherwise remove what it aims at. ``derandomize`` makes a run repeatable
    (the test); a long run turns it off to see new examples each time.
    """
    schema = schemathesis.openapi.from_path(str(OPENAPI_DOCUMENT))
    session = requests.Session()
    result = result if result is not None else FuzzResult()
    started = time.monotonic()
    for loaded in schema.get_all_operations():
        operation = loaded.ok()
        names = {parameter.name for parameter in operation.path_parameters}
        path_values = {name: value for name, value in (pinned or {}).items() if name in names}
        if pinned is not None and (not path_values or operation.method.upper() == "DELETE"):
            continue
        strategy = operation.as_strategy(query={"api-version": API_VERSION}, headers={"Authorization": authorization},
                                         path_parameters=path_values or None)

        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=derandomize,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case) -> None:
            label = case.operation.label
            result.requests += 1
            try:
                response = case.call(base_url=base_url, session=session, verify=ca_bundle, timeout=REQUEST_TIMEOUT_S)
            except requests.RequestException as error:
                result.add(label, f"no answer ({type(error).__name__})", case.as_curl_command())
                return
            result.statuses[label][response.status_code] += 1
            example = f"{response.status_code} {case.method} {case.formatted_path}: {response.text[:160]}"
            if response.status_code >= 500:
                result.add(label, f"server error {response.status_code}", example)
            elif response.status_code < 400 or str(response.status_code) in case.operation.definition.raw["responses"]:
                try:
                    case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])
                except FailureGroup as group:
                    for finding in _schema_findings(group):
                        result.add(label, finding, example)
            elif not _is_hub_error(response):
                result.add(label, f"4xx without the hub error envelope ({response.status_code} {response.message})",
                           example)

        run()
    result.seconds += time.monotonic() - started
    return result


def fuzz_hub(base_url: str, ca_bundle: str, authorization: str, max_examples: int,
             derandomize: bool = True) -> FuzzResult:
    """Both passes over a sandbox's hub: random ids, then ids pinned to a seeded device and a module made on it."""
    made = requests.put(f"{base_url}/devices/{PINNED_DEVICE}/modules/{PINNED_MODULE}",
                        params={"api-version": API_VERSION}, json={"moduleId": PINNED_MODULE},
                        headers={"Authorization": authorization}, verify=ca_bundle, timeout=REQUEST_TIMEOUT_S)
    made.raise_for_status()
    result = fuzz(base_url, ca_bundle, authorization, max_examples, derandomize=derandomize)
    pinned = {"id": PINNED_DEVICE, "deviceId": PINNED_DEVICE, "mid": PINNED_MODULE, "moduleId": PINNED_MODULE}
    return fuzz(base_url, ca_bundle, authorization, max_examples, pinned=pinned, result=result,
                derandomize=derandomize)


def summary_lines(result: FuzzResult) -> list[str]:
    """Per operation: requests and statuses seen; then each finding with the operations showing it and why."""
    lines = [f"{operation}: {sum(counts.values())} requests; "
             + " ".join(f"{status}x{n}" for status, n in sorted(counts.items()))
             for operation, counts in sorted(result.statuses.items())]
    by_reason: dict[str, set[str]] = defaultdict(set)
    for operation, found in result.findings.items():
        for finding in found:
            by_reason[known_reason(finding, operation) or f"UNEXPLAINED: {finding}"].add(operation)
    for reason, operations in sorted(by_reason.items()):
        lines.append(f"finding in {len(operations)} operations: {reason}")
    lines.append(f"requests: {result.requests} in {result.seconds:.0f} s; 5xx: {result.server_errors}; "
                 f"unexplained findings: {len(result.unexplained())}")
    return lines
