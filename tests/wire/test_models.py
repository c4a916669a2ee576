"""Tests of the protocol body models (docs/protocol.md §4)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from flomation.wire.models import (
    LogsRequest,
    PendingExecution,
    RegistrationRequest,
    ResultRequest,
    encode_logs_body,
)

# Lines as the runner holds them: any text without lone surrogates (decoded output).
_LINES = st.lists(st.text(st.characters(exclude_categories=["Cs"])), max_size=20)


def test_go_runner_registration_body_is_accepted() -> None:
    """The Go runner's extra registration fields (zero time, nulls) parse without error."""
    body = (
        '{"id":"","identifier":"qWeRtYuIoPaSdFgH","name":"Flo Runner","registration_code":"c",'
        '"enrolled_at":"0001-01-01T00:00:00Z","last_contact_at":null,"ip_address":null,'
        '"version":"1.0.1","executor_version":"1.0.2","manifest":{},"public_key":"pem"}'
    )
    request = RegistrationRequest.model_validate_json(body)
    assert request.identifier == "qWeRtYuIoPaSdFgH"


def test_registration_with_a_bad_timestamp_is_refused() -> None:
    """A non-RFC 3339 enrolled_at is a validation error (upstream answers 400)."""
    with pytest.raises(ValidationError, match="enrolled_at"):
        RegistrationRequest.model_validate_json('{"identifier":"x","enrolled_at":"yesterday"}')


def test_pending_execution_ignores_unknown_fields() -> None:
    """Unknown fields in a PendingExecution are ignored, known ones are typed."""
    body = (
        '{"flo":{"id":"f","name":"n","scale":1,"x":0,"y":0,"future":true},'
        '"execution":{"id":"e","flo_id":"f","sequence":3,"data":{"a":1},"new_field":[1]},'
        '"data":{"nodes":[],"edges":[]}}'
    )
    pending = PendingExecution.model_validate_json(body)
    assert pending.execution.sequence == 3
    assert pending.checkpoint is None
    assert pending.flo.system_flow is False


def test_result_defaults_match_the_go_runner() -> None:
    """cancelled and suspended may be omitted and then mean false."""
    result = ResultRequest.model_validate_json('{"has_errored":true,"state":{"status":1}}')
    assert (result.cancelled, result.suspended) == (False, False)


@given(_LINES)
def test_logs_body_is_byte_for_byte_the_json_encoders(lines: list[str]) -> None:
    """The fast logs body equals json.dumps(compact, ensure_ascii=False) for any lines."""
    expected = json.dumps({"lines": lines}, separators=(",", ":"), ensure_ascii=False)
    assert encode_logs_body(lines) == expected.encode("utf-8")


@pytest.mark.parametrize(
    "lines",
    [[], [""], ["plain", "é ☃ 😀"], ['quote "', "back\\slash", "tab\t", "nul\x00", "\x1f\x7f"]],
)
def test_logs_body_round_trips_through_the_server_model(lines: list[str]) -> None:
    """What the runner sends parses back, with the server's model, to the same lines."""
    assert LogsRequest.model_validate_json(encode_logs_body(lines)).lines == lines
