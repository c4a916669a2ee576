"""The ``aws/s3/*`` actions that are table rows (the registry's table rule, executor/registry.py).

Importing this module imports no SDK: boto3 is loaded when a row runs (``_client``).
"""

from __future__ import annotations

from flomation.executor.actions.aws.s3._access_rows import ACCESS_ROWS
from flomation.executor.actions.aws.s3._bucket_rows import BUCKET_ROWS
from flomation.executor.actions.aws.s3._control_rows import CONTROL_ROWS
from flomation.executor.actions.aws.s3._object_rows import OBJECT_ROWS
from flomation.executor.actions.aws.s3._operations import table

__all__ = ["TABLE"]

TABLE = table(*BUCKET_ROWS, *ACCESS_ROWS, *OBJECT_ROWS, *CONTROL_ROWS)
