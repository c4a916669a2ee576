"""Tests of the protocol body models (protocol.md §4)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flomation.wire.models import PendingExecution, RegistrationRequest, ResultRequest


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
