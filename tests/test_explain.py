"""kit.explain: errors map to a cause and a fix, and the troubleshooting page is generated from the same catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.explain import CATALOGUE, explain, troubleshooting_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "troubleshooting.md"


def test_troubleshooting_page_is_generated_from_the_catalogue() -> None:
    assert DOCS.read_text() == troubleshooting_markdown(), (
        "regenerate: python -m kit.explain --markdown > docs/troubleshooting.md")


@pytest.mark.parametrize("entry", [e for entries in CATALOGUE.values() for e in entries if e.code.startswith("AADSTS")],
                         ids=lambda e: e.code)
def test_every_aadsts_code_is_recognised_in_an_entra_message(entry) -> None:
    message = (f"Authentication failed: {entry.code}: Something went wrong. Trace ID: 1 Correlation ID: 2 "
               "Timestamp: 2026-11-26 10:00:00Z")
    explained = explain(RuntimeError(message))
    assert explained is not None and explained.code == entry.code


def test_hub_error_envelope_is_recognised() -> None:
    body = ('{"Message":"ErrorCode:IotHubUnauthorized;Principal 1234 is not authorized for GET on /twins/d1 due to '
            'no assigned permissions","ExceptionMessage":"Tracking ID:ab-G:0-TimeStamp:11/26/2026 10:00:00"}')
    explained = explain(body)
    assert explained is not None
    assert explained.code == "IotHubUnauthorized"
    assert "IoT Hub Data Reader" in explained.fix


def test_client_side_patterns() -> None:
    assert explain("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed").code == "CERTIFICATE_VERIFY_FAILED"
    assert explain("TimeoutError: Authorization timeout.").code == "AMQP_AUTH_TIMEOUT"


def test_unknown_error_gives_none() -> None:
    assert explain(ValueError("something else entirely")) is None


def test_explanation_renders_in_a_notebook() -> None:
    markdown = explain("AADSTS7000215: Invalid client secret provided.")._repr_markdown_()
    assert markdown.startswith("**AADSTS7000215")
    assert "Secret ID" in markdown
