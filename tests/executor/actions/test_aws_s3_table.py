"""The table-driven aws/s3/* actions against moto's S3 server on 127.0.0.1 (fixtures in conftest).

Each scenario is a short story over one fresh bucket (set, read back, remove) whose every step
checks outputs upstream's action would give (flomation-co/executor: actions/aws/s3/<name>/
action.go); ``test_every_row_is_exercised`` keeps the scenarios covering the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from executor.actions.local_peers import MOTO_ACCESS, MOTO_SECRET
from executor.engine_harness import edge, flow_document, node, run_engine, value
from flomation.executor.actions.aws.s3._table import TABLE
from flomation.executor.actions.base import HardError

MakeContext = Callable[..., Any]
Row = tuple[str, str, Any]


@dataclass(frozen=True)
class Step:
    """Run one table action on the scenario's bucket; ``expect`` and ``fails`` use ``{bucket}``."""

    action: str
    inputs: tuple[Row, ...] = ()
    expect: dict[str, Any] = field(default_factory=dict)
    fails: str = ""
    """A text the hard error must contain (the step must fail)."""


_CORS = '[{"allowed_methods":["GET","PUT"],"allowed_origins":["*"],"max_age_seconds":60}]'

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "cors": (
        Step("get_bucket_cors", fails="NoSuchCORSConfiguration"),
        Step(
            "put_bucket_cors",
            (("cors_rules", "string", _CORS),),
            {"rule_count": 1, "tool_result": "Applied 1 CORS rule(s) to {bucket}"},
        ),
        Step(
            "get_bucket_cors",
            expect={
                "cors_rules": '[{"AllowedMethods":["GET","PUT"],"AllowedOrigins":["*"],'
                '"MaxAgeSeconds":60}]',
                "tool_result": "Retrieved 1 CORS rule(s) for {bucket}",
            },
        ),
        Step(
            "delete_bucket_cors", expect={"tool_result": "Deleted CORS configuration from {bucket}"}
        ),
        Step("get_bucket_cors", fails="NoSuchCORSConfiguration"),
        Step("put_bucket_cors", (("cors_rules", "string", "[]"),), fails="at least one CORS rule"),
        Step(
            "put_bucket_cors",
            (("cors_rules", "string", '[{"allowed_methods":["GET"]}]'),),
            fails="rule 0 requires allowed_methods and allowed_origins",
        ),
        Step("put_bucket_cors", fails="cors_rules JSON array is required"),
    ),
    "encryption": (
        Step(
            "put_bucket_encryption",
            (("sse_algorithm", "string", "aws:kms"), ("kms_key_id", "string", "alias/flo")),
            {
                "bucket": "{bucket}",
                "sse_algorithm": "aws:kms",
                "tool_result": "Set bucket {bucket} default encryption to aws:kms",
            },
        ),
        Step(
            "get_bucket_encryption",
            expect={
                "sse_algorithm": "aws:kms",
                "kms_key_id": "alias/flo",
                "tool_result": "Bucket {bucket} default encryption: aws:kms",
            },
        ),
        Step(
            "delete_bucket_encryption",
            expect={
                "bucket": "{bucket}",
                "tool_result": "Removed default encryption from bucket {bucket}",
            },
        ),
        Step("put_bucket_encryption", fails="encryption algorithm is required"),
    ),
    "policy": (
        Step("get_bucket_policy", fails="NoSuchBucketPolicy"),
        Step("delete_bucket_policy", expect={"tool_result": "Deleted policy from bucket {bucket}"}),
    ),
    "tags": (
        Step(
            "put_bucket_tagging",
            (("tags", "key_value_array", [{"key": " team ", "value": " data "}, {"key": ""}]),),
            {"tag_count": 1, "tool_result": "Applied 1 tag(s) to {bucket}"},
        ),
        Step(
            "get_bucket_tagging",
            expect={"tags": '{"team":"data"}', "tool_result": "Retrieved 1 tag(s) for {bucket}"},
        ),
        Step("delete_bucket_tagging", expect={"tool_result": "Deleted all tags from {bucket}"}),
        Step("put_bucket_tagging", fails="at least one tag (Key and Value) is required"),
    ),
    "bucket facts": (
        Step(
            "get_bucket_versioning",
            expect={
                "status": "",
                "mfa_delete": "",
                "tool_result": "Bucket {bucket} has never been versioned",
            },
        ),
        Step(
            "get_bucket_location",
            expect={"location": "eu-west-2", "tool_result": "Bucket {bucket} is in eu-west-2"},
        ),
        Step(
            "head_bucket",
            expect={"exists": True, "tool_result": "Bucket {bucket} exists and is accessible"},
        ),
        Step(
            "get_bucket_ownership_controls",
            fails="OwnershipControlsNotFoundError",
        ),
        Step("get_bucket_website", fails="NoSuchWebsiteConfiguration"),
        Step(
            "delete_bucket_website",
            expect={"tool_result": "Deleted website configuration from {bucket}"},
        ),
        Step("head_bucket", fails="bucket is required", inputs=(("bucket", "string", ""),)),
    ),
    "acl": (
        Step(
            "get_bucket_acl",
            expect={
                "grants": '[{"grantee_type":"CanonicalUser","grantee":'
                '"75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",'
                '"permission":"FULL_CONTROL"}]',
            },
        ),
    ),
}


def _auth(bucket: str, rows: tuple[Row, ...]) -> list[Row]:
    given = {name for name, _, _ in rows}
    base: list[Row] = [
        ("auth_method", "string", "keys"),
        ("aws_access_key", "secret", MOTO_ACCESS),
        ("aws_secret_key", "secret", MOTO_SECRET),
        ("aws_region", "string", "eu-west-2"),
    ]
    if "bucket" not in given:
        base.append(("bucket", "string", bucket))
    return [*base, *rows]


def _filled(expected: Any, bucket: str) -> Any:
    return expected.replace("{bucket}", bucket) if isinstance(expected, str) else expected


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario(make_ctx: MakeContext, bucket: str, scenario: str) -> None:
    """Each step's outputs (or hard error) are upstream's for that S3 state."""
    for number, step in enumerate(SCENARIOS[scenario]):
        _, run = TABLE["aws/s3/" + step.action]
        ctx = make_ctx(*_auth(bucket, step.inputs))
        where = f"{scenario} step {number} ({step.action})"
        if step.fails:
            with pytest.raises(HardError) as caught:
                run(ctx)
            assert _filled(step.fails, bucket) in caught.value.message, where
            continue
        outputs = run(ctx)
        spec, _ = TABLE["aws/s3/" + step.action]
        assert set(outputs) == {output.name for output in spec.outputs}, where
        for name, expected in step.expect.items():
            assert outputs[name] == _filled(expected, bucket), f"{where}: {name}"


def test_head_bucket_missing_is_an_answer(make_ctx: MakeContext, bucket: str) -> None:
    """head_bucket on a bucket that does not exist answers exists: false (not a failure)."""
    _, run = TABLE["aws/s3/head_bucket"]
    outputs = run(make_ctx(*_auth(bucket, (("bucket", "string", bucket + "-gone"),))))
    assert outputs == {
        "tool_result": f"Bucket {bucket}-gone does not exist or is not accessible",
        "exists": False,
    }


def test_every_row_is_exercised() -> None:
    """Every table row appears in a scenario, so each one has run against moto."""
    exercised = {"aws/s3/" + step.action for steps in SCENARIOS.values() for step in steps}
    assert set(TABLE) - exercised == set()


def test_table_rows_are_registered_lazily() -> None:
    """Table ids resolve through the registry; the table module imports no SDK."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from flomation.executor.registry import Registry\n"
        "action = Registry().find('aws/s3/get_bucket_tagging')\n"
        "assert action is not None and action.spec.id == 'aws/s3/get_bucket_tagging'\n"
        "assert Registry().find('aws/s3/no_such_action') is None\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_table_keys_are_masked(tmp_path: Path, bucket: str) -> None:
    """A table action's access and secret keys are masked in its events, results and logs."""
    inputs = [
        value("auth_method", "keys"),
        value("aws_access_key", MOTO_ACCESS, "secret"),
        value("aws_secret_key", MOTO_SECRET, "secret"),
        value("aws_region", "eu-west-2"),
        value("bucket", bucket),
        value("tags", [{"key": "k", "value": MOTO_SECRET}], "key_value_array"),
    ]
    document = flow_document(
        [node("t", "trigger/manual", 1), node("x", "aws/s3/put_bucket_tagging", inputs=inputs)],
        [edge("t", "x")],
    )
    run = run_engine(tmp_path, document)
    record = run.result.records["x"]
    assert record.status == "success", record.error
    assert (record.inputs or {})["aws_secret_key"] == "********"
    reported = record.to_json() + json.dumps(run.events, default=str) + str(run.logs)
    assert MOTO_ACCESS not in reported and MOTO_SECRET not in reported
