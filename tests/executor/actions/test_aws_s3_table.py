"""The table-driven aws/s3/* actions against moto's S3 server on 127.0.0.1 (fixtures in conftest).

Each scenario is a short story over one fresh bucket (set, read back, remove) whose every step
checks outputs upstream's action would give (flomation-co/executor: actions/aws/s3/<name>/
action.go); ``test_every_row_is_exercised`` keeps the scenarios covering the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from executor.actions.local_peers import MOTO_ACCESS, MOTO_SECRET
from executor.actions.s3_bucket_scenarios import BUCKET_SCENARIOS, LENS
from executor.actions.s3_object_scenarios import OBJECT_SCENARIOS
from executor.actions.s3_steps import Client, Row, Step
from executor.engine_harness import edge, flow_document, node, run_engine, value
from flomation.executor.actions.aws.s3._table import TABLE
from flomation.executor.actions.base import HardError

MakeContext = Callable[..., Any]
SCENARIOS = {**BUCKET_SCENARIOS, **OBJECT_SCENARIOS}


def _auth(bucket: str, rows: tuple[Row, ...]) -> list[Row]:
    """The authentication rows and the scenario's bucket, unless ``rows`` gives its own."""
    given = {name for name, _, _ in rows}
    base: list[Row] = [
        ("auth_method", "string", "keys"),
        ("aws_access_key", "secret", MOTO_ACCESS),
        ("aws_secret_key", "secret", MOTO_SECRET),
        ("aws_region", "string", "eu-west-2"),
        ("bucket", "string", bucket),
    ]
    return [*(row for row in base if row[0] not in given), *rows]


def _filled(value: Any, seen: dict[str, str]) -> Any:
    """``value`` with each ``{name}`` of ``seen`` replaced (JSON braces are left alone)."""
    if isinstance(value, str):
        for name, text in seen.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, dict):
        return {key: _filled(item, seen) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_filled(item, seen) for item in value)
    return value


@pytest.fixture
def through_moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SDK request through moto's server as an HTTP proxy.

    S3 Control calls go to ``<account>.<endpoint host>``, a name no resolver knows for
    127.0.0.1; moto's server also answers requests proxied to it, whatever their host.
    """
    monkeypatch.setenv("HTTP_PROXY", moto_endpoint)
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("through_moto")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario(make_ctx: MakeContext, bucket: str, moto_endpoint: str, scenario: str) -> None:
    """Each step's outputs (or hard error) are upstream's for that S3 state."""
    import boto3

    client = boto3.client(
        "s3",
        region_name="eu-west-2",
        endpoint_url=moto_endpoint,
        aws_access_key_id=MOTO_ACCESS,
        aws_secret_access_key=MOTO_SECRET,
    )
    seen = {"bucket": bucket}
    for number, step in enumerate(SCENARIOS[scenario]):
        if isinstance(step, Client):
            getattr(client, step.method)(**_filled(step.arguments, seen))
            continue
        spec, run = TABLE["aws/s3/" + step.action]
        ctx = make_ctx(*_auth(bucket, _filled(step.inputs, seen)))
        where = f"{scenario} step {number} ({step.action})"
        if step.fails:
            with pytest.raises(HardError) as caught:
                run(ctx)
            assert _filled(step.fails, seen) in caught.value.message, where
            continue
        outputs = run(ctx)
        assert set(outputs) == {output.name for output in spec.outputs}, where
        earlier = dict(seen)
        # The step's own outputs may appear in its tool_result: {name} stands for them too.
        for name, got in outputs.items():
            if name != "bucket":
                seen[name], seen[name + "_json"] = str(got), json.dumps(got)
        for name, expected in step.expect.items():
            # Except in the expectation of output name itself, where {name} is an earlier
            # step's value (its own would make the check one that cannot fail).
            known = {**seen, name: earlier.get(name, "{" + name + "} of no earlier step")}
            assert outputs[name] == _filled(expected, known), f"{where}: {name}"


def test_head_bucket_missing_is_an_answer(make_ctx: MakeContext, bucket: str) -> None:
    """head_bucket on a bucket that does not exist answers exists: false (not a failure)."""
    _, run = TABLE["aws/s3/head_bucket"]
    outputs = run(make_ctx(*_auth(bucket, (("bucket", "string", bucket + "-gone"),))))
    assert outputs == {
        "tool_result": f"Bucket {bucket}-gone does not exist or is not accessible",
        "exists": False,
    }


def test_list_buckets_names_the_bucket(make_ctx: MakeContext, bucket: str) -> None:
    """list_buckets lists every bucket of the (shared) moto server, this test's one included."""
    _, run = TABLE["aws/s3/list_buckets"]
    outputs = run(make_ctx(*_auth(bucket, ())))
    listed = json.loads(outputs["buckets"])
    assert bucket in [entry["name"] for entry in listed]
    assert all(list(entry) == ["name", "creation_date"] for entry in listed)
    assert all(entry["creation_date"].endswith("Z") for entry in listed)
    assert outputs["count"] == len(listed)
    assert outputs["tool_result"] == f"Found {len(listed)} bucket(s)"


@pytest.mark.usefixtures("through_moto")
def test_list_storage_lens_configurations(make_ctx: MakeContext, bucket: str) -> None:
    """list_storage_lens_configurations lists the account's configurations as Go maps."""
    _, put = TABLE["aws/s3/put_storage_lens_configuration"]
    mine_id = "list-" + bucket
    put(
        make_ctx(
            *_auth(
                bucket,
                (("config_id", "string", mine_id), ("storage_lens_configuration", "string", LENS)),
            )
        )
    )
    _, run = TABLE["aws/s3/list_storage_lens_configurations"]
    outputs = run(make_ctx(*_auth(bucket, ())))
    listed = json.loads(outputs["configurations"])
    mine = [entry for entry in listed if entry["id"] == mine_id]
    assert len(mine) == 1 and mine[0]["is_enabled"] is True
    assert list(mine[0]) == ["home_region", "id", "is_enabled", "storage_lens_arn"]
    assert outputs["count"] == len(listed)
    assert outputs["tool_result"] == f"Found {len(listed)} Storage Lens configuration(s)"


@pytest.mark.usefixtures("through_moto")
def test_list_multi_region_access_points(make_ctx: MakeContext, bucket: str) -> None:
    """list_multi_region_access_points lists the account's points as Go maps."""
    _, create = TABLE["aws/s3/create_multi_region_access_point"]
    create(
        make_ctx(*_auth(bucket, (("name", "string", "l-" + bucket), ("regions", "string", bucket))))
    )
    _, run = TABLE["aws/s3/list_multi_region_access_points"]
    outputs = run(make_ctx(*_auth(bucket, ())))
    listed = json.loads(outputs["access_points"])
    mine = [entry for entry in listed if entry["name"] == "l-" + bucket]
    assert len(mine) == 1 and list(mine[0]) == ["alias", "name", "status"]
    assert outputs["count"] == len(listed)
    assert outputs["tool_result"] == f"Found {len(listed)} Multi-Region Access Point(s)"


# Rows whose output depends on more than one scenario's state have a test of their own.
_OWN_TESTS = {
    "aws/s3/list_buckets",
    "aws/s3/list_multi_region_access_points",
    "aws/s3/list_storage_lens_configurations",
}


def test_every_row_is_exercised() -> None:
    """Every table row appears in a scenario or a test of its own, so each has run against moto."""
    exercised = _OWN_TESTS | {
        "aws/s3/" + step.action
        for steps in SCENARIOS.values()
        for step in steps
        if isinstance(step, Step)
    }
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
