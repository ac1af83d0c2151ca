"""Exercises: the learner writes the Azure SDK calls, and a check looks at the result in the service (the twin, the
job, the role assignment, the app's secrets), never at the text of the code.

In a learner's notebook each exercise cell holds :func:`write_here`, which raises :class:`NotDone` until the learner
replaces it with code; the check cell after it raises :class:`kit.checks.CheckFailed` (what is wrong, in the
learner's terms, with a hint) until the service shows the result. ``notebooks/solutions/`` holds the same notebooks
with the solutions written in; ``python tools/exercises.py`` makes the learner notebooks from them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

from azure.identity import ClientSecretCredential
from msrest.exceptions import HttpOperationError

from kit import checks, credentials, twins
from kit.admin.arm import role_guid
from kit.checks import CheckFailed

__all__ = [
    "NotDone", "TASK_ROLES", "check_certificate_sent", "check_condition", "check_configuration",
    "check_etag_safe_update", "check_federated_credential", "check_least_privilege", "check_method_job",
    "check_method_timeout", "check_offline_per_building", "check_offline_query", "check_only_link",
    "check_priority_layer", "check_production_chain", "check_report", "check_rotation", "check_tag_job",
    "write_here",
]


class NotDone(Exception):
    """An exercise cell still holds its placeholder."""


def write_here(exercise: str) -> NoReturn:
    """The placeholder of an exercise cell: says which exercise waits for code, and where its solution is."""
    raise NotDone(f"Exercise {exercise}: write your code here (replace this line), then run the cell and its check."
                  f" Stuck? Open the second hint below the exercise; notebooks/solutions/ has a worked solution.")


def _written(value: Any, name: str, what: str) -> None:
    if value is None:
        raise CheckFailed(f"{name} is still None: {what} is not written yet.",
                          f"Write the exercise cell above so that it sets {name}, run it, then run this check.")


def check_only_link(credential: Any, token: Any, link: str, client_id: str) -> None:
    """The chain has exactly the one credential ``link`` left, and its token came from the app ``client_id``."""
    _written(credential, "credential", "the pared-down chain")
    links = checks.chain_links(credential)
    if links != [link]:
        raise CheckFailed(f"The chain still tries {', '.join(links)}; only {link} should be left.",
                          "Each DefaultAzureCredential link has an exclude_<name>_credential=True keyword argument.")
    _written(token, "token", "the token from that chain")
    checks.token_for_iot_hub(token)
    checks.token_from_app(token, client_id)


def check_rotation(graph: Any, app: Any, old_key_id: str, new_secret: Any, session: Any) -> None:
    """The app holds exactly one secret, not the old one, and the service's secret gets a token from Entra ID."""
    key_ids = [password.key_id for password in graph.list_passwords(app)]
    if old_key_id in key_ids and len(key_ids) == 1:
        raise CheckFailed("The app still has only its old secret.",
                          "Add a new secret first (graph.add_password), switch the service to it, then remove the old.")
    if old_key_id in key_ids:
        raise CheckFailed("The old secret is still valid: anyone who copied it can still sign in.",
                          "Once the new secret works, remove the old one (graph.remove_password(app, key_id)).")
    if len(key_ids) != 1:
        raise CheckFailed(f"The app holds {len(key_ids)} secrets; a rotation ends with exactly one.",
                          "Remove the secrets the service does not use.")
    _written(new_secret, "service_secret", "the rotated secret")
    credential = ClientSecretCredential(session.settings.tenant_id, app.app_id, new_secret.get_secret_value(),
                                        retry_total=0, **credentials.authority_kwargs(session.settings))
    try:
        credential.get_token(checks.IOT_HUB_SCOPE)
    except Exception as error:  # any refusal means the service would now be down
        raise CheckFailed(f"The service's secret no longer signs in: {str(error).splitlines()[0][:200]}",
                          "Give service_secret the new secret's value (add_password(...).secret) before "
                          "removing the old one.") from None


def check_production_chain(credential: Any) -> list[str]:
    """No developer credential can answer, and a managed identity can: what a workload in Azure needs."""
    _written(credential, "chain", "the production chain")
    links = checks.production_chain(credential)
    if "ManagedIdentityCredential" not in links:
        raise CheckFailed(f"The chain ({', '.join(links)}) has no ManagedIdentityCredential: in an App Service or a VM "
                          "nothing could answer.", "Put ManagedIdentityCredential() in the chain.")
    return links


class _ConcurrentWriter:
    """A registry that lets another writer change the twin once, between the learner's read and write."""

    def __init__(self, registry: Any, other: Callable[[], None]) -> None:
        self._registry, self._other, self.interfered = registry, other, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def update_twin(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("update_twin", args, kwargs)

    def replace_twin(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("replace_twin", args, kwargs)

    def _write(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self.interfered:
            self.interfered = True
            self._other()
        return getattr(self._registry, method)(*args, **kwargs)


def check_etag_safe_update(registry: Any, add_visit: Any, device_id: str) -> None:
    """``add_visit(registry, device_id)`` adds one to the twin's tag ``visits`` while another writer adds one at the
    same moment: both visits must count (the service answers a stale etag with 412 PreconditionFailed)."""
    from azure.iot.hub.models import Twin

    _written(add_visit, "add_visit", "the function")
    registry.update_twin(device_id, Twin(tags={"visits": 0}), "*")

    def other_writer() -> None:
        twin = registry.get_twin(device_id)
        registry.update_twin(device_id, Twin(tags={"visits": twin.tags["visits"] + 1}), twin.etag)

    racing = _ConcurrentWriter(registry, other_writer)
    try:
        add_visit(racing, device_id)
    except HttpOperationError as error:
        raise CheckFailed(f"add_visit failed: {str(error)[:200]}",
                          "Another writer changed the twin after you read it: on 412 PreconditionFailed, read the "
                          "twin again and retry with its new etag.") from None
    if not racing.interfered:
        raise CheckFailed("add_visit never wrote the twin.", "Write the tag with registry.update_twin(...).")
    visits = registry.get_twin(device_id).tags.get("visits")
    if visits == 1:
        raise CheckFailed("Only one visit counts: one of the two writes overwrote the other (a lost update).",
                          "Pass the etag you read (twin.etag) instead of '*', so the hub refuses a stale write.")
    checks.equal(visits, 2, "Both writers add one visit to 0: expect 2.")


def check_offline_query(registry: Any, query: Any, building: str) -> None:
    """The learner's ``query`` returns exactly the devices of ``building`` that are disconnected, as the check finds
    them itself in every twin."""
    _written(query, "QUERY", "the query")
    found = _rows(registry, query, start="SELECT deviceId FROM devices WHERE ...")
    if "deviceId" not in found:
        raise CheckFailed("The result has no deviceId column.", "Select deviceId (SELECT deviceId FROM devices ...).")
    every = _connection_states(registry)
    wanted = set(every.loc[(every["building"] == building) & (every["connectionState"] == "Disconnected"), "deviceId"])
    got = set(found["deviceId"])
    missing, extra = sorted(wanted - got), sorted(got - wanted)
    if missing or extra:
        raise CheckFailed(f"The query found {len(got)} devices: missing {missing[:5]}, not wanted {extra[:5]}.",
                          "Look at the twins of the devices it misses or adds: which condition do they break?")


def check_offline_per_building(registry: Any, query: Any) -> None:
    """The learner's GROUP BY query answers, per building, how many devices are disconnected, in columns building and
    devices, as the check counts them itself from every twin."""
    _written(query, "PER_BUILDING", "the query")
    found = _rows(registry, query)
    if found.empty or not {"building", "devices"} <= set(found.columns):
        raise CheckFailed(f"The result's columns are {list(found.columns)}, not building and devices.",
                          "Name them with AS: SELECT tags.building AS building, COUNT() AS devices ...")
    every = _connection_states(registry)
    offline = every[(every["connectionState"] == "Disconnected") & every["building"].notna()]
    wanted = {building: int(count) for building, count in offline.groupby("building").size().items()}
    got = {row.building: int(row.devices) for row in found.itertuples() if isinstance(row.building, str)}
    checks.equal(got, wanted, "Count only the disconnected devices (WHERE connectionState = ...), grouped by building.")


def check_method_job(registry: Any, job_manager: Any, job_id: Any, condition: str, method_name: str) -> None:
    """The job ``job_id`` ran ``method_name`` as a direct-method job, completed, on exactly the devices that
    ``condition`` selects (devices.jobs lists each device's outcome)."""
    _written(job_id, "job_id", "the job")
    job = job_manager.get_scheduled_job(job_id)
    checks.equal(job.type, "scheduleDeviceMethod", "A direct-method job has type 'scheduleDeviceMethod'.")
    if job.status != "completed":
        raise CheckFailed(f"The job is {job.status}.", "Wait for it (kit.bulk.wait_for_job) after scheduling it.")
    wanted = sorted(twins.query_dataframe(registry, f"SELECT deviceId FROM devices WHERE {condition}")["deviceId"])
    # devices.jobs queries allow no projection (only SELECT *), and lag the job's writes like twin queries
    outcomes = twins.wait_for_query(
        registry, f"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '{job_id}'",
        until=lambda rows: len(rows) >= len(wanted), timeout_s=30)
    got = sorted(outcomes["deviceId"]) if len(outcomes) else []
    if got != wanted:
        raise CheckFailed(f"The job ran on {got}, but the condition selects {wanted}.",
                          "Pass the condition as query_condition (the WHERE part of a twin query).")
    failed = sorted(outcomes.loc[outcomes["status"] != "completed", "deviceId"])
    if failed:
        raise CheckFailed(f"The method failed on {failed}.", f"Call the method '{method_name}' with a payload of {{}}.")


def check_method_timeout(call_method: Any, online: str, slow: str, offline: str) -> None:
    """``call_method(device_id, method_name, payload)`` returns the device's payload, and None (without raising,
    within the 5 s it allows) when the device does not answer in time or is offline."""
    _written(call_method, "call_method", "the function")

    def timed(device_id: str, method_name: str, payload: Any) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            result = call_method(device_id, method_name, payload)
        except HttpOperationError as error:
            raise CheckFailed(f"call_method raised for {device_id}: {str(error)[:200]}",
                              "Catch msrest.exceptions.HttpOperationError and return None when the hub answers "
                              "404 (DeviceNotOnline) or 504 (GatewayTimeout).") from None
        return result, time.perf_counter() - started

    report, _ = timed(online, "getMaxMinReport", {})
    if not isinstance(report, dict):
        raise CheckFailed(f"call_method returned {report!r} for an online thermostat, not its payload.",
                          "Return the response's payload (invoke_device_method(...).payload).")
    answer, seconds = timed(slow, "slow", {"seconds": 8})
    checks.equal(answer, None, "A device that does not answer in time gives None.")
    if seconds > 7:
        raise CheckFailed(f"Waiting for the slow device took {seconds:.0f} s.",
                          "Set response_timeout_in_seconds=5 on the CloudToDeviceMethod.")
    checks.equal(timed(offline, "getMaxMinReport", {})[0], None, "An offline device gives None.")


def _configuration(configurations: Any, config_id: str) -> Any:
    try:
        return configurations.get_configuration(config_id)
    except HttpOperationError:
        raise CheckFailed(f"The hub has no configuration '{config_id}'.",
                          "Create it with configurations.create_configuration(Configuration(id=..., ...)).") from None


def check_configuration(configurations: Any, registry: Any, config_id: str, building: str, device_type: str,
                        path: str, content: dict[str, Any]) -> None:
    """The configuration ``config_id`` exists, targets exactly the ``device_type`` devices of ``building``, and its
    content (desired property ``path``) reached each of their twins."""
    condition = f"tags.building = '{building}' AND tags.deviceType = '{device_type}'"
    configuration = _configuration(configurations, config_id)
    wanted = sorted(twins.query_dataframe(registry, f"SELECT deviceId FROM devices WHERE {condition}")["deviceId"])
    targeted = configuration.system_metrics.results.get("targetedCount")
    if targeted != len(wanted):
        raise CheckFailed(f"The configuration targets {targeted} devices; the task names {len(wanted)} ({wanted}).",
                          "Its target_condition is the WHERE part of a twin query over tags.")
    for device_id in wanted:
        desired = registry.get_twin(device_id).properties.desired.get(path)
        checks.equal(desired, content, f"{device_id}'s desired {path} comes from the configuration's device_content "
                                       f"{{'properties.desired.{path}': ...}}.")


def check_priority_layer(configurations: Any, registry: Any, layer_id: str, device_id: str, base_id: str,
                         path: str, content: dict[str, Any]) -> None:
    """The configuration ``layer_id`` targets only ``device_id`` and outranks ``base_id`` there: the device's desired
    ``path`` is the layer's ``content``, while the base's other devices keep the base's content."""
    layer, base = _configuration(configurations, layer_id), _configuration(configurations, base_id)
    targeted = layer.system_metrics.results.get("targetedCount")
    if targeted != 1:
        raise CheckFailed(f"'{layer_id}' targets {targeted} devices, not only {device_id}.",
                          "A condition on the device's id (deviceId = '...') targets just that device.")
    if (layer.priority or 0) <= (base.priority or 0):
        raise CheckFailed(f"'{layer_id}' has priority {layer.priority}, not above '{base_id}' ({base.priority}): on "
                          "the device both target, the base wins (or the newer of two equals).",
                          "Give the layer a higher priority than the base configuration.")
    checks.equal(registry.get_twin(device_id).properties.desired.get(path), content,
                 f"The layer's device_content sets properties.desired.{path} on {device_id}.")
    condition = base.target_condition
    others = twins.query_dataframe(registry, f"SELECT deviceId FROM devices WHERE {condition}")["deviceId"]
    base_content = base.content.device_content.get(f"properties.desired.{path}")
    for other in sorted(set(others) - {device_id}):
        checks.equal(registry.get_twin(other).properties.desired.get(path), base_content,
                     f"{other} is not the layer's device: it keeps the base configuration's content.")


def _tag_twin(registry: Any, device_id: str) -> None:
    from azure.iot.hub.models import Twin

    registry.update_twin(device_id, Twin(tags={"taggedBy": "exercise"}), "*")
    registry.update_twin(device_id, Twin(tags={"taggedBy": None}), "*")


def _read_twins(registry: Any, device_id: str) -> None:
    twins.query_dataframe(registry, f"SELECT deviceId FROM devices WHERE deviceId = '{device_id}'")


# A task a learner grants: the least-privileged built-in role that allows it (by the roles' data actions), and one
# call that does the task.
TASK_ROLES: dict[str, tuple[str, Callable[[Any, str], None]]] = {
    "write twin tags": ("IoT Hub Twin Contributor", _tag_twin),
    "read twins": ("IoT Hub Data Reader", _read_twins),
}


def check_least_privilege(authorization: Any, scope: str, principal_id: str, task: str, registry: Any,
                          device_id: str = "thermostat-a-1") -> None:
    """The principal holds exactly one role at ``scope``, the least-privileged one for ``task``, and its ``registry``
    (a client signed in as that principal) can do the task once the assignment applies."""
    from kit.admin.propagation import wait_for_role

    if task not in TASK_ROLES:
        raise ValueError(f"task: '{task}' is not one of {', '.join(TASK_ROLES)}.")
    role, do_task = TASK_ROLES[task]
    held = list(authorization.role_assignments.list_for_scope(scope, filter=f"principalId eq '{principal_id}'"))
    if not held:
        raise CheckFailed("The app holds no role on the hub.",
                          "Create a role assignment (authorization.role_assignments.create) at the hub's scope.")
    if len(held) > 1:
        raise CheckFailed(f"The app holds {len(held)} roles; least privilege is one, the smallest that does the task.",
                          "Delete the assignments it does not need (role_assignments.delete_by_id).")
    if not held[0].role_definition_id.lower().endswith(role_guid(role)):
        raise CheckFailed(f"The role assigned is not the least-privileged one that can {task}.",
                          "Compare the built-in IoT Hub data roles' data actions: the right one allows the task and "
                          "nothing more.")
    wait_for_role(lambda: do_task(registry, device_id))


def check_condition(registry: Any, condition: Any, wanted: list[str]) -> None:
    """A twin query over ``condition`` selects exactly the devices ``wanted``."""
    _written(condition, "CONDITION", "the condition")
    rows = _rows(registry, f"SELECT deviceId FROM devices WHERE {condition}")
    got = set(rows["deviceId"]) if "deviceId" in rows else set()
    missing, extra = sorted(set(wanted) - got), sorted(got - set(wanted))
    if missing or extra:
        raise CheckFailed(f"The condition selects {len(got)} devices: missing {missing[:5]}, not wanted {extra[:5]}.",
                          "Test both tags; a number is compared with a number (2), not a string ('2').")


def _rows(registry: Any, query: str, start: str = "SELECT ... FROM devices WHERE ...") -> Any:
    """The learner's query's rows; a refusal says so, with the form to ``start`` from."""
    try:
        frame = twins.query_dataframe(registry, query)
    except HttpOperationError as error:
        raise CheckFailed(f"The hub refused the query: {str(error)[:200]}",
                          f"Start from {start}, one condition at a time.") from None
    return frame


def _connection_states(registry: Any) -> Any:
    """Every device's building and connection state, as the check reads them itself."""
    return twins.query_dataframe(registry, "SELECT deviceId, tags.building AS building, connectionState FROM devices")


def check_tag_job(registry: Any, job_manager: Any, job_id: Any, wanted: list[str], tag: str, value: Any) -> None:
    """The twin-update job ``job_id`` completed on exactly ``wanted``, and their twins (and only theirs) carry
    ``tag`` = ``value``."""
    _written(job_id, "job_id", "the job")
    job = job_manager.get_scheduled_job(job_id)
    checks.equal(job.type, "scheduleUpdateTwin", "A twin-update job has type 'scheduleUpdateTwin'.")
    if job.status != "completed":
        raise CheckFailed(f"The job is {job.status}.", "Wait for it (kit.bulk.wait_for_job) after scheduling it.")
    checks.equal(job.device_job_statistics.succeeded_count, len(wanted),
                 "The job should touch exactly the devices of the condition: pass it as query_condition.")
    # Twin queries lag the job's writes (on Azure too): poll until the tags show instead of reading once.
    tagged = twins.wait_for_query(registry, f"SELECT deviceId FROM devices WHERE tags.{tag} = '{value}'",
                                  until=lambda rows: len(rows) >= len(wanted), timeout_s=30)
    checks.equal(sorted(tagged["deviceId"]) if len(tagged) else [], sorted(wanted),
                 f"The tag goes under tags (update_twin=Twin(tags={{'{tag}': '{value}'}})).")


def check_report(registry: Any, report_query: Any, per_building: dict[str, int]) -> None:
    """The learner's report query answers the count of devices per building, in columns building and devices."""
    _written(report_query, "REPORT", "the report query")
    report = _rows(registry, report_query)
    if report.empty:
        raise CheckFailed("The report has no rows.", "Run exercise 2 first: the report counts the tagged devices.")
    if not {"building", "devices"} <= set(report.columns):
        raise CheckFailed(f"The report's columns are {list(report.columns)}, not building and devices.",
                          "Name them with AS: SELECT tags.building AS building, COUNT() AS devices ...")
    checks.equal(dict(zip(report["building"], report["devices"])), per_building,
                 "Count only the tagged devices (WHERE on the tag) and GROUP BY tags.building.")


def check_certificate_sent(credential: Any, sent: list[Any], client_id: str, public_pem: Any) -> None:
    """Entra ID gives ``credential`` a token proved by a certificate, and the assertion it received (the last
    request in ``sent``) carried the registered certificate in its ``x5c`` header."""
    import base64
    from pathlib import Path

    from cryptography import x509

    from kit.tokens import decode_unverified

    _written(credential, "credential", "the certificate credential")
    token = credential.get_token(checks.IOT_HUB_SCOPE)
    checks.token_from_app(token, client_id)
    checks.token_proof(token, "certificate")
    if not sent:
        raise CheckFailed("No request was recorded.", "Pass raw_request_hook=record to the credential.")
    assertion = sent[-1].data["client_assertion"]
    header = decode_unverified(assertion.decode() if isinstance(assertion, bytes) else assertion)["header"]
    if "x5c" not in header:
        raise CheckFailed("The assertion's header has no x5c: the certificate was not sent.",
                          "CertificateCredential sends it when asked to, with a keyword argument.")
    registered = x509.load_pem_x509_certificate(Path(public_pem).read_bytes())
    first = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    checks.equal(first == registered, True, "x5c's first certificate is the one registered on the app.")


def check_federated_credential(graph: Any, app: Any, issuer: str, subject: str) -> None:
    """The app has exactly one federated identity credential, for ``issuer`` and ``subject`` with Entra ID's
    token-exchange audience."""
    found = graph.list_federated_credentials(app)
    if len(found) != 1:
        raise CheckFailed(f"The app has {len(found)} federated credentials; the task needs exactly one.",
                          "Add one with graph.add_federated_credential (or delete the extra ones).")
    credential = found[0]
    checks.equal(credential.issuer, issuer, "The issuer must match the token's iss exactly (no trailing slash).")
    checks.equal(credential.subject, subject, "The subject must match the token's sub exactly.")
    checks.equal(list(credential.audiences), ["api://AzureADTokenExchange"],
                 "Entra ID's token exchange expects the audience api://AzureADTokenExchange.")
