"""aws/s3/* against moto's S3 server on 127.0.0.1 (moto[server]; fixtures in conftest.py).

The actions reach it through the SDK's ``AWS_ENDPOINT_URL`` variable; shapes follow
flomation-co/executor: actions/aws/s3/{get,put,delete,list}/action.go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from executor.actions.local_peers import MOTO_ACCESS as ACCESS
from executor.actions.local_peers import MOTO_SECRET as SECRET
from executor.engine_harness import edge, flow_document, node, run_engine, value
from flomation.executor.actions.aws.s3 import delete, get, put
from flomation.executor.actions.aws.s3 import list as list_buckets
from flomation.executor.actions.base import HardError

MakeContext = Callable[..., Any]


def _credentials(*rows: tuple[str, str, Any]) -> list[tuple[str, str, Any]]:
    return [("aws_access_key", "secret", ACCESS), ("aws_secret_key", "secret", SECRET), *rows]


def test_put_get_delete_round_trip(make_ctx: MakeContext, bucket: str) -> None:
    """put stores text, get returns it with its content type, delete removes it."""
    stored = put.run(
        make_ctx(
            *_credentials(
                ("bucket", "string", bucket),
                ("key", "secret", "reports/today.txt"),
                ("contents", "string", "héllo"),
            )
        )
    )
    assert stored == {"bucket": bucket, "filename": "reports/today.txt", "result": 0}
    fetched = get.run(
        make_ctx(
            *_credentials(("bucket", "string", bucket), ("key", "string", "reports/today.txt"))
        )
    )
    assert fetched["body"] == "héllo" and fetched["filename"] == "reports/today.txt"
    assert fetched["bucket"] == bucket and isinstance(fetched["content_type"], str)
    removed = delete.run(
        make_ctx(
            *_credentials(("bucket", "string", bucket), ("key", "secret", "reports/today.txt"))
        )
    )
    assert removed == {"bucket": bucket, "filename": "reports/today.txt", "result": 0}
    with pytest.raises(HardError) as caught:
        get.run(
            make_ctx(
                *_credentials(("bucket", "string", bucket), ("key", "string", "reports/today.txt"))
            )
        )
    assert "NoSuchKey" in caught.value.message


@pytest.mark.parametrize(("given", "stored"), [("", "upload"), ("in/", "in/upload")])
def test_put_blank_or_prefix_key(
    make_ctx: MakeContext, bucket: str, given: str, stored: str
) -> None:
    """A blank key, or one ending in '/', stores the object as 'upload' in that prefix."""
    out = put.run(
        make_ctx(
            *_credentials(
                ("bucket", "string", bucket), ("key", "secret", given), ("contents", "string", "x")
            )
        )
    )
    assert out["filename"] == stored
    fetched = get.run(
        make_ctx(*_credentials(("bucket", "string", bucket), ("key", "string", stored)))
    )
    assert fetched["body"] == "x"


def test_list_buckets_in_the_region(make_ctx: MakeContext, bucket: str) -> None:
    """list returns the names of the buckets in the region."""
    out = list_buckets.run(make_ctx(*_credentials(("aws_region", "secret", "eu-west-2"))))
    assert bucket in out["buckets"] and out["result"] == 0


def test_missing_bucket_is_a_hard_error(make_ctx: MakeContext, bucket: str) -> None:
    """An S3 error is the node's hard error."""
    with pytest.raises(HardError) as caught:
        get.run(
            make_ctx(*_credentials(("bucket", "string", bucket + "-nope"), ("key", "string", "k")))
        )
    assert "NoSuchBucket" in caught.value.message


def test_keys_are_masked(tmp_path: Path, bucket: str) -> None:
    """The access and secret keys are masked in the node's events and results."""
    inputs = [
        value("aws_access_key", ACCESS, "secret"),
        value("aws_secret_key", SECRET, "secret"),
        value("bucket", bucket),
        value("key", "k.txt", "secret"),
        value("contents", "c"),
    ]
    document = flow_document(
        [node("t", "trigger/manual", 1), node("x", "aws/s3/put", inputs=inputs)], [edge("t", "x")]
    )
    run = run_engine(tmp_path, document)
    record = run.result.records["x"]
    assert record.status == "success", record.error
    assert (record.inputs or {})["aws_access_key"] == "********"
    reported = record.to_json() + str(run.events) + str(run.logs)
    assert ACCESS not in reported and SECRET not in reported


def test_bucket_lifecycle_head_and_copy(
    make_ctx: MakeContext, moto_endpoint: str, bucket: str
) -> None:
    """create_bucket, head_object, copy_object, delete_bucket with upstream's newer auth block."""
    from flomation.executor.actions.aws.s3 import (
        copy_object,
        create_bucket,
        delete_bucket,
        head_object,
    )

    def auth(*rows: tuple[str, str, Any]) -> Any:
        return make_ctx(
            ("auth_method", "string", "keys"),
            *_credentials(("aws_region", "string", "eu-west-2"), *rows),
        )

    target = bucket + "-copy"
    created = create_bucket.run(auth(("bucket", "string", target)))
    assert created["bucket"] == target and created["tool_result"] == f"Created bucket {target}"
    put.run(
        make_ctx(
            *_credentials(
                ("bucket", "string", bucket),
                ("key", "secret", "a.txt"),
                ("contents", "string", "abc"),
            )
        )
    )
    head = head_object.run(auth(("bucket", "string", bucket), ("key", "string", "a.txt")))
    assert head["content_length"] == 3 and head["etag"].strip('"')
    assert head["tool_result"].startswith(f"{bucket}/a.txt: 3 bytes")
    assert len(head["last_modified"]) == 20 and head["last_modified"].endswith("Z")
    copied = copy_object.run(
        auth(
            ("bucket", "string", target),
            ("key", "string", "b.txt"),
            ("copy_source", "string", f"{bucket}/a.txt"),
        )
    )
    assert copied["tool_result"] == f"Copied {bucket}/a.txt to {target}/b.txt" and copied["etag"]
    fetched = get.run(
        make_ctx(*_credentials(("bucket", "string", target), ("key", "string", "b.txt")))
    )
    assert fetched["body"] == "abc"
    delete.run(make_ctx(*_credentials(("bucket", "string", target), ("key", "secret", "b.txt"))))
    removed = delete_bucket.run(auth(("bucket", "string", target)))
    assert removed == {"tool_result": f"Deleted bucket {target}", "bucket": target}
    with pytest.raises(HardError, match="bucket and key are required"):
        head_object.run(auth(("bucket", "string", bucket)))


def test_assume_role_and_credential_methods(make_ctx: MakeContext, bucket: str) -> None:
    """assume_role asks STS (moto) for credentials; a managed 'credential' is refused clearly."""
    from flomation.executor.actions.aws.s3 import head_object

    put.run(
        make_ctx(
            *_credentials(
                ("bucket", "string", bucket),
                ("key", "secret", "r.txt"),
                ("contents", "string", "x"),
            )
        )
    )
    assumed = head_object.run(
        make_ctx(
            *_credentials(
                ("auth_method", "string", "assume_role"),
                ("assume_role_arn", "string", "arn:aws:iam::123456789012:role/FlomationAccess"),
                ("external_id", "string", "ext-1"),
                ("aws_region", "string", "eu-west-2"),
                ("bucket", "string", bucket),
                ("key", "string", "r.txt"),
            )
        )
    )
    assert assumed["content_length"] == 1
    with pytest.raises(HardError, match="auth_method 'credential'"):
        head_object.run(
            make_ctx(
                ("auth_method", "string", "credential"),
                ("bucket", "string", bucket),
                ("key", "string", "r.txt"),
            )
        )
