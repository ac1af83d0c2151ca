"""The learner API is declared: each learner module's ``__all__`` lists what notebooks may rely on, and this test
locks those names, so a rename or a removal is a decision seen in review rather than a notebook broken later.

Change a set here only together with the notebooks, docs and release notes that use the name.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1] / "kit"

EXPORTED = {
    "kit": {"__version__"},
    "kit.certificates": {"create_self_signed"},
    "kit.checks": {
        "CheckFailed", "Connectivity", "IOT_HUB_AUDIENCE", "IOT_HUB_SCOPE", "chain_links", "connectivity",
        "environment_ready", "equal", "failed_with", "production_chain", "token_for_iot_hub", "token_from_app",
        "token_proof"
    },
    "kit.clients": {
        "check_host", "close", "closing", "configuration_manager", "digital_twin_client", "from_connection_string",
        "http_runtime_manager", "job_manager", "keep_alive", "registry_manager"
    },
    "kit.cloud": {"Cloud"},
    "kit.credentials": {
        "DEVELOPER_CREDENTIALS", "MANAGED_IDENTITY_VARIABLES", "admin_credential", "authority_kwargs", "build",
        "certificate", "chained", "client_assertion", "client_secret", "connection_for", "default", "device_code",
        "environment", "environment_variables", "managed_identity", "prepare_environment", "prepare_managed_identity",
        "production", "read_token_file", "sandbox_kwargs", "simulate_deployment", "trust_sandbox", "which_link",
        "workload_identity"
    },
    "kit.exercises": {
        "NotDone", "TASK_ROLES", "check_certificate_sent", "check_condition", "check_configuration",
        "check_etag_safe_update", "check_federated_credential", "check_least_privilege", "check_method_job",
        "check_method_timeout", "check_offline_per_building", "check_offline_query", "check_only_link",
        "check_priority_layer", "check_production_chain", "check_report", "check_rotation", "check_tag_job",
        "write_here"
    },
    "kit.explain": {
        "CATALOGUE", "CLIENT", "CONTROL", "ENTRA", "Explanation", "HUB", "explain", "service_message",
        "troubleshooting_markdown"
    },
    "kit.forms": {"HUB_RESOURCE_FIELDS", "SettingsForm", "settings_form"},
    "kit.magics": {"SandboxCommandError", "register_magic", "sandbox_command"},
    "kit.progress": {"MODE_ENV", "Mode", "bar", "mode", "paging_callback", "requests_a_widget_front_end"},
    "kit.bulk": {
        "BULK_LIMIT", "BulkOutcome", "batches", "create_devices", "delete_devices", "new_device", "wait_for_job",
    },
    "kit.retry": {"call", "is_throttled", "suggested_wait"},
    "kit.session": {
        "AmqpUnavailable", "KitVersionError", "Session", "azure_settings", "begin",
        "drop_duplicate_credential_warnings", "require_kit", "sandbox_settings", "saved_target", "use_kernel_python"
    },
    "kit.settings": {
        "ARM_SCOPE", "CredentialKind", "DEFAULT_SETTINGS_FILE", "DOMAIN", "GRAPH_SCOPE", "GUID", "HOST", "HUB_NAME",
        "RESOURCE_GROUP", "SETTINGS_FILE_ENV", "SandboxOnlyError", "Settings", "SettingsError", "settings_path",
        "settings_values"
    },
    "kit.tokens": {"claim_rows", "claims_frame", "decode_unverified", "describe", "token_kind"},
    "kit.tracebacks": {"HIDDEN_NOTE", "install", "shown_message"},
    "kit.twins": {
        "PAGE_SIZE", "Progress", "as_dict", "flatten", "query_dataframe", "query_help", "sdk_page", "wait_for_query"
    },
    "kit.admin": {
        "AdminError", "Application", "BUILT_IN_ROLES", "Cloud", "FederatedCredential", "GraphClient", "GraphError",
        "PasswordCredential", "ServicePrincipal", "assign_role", "authorization_client", "graph", "iothub_client",
        "remove_role", "role_definition_id", "wait_for_role"
    },
    "kit.explore": {
        "HISTORY", "QueryExplorer", "QueryFailure", "TwinTree", "count_query", "desired_vs_reported", "explorer",
        "json_page", "plain_code", "twin_tree"
    },
}


def test_every_learner_module_is_locked() -> None:
    modules = {"kit", "kit.admin", "kit.explore"} | {f"kit.{p.stem}" for p in KIT.glob("*.py") if p.stem != "__init__"}
    assert modules == set(EXPORTED), "a new learner module needs an __all__ and a line here"


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_exported_names_are_locked_and_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert set(module.__all__) == EXPORTED[name]
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    missing = [member for member in module.__all__ if not hasattr(module, member)]
    assert not missing, f"{name}.__all__ lists names it does not define: {missing}"
