"""aws/s3 table scenarios about buckets and the account (configuration, policies, access points,
Storage Lens; outputs as flomation-co/executor: actions/aws/s3/<name>/action.go gives them)."""

from __future__ import annotations

from executor.actions.s3_steps import Client, Step

__all__ = ["BUCKET_SCENARIOS", "LENS"]

_CORS = '[{"allowed_methods":["GET","PUT"],"allowed_origins":["*"],"max_age_seconds":60}]'
_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
    '"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}]}'
)
LENS = '{"AccountLevel":{"BucketLevel":{}},"IsEnabled":true}'
_AP_POLICY = '{"Version":"2012-10-17","Statement":[]}'
_LIFECYCLE = (
    '[{"id":"expire-logs","prefix":"logs/","status":"enabled","expiration_days":90},'
    '{"prefix":"old/","status":"Disabled","transition_days":30,'
    '"transition_storage_class":"GLACIER"}]'
)

BUCKET_SCENARIOS: dict[str, tuple[Step | Client, ...]] = {
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
    "lifecycle": (
        Step(
            "put_bucket_lifecycle_configuration",
            (("rules", "string", _LIFECYCLE),),
            {"rule_count": 2, "tool_result": "Applied 2 lifecycle rule(s) to {bucket}"},
        ),
        Step(
            "get_bucket_lifecycle_configuration",
            expect={"tool_result": "Retrieved 2 lifecycle rule(s) for {bucket}"},
        ),
        Step(
            "delete_bucket_lifecycle",
            expect={"tool_result": "Deleted lifecycle configuration from {bucket}"},
        ),
        Step("get_bucket_lifecycle_configuration", fails="NoSuchLifecycleConfiguration"),
        Step(
            "put_bucket_lifecycle_configuration",
            (("rules", "string", '[{"prefix":"x/"}]'),),
            fails="rule 0 must set expiration_days or transition_days+transition_storage_class",
        ),
        Step(
            "put_bucket_lifecycle_configuration",
            (("rules", "string", "{"),),
            fails="rules must be a JSON array",
        ),
    ),
    "ownership": (
        Step(
            "put_bucket_ownership_controls",
            (("object_ownership", "string", "BucketOwnerPreferred"),),
            {
                "bucket": "{bucket}",
                "object_ownership": "BucketOwnerPreferred",
                "tool_result": "Set object ownership on bucket {bucket} to BucketOwnerPreferred",
            },
        ),
        Step(
            "get_bucket_ownership_controls",
            expect={
                "object_ownership": "BucketOwnerPreferred",
                "tool_result": "Object ownership on bucket {bucket} is BucketOwnerPreferred",
            },
        ),
        Step(
            "delete_bucket_ownership_controls",
            expect={"tool_result": "Removed ownership controls from bucket {bucket}"},
        ),
        Step("put_bucket_ownership_controls", fails="object_ownership is required"),
    ),
    "policy, versioning, website": (
        Step(
            "put_bucket_policy",
            (("policy", "string", _POLICY),),
            {"bucket": "{bucket}", "tool_result": "Applied policy to bucket {bucket}"},
        ),
        Step("get_bucket_policy", expect={"policy": _POLICY}),
        Step("put_bucket_policy", fails="policy is required"),
        Step(
            "put_bucket_acl",
            (("acl", "string", "public-read"),),
            {
                "acl": "public-read",
                "tool_result": 'Applied ACL "public-read" to bucket {bucket}',
            },
        ),
        Step("put_bucket_acl", fails="canned ACL is required"),
        Step(
            "put_bucket_versioning",
            (("status", "string", "Enabled"),),
            {"status": "Enabled", "tool_result": 'Set bucket {bucket} versioning to "Enabled"'},
        ),
        Step(
            "get_bucket_versioning",
            expect={
                "status": "Enabled",
                "tool_result": 'Bucket {bucket} versioning is "Enabled"',
            },
        ),
        Step("put_bucket_versioning", fails="versioning status is required"),
        Step(
            "put_bucket_website",
            (("index_suffix", "string", "index.html"), ("error_key", "string", "oops.html")),
            {"tool_result": "Configured website hosting on {bucket} (index index.html)"},
        ),
        Step(
            "get_bucket_website",
            expect={
                "index_document": "index.html",
                "error_document": "oops.html",
                "tool_result": 'Website hosting for {bucket}: index="index.html" error="oops.html"',
            },
        ),
        Step("put_bucket_website", fails="index document suffix is required"),
        Step(
            "put_bucket_accelerate_configuration",
            (("status", "string", "Enabled"),),
            {
                "status": "Enabled",
                "tool_result": 'Set transfer acceleration on bucket {bucket} to "Enabled"',
            },
        ),
        Step(
            "get_bucket_accelerate_configuration",
            expect={
                "status": "Enabled",
                "tool_result": 'Transfer acceleration on bucket {bucket} is "Enabled"',
            },
        ),
        Step("put_bucket_accelerate_configuration", fails="acceleration status is required"),
        # moto's server takes a PUT ?requestPayment for a CreateBucket and refuses it
        # (IllegalLocationConstraintException), so this step only shows the request left;
        # the row says so in docs/nodes.md.
        Step(
            "put_bucket_request_payment",
            (("payer", "string", "Requester"),),
            fails="IllegalLocationConstraintException",
        ),
        # moto answers GetBucketRequestPayment without a Payer (S3 says BucketOwner).
        Step(
            "get_bucket_request_payment",
            expect={"payer": "", "tool_result": "Request payment on bucket {bucket} is "},
        ),
        Step("put_bucket_request_payment", fails="payer is required"),
        Step(
            "get_bucket_policy_status",
            expect={"is_public": True, "tool_result": "Bucket {bucket} is public: true"},
        ),
    ),
    "account public access block": (
        Step(
            "put_account_public_access_block",
            (("ignore_public_acls", "boolean", True),),
            {
                "account_id": "123456789012",
                "tool_result": "Updated account-level public access block for account 123456789012",
            },
        ),
        Step(
            "get_account_public_access_block",
            (("account_id", "string", "123456789012"),),
            {
                "ignore_public_acls": True,
                "block_public_acls": False,
                "tool_result": "Account 123456789012 public access block: "
                "block_public_acls=false, ignore_public_acls=true, "
                "block_public_policy=false, restrict_public_buckets=false",
            },
        ),
        Step(
            "delete_account_public_access_block",
            expect={"tool_result": "Deleted account 123456789012 public access block"},
        ),
        Step("get_account_public_access_block", fails="NoSuchPublicAccessBlockConfiguration"),
    ),
    "access points": (
        Step(
            "create_access_point",
            (("name", "string", "ap-{bucket}"),),
            {"tool_result": "Created access point ap-{bucket} on bucket {bucket}"},
        ),
        Step(
            "get_access_point",
            (("name", "string", "ap-{bucket}"),),
            {
                "name": "ap-{bucket}",
                "bucket": "{bucket}",
                "access_point_arn": "{access_point_arn}",
                "tool_result": "Access point ap-{bucket} on bucket {bucket} (Internet)",
            },
        ),
        Step(
            "list_access_points",
            expect={"count": 1, "tool_result": "Found 1 access point(s)"},
        ),
        Step(
            "put_access_point_policy",
            (("name", "string", "ap-{bucket}"), ("policy", "string", _AP_POLICY)),
            {
                "name": "ap-{bucket}",
                "tool_result": "Applied policy to access point ap-{bucket}",
            },
        ),
        Step(
            "get_access_point_policy",
            (("name", "string", "ap-{bucket}"),),
            {"tool_result": "Retrieved policy for access point ap-{bucket}"},
        ),
        Step(
            "get_access_point_policy_status",
            (("name", "string", "ap-{bucket}"),),
            {
                "is_public": True,
                "tool_result": "Access point ap-{bucket} policy is_public=true",
            },
        ),
        Step(
            "delete_access_point_policy",
            (("name", "string", "ap-{bucket}"),),
            {"tool_result": "Deleted policy for access point ap-{bucket}"},
        ),
        Step("put_access_point_policy", (("name", "string", "x"),), fails="policy is required"),
        Step(
            "delete_access_point",
            (("name", "string", "ap-{bucket}"),),
            {"name": "ap-{bucket}", "tool_result": "Deleted access point ap-{bucket}"},
        ),
        Step("list_access_points", expect={"access_points": "null", "count": 0}),
        Step("create_access_point", (("bucket", "string", ""),), fails="name is required"),
    ),
    "storage lens": (
        Step(
            "put_storage_lens_configuration",
            (
                ("config_id", "string", "lens-{bucket}"),
                ("storage_lens_configuration", "string", LENS),
                ("tags", "key_value_array", [{"key": "team", "value": "data"}]),
            ),
            {
                "config_id": "lens-{bucket}",
                "tool_result": "Saved Storage Lens configuration lens-{bucket}",
            },
        ),
        Step(
            "get_storage_lens_configuration",
            (("config_id", "string", "lens-{bucket}"),),
            {
                "is_enabled": True,
                "configuration": '{"AccountLevel":{"BucketLevel":{}},"Id":"lens-{bucket}",'
                '"IsEnabled":true}',
                "tool_result": "Storage Lens configuration lens-{bucket} (enabled=true)",
            },
        ),
        Step(
            "put_storage_lens_configuration_tagging",
            (
                ("config_id", "string", "lens-{bucket}"),
                (
                    "tags",
                    "key_value_array",
                    [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}],
                ),
            ),
            {
                "tag_count": 2,
                "tool_result": "Applied 2 tag(s) to Storage Lens configuration lens-{bucket}",
            },
        ),
        Step(
            "get_storage_lens_configuration_tagging",
            (("config_id", "string", "lens-{bucket}"),),
            {
                "tags": '{"a":"1","b":"2"}',
                "tool_result": "Storage Lens configuration lens-{bucket} has 2 tag(s)",
            },
        ),
        Step(
            "delete_storage_lens_configuration",
            (("config_id", "string", "lens-{bucket}"),),
            {"tool_result": "Deleted Storage Lens configuration lens-{bucket}"},
        ),
        Step(
            "put_storage_lens_configuration",
            (("config_id", "string", "x"),),
            fails="storage_lens_configuration JSON is required",
        ),
        Step("get_storage_lens_configuration", fails="config_id is required"),
    ),
    "replication": (
        Client(
            "put_bucket_versioning",
            {"Bucket": "{bucket}", "VersioningConfiguration": {"Status": "Enabled"}},
        ),
        Client(
            "put_bucket_replication",
            {
                "Bucket": "{bucket}",
                "ReplicationConfiguration": {
                    "Role": "arn:aws:iam::123456789012:role/replicate",
                    "Rules": [
                        {
                            "ID": "all",
                            "Status": "Enabled",
                            "Prefix": "",
                            "Destination": {"Bucket": "arn:aws:s3:::elsewhere"},
                        }
                    ],
                },
            },
        ),
        Step(
            "get_bucket_replication",
            expect={
                "role": "arn:aws:iam::123456789012:role/replicate",
                "rule_count": 1,
                "tool_result": "{bucket} has 1 replication rule(s)",
            },
        ),
        Step(
            "delete_bucket_replication",
            expect={"tool_result": "Deleted replication configuration from {bucket}"},
        ),
        Step("get_bucket_replication", fails="ReplicationConfigurationNotFoundError"),
    ),
    "multi-region access points": (
        Step(
            "create_multi_region_access_point",
            (("name", "string", "m-{bucket}"), ("regions", "string", " {bucket} ,")),
            {
                "tool_result": "Requested Multi-Region Access Point m-{bucket} (async; token "
                "{request_token_arn})"
            },
        ),
        Step(
            "get_multi_region_access_point",
            (("name", "string", "m-{bucket}"),),
            {
                "name": "m-{bucket}",
                "tool_result": "Multi-Region Access Point m-{bucket} ({alias}) is {status}",
            },
        ),
        Step(
            "delete_multi_region_access_point",
            (("name", "string", "m-{bucket}"),),
            {
                "tool_result": "Requested deletion of Multi-Region Access Point m-{bucket} "
                "(async; token {request_token_arn})"
            },
        ),
        Step(
            "create_multi_region_access_point",
            (("name", "string", "x"), ("regions", "string", " , ")),
            fails="at least one bucket is required",
        ),
    ),
    "public access block and logging": (
        Step(
            "put_public_access_block",
            (("block_public_acls", "boolean", True), ("block_public_policy", "boolean", "yes")),
            {"tool_result": "Updated public access block for bucket {bucket}"},
        ),
        Step(
            "get_public_access_block",
            expect={
                "block_public_acls": True,
                "ignore_public_acls": False,
                "block_public_policy": True,
                "restrict_public_buckets": False,
                "tool_result": "Public access block for {bucket}: block_acls=true "
                "ignore_acls=false block_policy=true restrict=false",
            },
        ),
        Step(
            "get_bucket_logging",
            expect={
                "enabled": False,
                "target_bucket": "",
                "tool_result": "Logging disabled on bucket {bucket}",
            },
        ),
        Step(
            "put_bucket_logging",
            expect={
                "bucket": "{bucket}",
                "enabled": False,
                "tool_result": "Disabled logging on bucket {bucket}",
            },
        ),
        Step(
            "get_bucket_notification_configuration",
            expect={
                "queue_configurations": "null",
                "topic_configurations": "null",
                "lambda_configurations": "null",
                "tool_result": "Bucket {bucket} has 0 queue, 0 topic, 0 lambda notification(s)",
            },
        ),
        Step("get_bucket_replication", fails="ReplicationConfigurationNotFoundError"),
        Step(
            "delete_bucket_replication",
            expect={"tool_result": "Deleted replication configuration from {bucket}"},
        ),
    ),
}
