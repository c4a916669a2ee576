"""Table rows: who may reach a bucket (policy, ACL, public access block, ownership controls).

Each row matches flomation-co/executor: actions/aws/s3/<name>/action.go (inputs, outputs,
required-input errors and the ``tool_result`` sentence); see ``_operations`` for the columns.
"""

from __future__ import annotations

from flomation.executor.actions.aws.s3._bucket_rows import (
    BLOCK_PARAMS,
    BLOCK_RESULTS,
    BUCKET_ECHO,
    acl_reply,
    block_configuration,
    flag,
    quoted,
)
from flomation.executor.actions.aws.s3._operations import (
    BUCKET,
    BUCKET_NAME,
    Operation,
    Param,
    Result,
)

__all__ = ["ACCESS_ROWS"]

ACCESS_ROWS = (
    Operation(
        "get_bucket_policy",
        "AWS S3 Get Bucket Policy",
        "Fetch the JSON policy document attached to an AWS S3 bucket.",
        "bucket+file-lines",
        "get_bucket_policy",
        params=(BUCKET_NAME,),
        results=(Result("policy", "Policy (JSON)", "Policy"),),
        summary="Fetched policy for bucket {bucket}",
    ),
    Operation(
        "delete_bucket_policy",
        "AWS S3 Delete Bucket Policy",
        "Remove the policy document from an AWS S3 bucket.",
        "bucket+trash",
        "delete_bucket_policy",
        params=(BUCKET_NAME,),
        results=(BUCKET_ECHO,),
        summary="Deleted policy from bucket {bucket}",
    ),
    Operation(
        "get_bucket_acl",
        "AWS S3 Get Bucket ACL",
        "Read the access control list (owner and grants) of an AWS S3 bucket.",
        "bucket+shield-halved",
        "get_bucket_acl",
        params=(BUCKET,),
        results=(Result("owner", "Owner"), Result("grants", "Grants (JSON)")),
        reply=acl_reply,
        summary=lambda values, outputs, reply: (
            f"Bucket {values['bucket']} has {len(reply.get('Grants') or ())} grant(s), "
            f"owner {outputs['owner']}"
        ),
    ),
    Operation(
        "get_bucket_ownership_controls",
        "AWS S3 Get Bucket Ownership Controls",
        "Read the object ownership controls of an S3 bucket.",
        "user-group+magnifying-glass",
        "get_bucket_ownership_controls",
        params=(BUCKET,),
        results=(
            Result(
                "object_ownership",
                "Object Ownership",
                "OwnershipControls.Rules.0.ObjectOwnership",
            ),
        ),
        summary="Object ownership on bucket {bucket} is {object_ownership}",
    ),
    Operation(
        "put_bucket_ownership_controls",
        "AWS S3 Put Bucket Ownership Controls",
        "Set the object ownership controls on an S3 bucket.",
        "user-group+pen",
        "put_bucket_ownership_controls",
        params=(
            BUCKET,
            Param(
                "object_ownership",
                "Object Ownership",
                required="object_ownership is required",
                options=(
                    ("Bucket Owner Enforced (ACLs disabled)", "BucketOwnerEnforced"),
                    ("Bucket Owner Preferred", "BucketOwnerPreferred"),
                    ("Object Writer", "ObjectWriter"),
                ),
            ),
        ),
        results=(BUCKET_ECHO, Result("object_ownership", "Object Ownership", echo=True)),
        request=lambda values: {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": values["object_ownership"]}]}
        },
        summary="Set object ownership on bucket {bucket} to {object_ownership}",
    ),
    Operation(
        "delete_bucket_ownership_controls",
        "AWS S3 Delete Bucket Ownership Controls",
        "Remove the object ownership controls from an S3 bucket.",
        "user-group+trash",
        "delete_bucket_ownership_controls",
        params=(BUCKET,),
        results=(BUCKET_ECHO,),
        summary="Removed ownership controls from bucket {bucket}",
    ),
    Operation(
        "get_public_access_block",
        "AWS S3 Get Public Access Block",
        "Read the public access block configuration of an AWS S3 bucket.",
        "bucket+shield-halved",
        "get_public_access_block",
        params=(BUCKET_NAME,),
        results=BLOCK_RESULTS,
        summary=lambda values, outputs, reply: (
            f"Public access block for {values['bucket']}: "
            f"block_acls={flag(outputs['block_public_acls'])} "
            f"ignore_acls={flag(outputs['ignore_public_acls'])} "
            f"block_policy={flag(outputs['block_public_policy'])} "
            f"restrict={flag(outputs['restrict_public_buckets'])}"
        ),
    ),
    Operation(
        "put_public_access_block",
        "AWS S3 Put Public Access Block",
        "Set the public access block configuration on an AWS S3 bucket.",
        "bucket+shield-halved",
        "put_public_access_block",
        params=(BUCKET_NAME, *BLOCK_PARAMS),
        results=(BUCKET_ECHO,),
        request=block_configuration,
        summary="Updated public access block for bucket {bucket}",
    ),
    Operation(
        "put_bucket_policy",
        "AWS S3 Put Bucket Policy",
        "Attach a JSON policy document to an AWS S3 bucket.",
        "bucket+lock",
        "put_bucket_policy",
        params=(
            BUCKET_NAME,
            Param(
                "policy",
                "Policy Document (JSON)",
                "Policy",
                required="policy is required",
                placeholder='{"Version":"2012-10-17","Statement":[...]}',
            ),
        ),
        results=(BUCKET_ECHO,),
        summary="Applied policy to bucket {bucket}",
    ),
    Operation(
        "get_bucket_policy_status",
        "AWS S3 Get Bucket Policy Status",
        "Report whether an S3 bucket is public according to its policy status.",
        "shield-halved+magnifying-glass",
        "get_bucket_policy_status",
        params=(BUCKET_NAME,),
        results=(Result("is_public", "Is Public", "PolicyStatus.IsPublic", "bool"),),
        summary=lambda values, outputs, reply: (
            f"Bucket {values['bucket']} is public: {flag(outputs['is_public'])}"
        ),
    ),
    Operation(
        "put_bucket_acl",
        "AWS S3 Put Bucket ACL",
        "Apply a canned access control list to an AWS S3 bucket.",
        "bucket+shield-halved",
        "put_bucket_acl",
        params=(
            BUCKET,
            Param(
                "acl",
                "Canned ACL",
                "ACL",
                required="canned ACL is required",
                options=(
                    ("Private", "private"),
                    ("Public Read", "public-read"),
                    ("Public Read/Write", "public-read-write"),
                    ("Authenticated Read", "authenticated-read"),
                    ("Bucket Owner Read", "bucket-owner-read"),
                    ("Bucket Owner Full Control", "bucket-owner-full-control"),
                    ("Log Delivery Write", "log-delivery-write"),
                ),
            ),
        ),
        results=(BUCKET_ECHO, Result("acl", "Canned ACL", echo=True)),
        summary=lambda values, outputs, reply: (
            f"Applied ACL {quoted(values['acl'])} to bucket {values['bucket']}"
        ),
    ),
)
