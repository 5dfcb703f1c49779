"""NATS failures sorted into transient (retry) and permanent (stop and say so), with the
exception classes nats-py itself raises. Live-server checks: tests/integration/test_nats_errors.py."""

from __future__ import annotations

import pytest
from nats import errors as nats_errors
from nats.js import errors as js_errors

from govchain.bus.errors import NATS_ERRORS, NatsFault, classify, is_transient

TRANSIENT = NatsFault.TRANSIENT
PERMANENT = NatsFault.PERMANENT


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        # the connection
        (nats_errors.ConnectionClosedError(), TRANSIENT),
        (nats_errors.ConnectionReconnectingError(), TRANSIENT),
        (nats_errors.ConnectionDrainingError(), TRANSIENT),
        (nats_errors.StaleConnectionError(), TRANSIENT),
        (nats_errors.UnexpectedEOF(), TRANSIENT),
        (nats_errors.NoServersError(), TRANSIENT),
        (nats_errors.OutboundBufferLimitError(), TRANSIENT),
        # nobody answered in time
        (nats_errors.TimeoutError(), TRANSIENT),
        (nats_errors.FlushTimeoutError(), TRANSIENT),
        (js_errors.FetchTimeoutError(), TRANSIENT),
        (TimeoutError(), TRANSIENT),
        (TimeoutError(), TRANSIENT),
        (nats_errors.NoRespondersError(), TRANSIENT),
        (js_errors.NoStreamResponseError(), TRANSIENT),
        (js_errors.TooManyStalledMsgsError(), TRANSIENT),
        # JetStream is there but cannot serve the request yet
        (js_errors.ServiceUnavailableError(), TRANSIENT),  # as nats-py raises it from a 503 status, code None
        (
            js_errors.ServiceUnavailableError(
                code=503, err_code=10008, description="JetStream system temporarily unavailable"
            ),
            TRANSIENT,
        ),
        (
            js_errors.ServerError(code=500, err_code=10009, description="JetStream cluster can not handle request"),
            TRANSIENT,
        ),
        (js_errors.APIError(code=408, description="Request Timeout"), TRANSIENT),
        # refusals: asking again gets the same answer
        (js_errors.BadRequestError(code=400, err_code=10071, description="wrong last sequence: 4"), PERMANENT),
        (
            js_errors.BadRequestError(code=400, err_code=10065, description="subjects overlap with an existing stream"),
            PERMANENT,
        ),
        (js_errors.NotFoundError(code=404, err_code=10059, description="stream not found"), PERMANENT),
        (js_errors.NotFoundError(code=404, err_code=10014, description="consumer not found"), PERMANENT),
        (js_errors.KeyWrongLastSequenceError(description="wrong last sequence: 7"), PERMANENT),
        (js_errors.KeyNotFoundError(), PERMANENT),
        (js_errors.BucketNotFoundError(), PERMANENT),
        (js_errors.APIError(code=409, description="Consumer is push based"), PERMANENT),
        (js_errors.APIError(), PERMANENT),  # an answer without a status: nothing says it will pass
        (js_errors.Error("cannot create queue subscription"), PERMANENT),
        # permissions, credentials and misuse
        (nats_errors.AuthorizationError(), PERMANENT),
        (nats_errors.InvalidUserCredentialsError(), PERMANENT),
        (nats_errors.SecureConnRequiredError(), PERMANENT),
        (nats_errors.BadSubjectError(), PERMANENT),
        (nats_errors.BadHeaderError(), PERMANENT),
        (nats_errors.MaxPayloadError(), PERMANENT),
        (nats_errors.MsgAlreadyAckdError(), PERMANENT),
        (nats_errors.ProtocolError(), PERMANENT),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_classification(exc: BaseException, fault: NatsFault) -> None:
    assert classify(exc) is fault
    assert is_transient(exc) is (fault is TRANSIENT)
    assert isinstance(exc, NATS_ERRORS), "a caller catching NATS_ERRORS must see it"


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        ({"code": 503, "err_code": 10008, "description": "JetStream system temporarily unavailable"}, TRANSIENT),
        ({"code": 503, "err_code": 10023, "description": "insufficient resources"}, TRANSIENT),
        ({"code": 500, "err_code": 10009, "description": "JetStream cluster can not handle request"}, TRANSIENT),
        ({"code": 400, "err_code": 10071, "description": "wrong last sequence: 12"}, PERMANENT),
        ({"code": 400, "err_code": 10003, "description": "bad request"}, PERMANENT),
        ({"code": 404, "err_code": 10059, "description": "stream not found"}, PERMANENT),
        ({"code": 403, "err_code": 0, "description": "forbidden"}, PERMANENT),
    ],
    ids=lambda value: f"{value['code']}-{value['err_code']}" if isinstance(value, dict) else str(value),
)
def test_jetstream_api_answers_as_nats_py_raises_them(error: dict[str, object], fault: NatsFault) -> None:
    """nats-py turns a JetStream API error answer into an exception with ``from_error``."""
    with pytest.raises(js_errors.APIError) as raised:
        js_errors.APIError.from_error(error)
    assert classify(raised.value) is fault


def test_a_bad_request_is_not_taken_for_an_outage() -> None:
    """The bug this module fixes: every JetStream refusal is an ``APIError``, as is a 503.
    Catching ``APIError`` as transient retried a bad request forever as "NATS unavailable"."""
    bad_request = js_errors.BadRequestError(code=400, err_code=10003, description="bad request")
    assert isinstance(bad_request, js_errors.APIError)
    assert isinstance(js_errors.ServiceUnavailableError(), js_errors.APIError)
    assert not is_transient(bad_request)


@pytest.mark.parametrize("exc", [ValueError("x"), KeyError("k"), OSError("disk"), RuntimeError()])
def test_other_errors_are_not_ours_to_judge(exc: BaseException) -> None:
    assert classify(exc) is None
    assert not is_transient(exc)
    assert not isinstance(exc, NATS_ERRORS)
