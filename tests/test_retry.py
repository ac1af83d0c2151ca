"""kit.retry: a 429 ThrottlingException from the hub is retried after the wait it asks for; nothing else is."""

from __future__ import annotations

import pytest
from msrest.exceptions import HttpOperationError

from kit import clients, retry


@pytest.fixture(scope="module")
def registry(sandbox):
    with clients.closing(clients.from_connection_string("registry", sandbox.hub_connection_string)) as rm:
        yield rm


def test_other_errors_are_raised_at_once(registry):
    calls: list[int] = []

    def missing():
        calls.append(1)
        return registry.get_device("no-such-device-for-retry")

    with pytest.raises(HttpOperationError) as error:
        retry.call(missing, sleep=lambda seconds: pytest.fail("no wait for a 404"))
    assert calls == [1] and error.value.response.status_code == 404 and not retry.is_throttled(error.value)


def test_bad_attempts_is_refused():
    with pytest.raises(ValueError, match="attempts"):
        retry.call(lambda: None, attempts=0)
