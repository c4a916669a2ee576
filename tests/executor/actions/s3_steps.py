"""The steps of the aws/s3 table scenarios (tests/executor/actions/test_aws_s3_table.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Client", "Row", "Step"]

Row = tuple[str, str, Any]


@dataclass(frozen=True)
class Step:
    """Run one table action on the scenario's bucket; ``expect`` and ``fails`` use ``{bucket}``."""

    action: str
    inputs: tuple[Row, ...] = ()
    expect: dict[str, Any] = field(default_factory=dict)
    fails: str = ""
    """A text the hard error must contain (the step must fail)."""


@dataclass(frozen=True)
class Client:
    """Prepare S3 state with a direct boto3 call (``{bucket}`` and earlier outputs filled in)."""

    method: str
    arguments: dict[str, Any]
