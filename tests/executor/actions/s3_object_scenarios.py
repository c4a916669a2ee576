"""aws/s3 table scenarios about objects: tags, ACLs, batch delete, versions, multipart uploads,
Object Lock (outputs as flomation-co/executor: actions/aws/s3/<name>/action.go gives them)."""

from __future__ import annotations

import hashlib

from executor.actions.s3_steps import Client, Step

__all__ = ["OBJECT_SCENARIOS"]

# S3's ETag of a part uploaded in one piece: the quoted MD5 of its bytes.
_PART_TWO_ETAG = '"' + hashlib.md5(b"part-two").hexdigest() + '"'
_RETAIN_UNTIL = "2030-01-02T03:04:05Z"

OBJECT_SCENARIOS: dict[str, tuple[Step | Client, ...]] = {
    "object tags and acl": (
        Client("put_object", {"Bucket": "{bucket}", "Key": "a.txt", "Body": b"abc"}),
        Step(
            "put_object_tagging",
            (
                ("key", "string", "a.txt"),
                (
                    "tags",
                    "key_value_array",
                    [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}],
                ),
            ),
            {"tag_count": 2, "tool_result": "Applied 2 tag(s) to {bucket}/a.txt"},
        ),
        Step(
            "get_object_tagging",
            (("key", "string", "a.txt"),),
            {
                "tags": '{"a":"1","b":"2"}',
                "tool_result": "Retrieved 2 tag(s) for {bucket}/a.txt",
            },
        ),
        Step(
            "delete_object_tagging",
            (("key", "string", "a.txt"),),
            {"tool_result": "Deleted all tags from {bucket}/a.txt"},
        ),
        Step(
            "get_object_tagging",
            (("key", "string", "a.txt"),),
            {"tags": "{}", "tool_result": "Retrieved 0 tag(s) for {bucket}/a.txt"},
        ),
        Step("get_object_tagging", fails="bucket and key are required"),
        Step(
            "get_object_torrent",
            (("key", "string", "a.txt"),),
            {"tool_result": "Retrieved torrent for {bucket}/a.txt ({byte_length} bytes)"},
        ),
        Client(
            "put_object",
            {"Bucket": "{bucket}", "Key": "cold.bin", "Body": b"zz", "StorageClass": "GLACIER"},
        ),
        Step(
            "restore_object",
            (("key", "string", "cold.bin"), ("days", "integer", 3), ("tier", "string", "Bulk")),
            {"tool_result": "Requested Bulk restore of {bucket}/cold.bin for 3 day(s)"},
        ),
        Step(
            "restore_object",
            (("key", "string", "cold.bin"), ("days", "integer", 0)),
            fails="days must be a positive integer",
        ),
        Step(
            "get_object_attributes",
            (("key", "string", "a.txt"),),
            {
                "object_size": 3,
                "storage_class": "STANDARD",
                "tool_result": "{bucket}/a.txt: 3 bytes, storage class STANDARD",
            },
        ),
        Step(
            "get_object_acl",
            (("key", "string", "a.txt"),),
            {"tool_result": "{bucket}/a.txt owned by webfile with 1 grant(s)"},
        ),
        Step(
            "put_object_acl",
            (("key", "string", "a.txt"), ("acl", "string", "public-read")),
            {"tool_result": 'Applied ACL "public-read" to {bucket}/a.txt'},
        ),
        Step(
            "get_object_acl",
            (("key", "string", "a.txt"),),
            {"tool_result": "{bucket}/a.txt owned by webfile with 2 grant(s)"},
        ),
        Step("put_object_acl", (("key", "string", "a.txt"),), fails="a canned ACL is required"),
    ),
    "batch delete and versions": (
        Client(
            "put_bucket_versioning",
            {"Bucket": "{bucket}", "VersioningConfiguration": {"Status": "Enabled"}},
        ),
        Client("put_object", {"Bucket": "{bucket}", "Key": "v/one.txt", "Body": b"1"}),
        Client("put_object", {"Bucket": "{bucket}", "Key": "v/one.txt", "Body": b"22"}),
        Client("put_object", {"Bucket": "{bucket}", "Key": "other.txt", "Body": b"3"}),
        Step(
            "list_object_versions",
            (("prefix", "string", "v/"),),
            {"count": 2, "tool_result": "Found 2 object version(s) in {bucket}"},
        ),
        Step(
            "delete_objects",
            (("keys", "string", " other.txt , v/one.txt,, "),),
            {
                "deleted_count": 2,
                "errors": "[]",
                "tool_result": "Deleted 2 object(s) from {bucket} (0 error(s))",
            },
        ),
        Step("delete_objects", (("keys", "string", " , "),), fails="at least one object key"),
    ),
    "multipart upload": (
        Step(
            "create_multipart_upload",
            (("key", "string", "big.bin"), ("content_type", "string", "application/x-test")),
            {"bucket": "{bucket}", "key": "big.bin"},
        ),
        Client(
            "upload_part",
            {
                "Bucket": "{bucket}",
                "Key": "big.bin",
                "UploadId": "{upload_id}",
                "PartNumber": 1,
                "Body": b"part-one",
            },
        ),
        Step(
            "list_multipart_uploads",
            expect={
                "count": 1,
                "tool_result": "Found 1 in-progress multipart upload(s) in {bucket}",
            },
        ),
        Step(
            "upload_part",
            (
                ("key", "string", "big.bin"),
                ("upload_id", "string", "{upload_id}"),
                ("part_number", "integer", 2),
                ("content", "string", "part-two"),
            ),
            {
                "part_number": 2,
                "etag": _PART_TWO_ETAG,
                "tool_result": f"Uploaded part 2 (8 bytes) with ETag {_PART_TWO_ETAG}",
            },
        ),
        Step(
            "upload_part",
            (("key", "string", "big.bin"), ("upload_id", "string", "{upload_id}")),
            fails="part_number is required",
        ),
        Step(
            "list_parts",
            (("key", "string", "big.bin"), ("upload_id", "string", "{upload_id}")),
            {"count": 2, "tool_result": "Found 2 uploaded part(s) for {bucket}/big.bin"},
        ),
        Step(
            "complete_multipart_upload",
            (
                ("key", "string", "big.bin"),
                ("upload_id", "string", "{upload_id}"),
                (
                    "parts",
                    "string",
                    # Only a last part may be under 5 MiB: part 1 is left out.
                    '[{"etag":{etag_json},"part_number":2}]',
                ),
            ),
            {"tool_result": "Completed multipart upload of {bucket}/big.bin from 1 part(s)"},
        ),
        Step(
            "create_multipart_upload",
            (("key", "string", "gone.bin"),),
            {"key": "gone.bin"},
        ),
        Step(
            "abort_multipart_upload",
            (("key", "string", "gone.bin"), ("upload_id", "string", "{upload_id}")),
            {"tool_result": "Aborted multipart upload {upload_id} for {bucket}/gone.bin"},
        ),
        Step(
            "list_multipart_uploads",
            expect={"uploads": "[]", "count": 0},
        ),
        Step("list_parts", (("key", "string", "big.bin"),), fails="upload_id is required"),
        Client("put_object", {"Bucket": "{bucket}", "Key": "src.txt", "Body": b"copied"}),
        Step("create_multipart_upload", (("key", "string", "copy.bin"),), {"key": "copy.bin"}),
        Step(
            "upload_part_copy",
            (
                ("key", "string", "copy.bin"),
                ("upload_id", "string", "{upload_id}"),
                ("part_number", "integer", 1),
                ("copy_source", "string", "{bucket}/src.txt"),
            ),
            {
                "part_number": 1,
                "etag": '"' + hashlib.md5(b"copied").hexdigest() + '"',
                "tool_result": "Copied part 1 from {bucket}/src.txt with ETag {etag}",
            },
        ),
        Step(
            "upload_part_copy",
            (
                ("key", "string", "copy.bin"),
                ("upload_id", "string", "{upload_id}"),
                ("part_number", "integer", 1),
            ),
            fails="copy_source is required",
        ),
        Step(
            "complete_multipart_upload",
            (("key", "string", "x"), ("upload_id", "string", "u"), ("parts", "string", "[]")),
            fails="at least one part is required",
        ),
    ),
    "object lock": (
        Client(
            "create_bucket",
            {
                "Bucket": "{bucket}-lock",
                "CreateBucketConfiguration": {"LocationConstraint": "eu-west-2"},
                "ObjectLockEnabledForBucket": True,
            },
        ),
        # moto accepts a lock configuration only while the bucket is empty.
        Step(
            "put_object_lock_configuration",
            (
                ("bucket", "string", "{bucket}-lock"),
                ("default_mode", "string", "GOVERNANCE"),
                ("default_days", "integer", 30),
            ),
            {
                "bucket": "{bucket}-lock",
                "tool_result": "Object Lock enabled on bucket {bucket}-lock with default "
                "GOVERNANCE retention",
            },
        ),
        Step(
            "get_object_lock_configuration",
            (("bucket", "string", "{bucket}-lock"),),
            {"default_mode": "GOVERNANCE", "default_days": 30, "default_years": 0},
        ),
        Client(
            "put_object",
            {
                "Bucket": "{bucket}-lock",
                "Key": "held.txt",
                "Body": b"x",
                "ObjectLockMode": "GOVERNANCE",
                "ObjectLockRetainUntilDate": _RETAIN_UNTIL,
                "ObjectLockLegalHoldStatus": "ON",
            },
        ),
        Step(
            "get_object_legal_hold",
            (("bucket", "string", "{bucket}-lock"), ("key", "string", "held.txt")),
            {"status": "ON", "tool_result": "Legal hold on {bucket}-lock/held.txt: ON"},
        ),
        # moto's server answers GetObjectRetention with a 500 (its response rendering fails),
        # so this step only shows the request reached S3; the row says so in docs/nodes.md.
        Step(
            "get_object_retention",
            (("bucket", "string", "{bucket}-lock"), ("key", "string", "held.txt")),
            fails="Internal Server Error",
        ),
        Step(
            "get_object_lock_configuration",
            (("bucket", "string", "{bucket}-lock"),),
            {
                "object_lock_enabled": True,
                "tool_result": "Bucket {bucket}-lock Object Lock enabled: true",
            },
        ),
        Step(
            "put_object_legal_hold",
            (
                ("bucket", "string", "{bucket}-lock"),
                ("key", "string", "held.txt"),
                ("status", "string", "OFF"),
            ),
            {"status": "OFF", "tool_result": "Set legal hold OFF on {bucket}-lock/held.txt"},
        ),
        Step(
            "get_object_legal_hold",
            (("bucket", "string", "{bucket}-lock"), ("key", "string", "held.txt")),
            {"status": "OFF"},
        ),
        Step(
            "put_object_lock_configuration",
            (("bucket", "string", "{bucket}-lock"), ("default_mode", "string", "COMPLIANCE")),
            fails="default_days or default_years is required when a default retention mode is set",
        ),
        Step(
            "put_object_lock_configuration",
            (
                ("default_mode", "string", "COMPLIANCE"),
                ("default_days", "integer", 1),
                ("default_years", "integer", 1),
            ),
            fails="specify either default_days or default_years, not both",
        ),
        Step(
            "put_object_legal_hold",
            (("key", "string", "k"),),
            fails="legal hold status is required",
        ),
        Step("get_object_retention", fails="object key is required"),
    ),
}
