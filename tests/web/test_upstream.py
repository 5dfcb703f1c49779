"""The gateway's one translation of NATS failures: an outage is 503, a refusal of its own request 502."""

from __future__ import annotations

import pytest
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from govchain.services.gateway.upstream import nats_failure


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        NatsTimeoutError(),
        NoRespondersError(),
        ConnectionClosedError(),
        ServiceUnavailableError(),
    ],
)
def test_an_outage_is_503_worth_a_retry(exc: Exception) -> None:
    status, code, message = nats_failure(exc, "the ledger")
    assert (status, code) == (503, "unavailable") and message.startswith("the ledger did not answer")


@pytest.mark.parametrize("exc", [BadRequestError(), NotFoundError()])
def test_a_refused_request_is_502_never_a_missing_record_or_an_outage(exc: Exception) -> None:
    status, code, _ = nats_failure(exc)
    assert (status, code) == (502, "upstream_error")
