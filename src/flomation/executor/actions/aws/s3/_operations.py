"""The table layer of ``aws/s3/*``: actions that map their inputs onto one S3 call, as data.

Most of upstream's S3 actions (flomation-co/executor: actions/aws/s3/<name>/action.go) share one
shape: the authentication block (``_client.AUTH_BLOCK``), a few inputs each copied into one field
of one S3 or S3 Control request, one SDK call, and outputs read from the reply plus a
``tool_result`` sentence. An ``Operation`` row states exactly that: its ``Param`` rows say which
input fills which request field and the error text when a required one is blank, its ``Result``
rows say where each output comes from and how it is rendered, and ``summary`` is the sentence.
Where a request or a reply needs more than a field copy (CORS rules from JSON, a tag map), the row
names a small function; logic beyond that lives in a module of its own (``get``, ``put``, ...).

Rows are turned into ``(ActionSpec, run)`` pairs by ``table`` for the registry's table rule
(``executor/registry.py``); boto3 is imported only when a row runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flomation.executor.accessors import read_bool, read_kv, read_number
from flomation.executor.actions.aws.s3._client import (
    AUTH_BLOCK,
    S3Failure,
    call,
    s3_client,
    text_input,
)
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
    RunFunction,
)
from flomation.executor.gojson import go_json

__all__ = [
    "ACCOUNT_ID",
    "BUCKET",
    "BUCKET_NAME",
    "KEY",
    "VERSION_ID",
    "Operation",
    "Param",
    "Result",
    "Values",
    "in_order",
    "json_list",
    "plain",
    "rfc3339",
    "table",
    "tag_count",
    "tags_param",
]

Values = dict[str, Any]
"""The node's inputs as the row reads them, by input name (blank optional ones absent)."""

# How a reply value becomes an output (``Result.render``).
_RENDERERS: dict[str, Callable[[Any], Any]] = {
    "text": lambda value: "" if value is None else str(value),
    "int": lambda value: int(value or 0),
    "bool": lambda value: bool(value),
    "json": lambda value: go_json(plain(value)),
    "time": lambda value: (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else ""
    ),
    "count": lambda value: len(value or ()),
    "value": lambda value: plain(value),
    "tag_map": lambda value: go_json({tag["Key"]: tag["Value"] for tag in value or ()}),
}
_CONNECTION_TYPES = {
    "string": "string",
    "json": "string",
    "integer": "integer",
    "boolean": "boolean",
    "tags": "key_value_array",
}


@dataclass(frozen=True)
class Param:
    """One node input and the request field it fills (``field`` ``""``: read by ``request``)."""

    name: str
    label: str
    field: str = ""
    kind: str = "string"
    """string, integer, boolean, json (JSON text, parsed) or tags (a key/value list)."""
    required: str = ""
    """The error when the input is blank (upstream's text); ``""`` when the input is optional."""
    placeholder: str = ""
    options: tuple[tuple[str, str], ...] = ()
    """(label, value) choices."""

    def connection(self) -> Connection:
        """The manifest connection for this input."""
        return Connection(
            self.name,
            _CONNECTION_TYPES[self.kind],
            self.label,
            placeholder=self.placeholder,
            required=bool(self.required) or None,
            options=tuple({"name": label, "value": value} for label, value in self.options) or None,
        )


@dataclass(frozen=True)
class Result:
    """One output: the reply field it reads (dotted path) and how it is rendered."""

    name: str
    label: str
    path: str = ""
    """Dotted path into the reply; ``""``: the row's ``reply`` function computes it."""
    render: str = "text"
    """A key of ``_RENDERERS``: text, int, bool, json, time, count, value or tag_map."""
    echo: bool = False
    """The output repeats the input of the same name."""

    def connection(self) -> Connection:
        """The manifest connection for this output."""
        kind = {"int": "integer", "count": "integer", "bool": "boolean", "value": "object"}
        return Connection(self.name, kind.get(self.render, "string"), self.label)


@dataclass(frozen=True)
class Operation:
    """One table-driven action: ``aws/s3/<name>`` calling ``method`` on ``service``."""

    name: str
    title: str
    description: str
    icon: str
    method: str
    params: tuple[Param, ...] = ()
    results: tuple[Result, ...] = ()
    summary: str | Callable[[Values, Outputs, Any], str] = ""
    """``str.format`` text over the inputs and outputs, or a function of them and the reply."""
    service: str = "s3"
    """``s3``, or ``s3control`` (account-level calls: an ``account_id`` input, STS when blank)."""
    request: Callable[[Values], Mapping[str, Any]] | None = None
    """Extra request fields built from the inputs (rules from JSON, tag sets)."""
    reply: Callable[[Values, Any], Outputs] | None = None
    """Extra outputs computed from the inputs and the reply, merged over ``results``."""
    absent: Callable[[Values], Outputs] | None = None
    """The outputs when S3 answers with one of ``absent_codes``: an answer, not a failure."""
    absent_codes: tuple[str, ...] = ()
    pages: bool = False
    """Follow the SDK's paginator and join every page's lists (upstream's NewXPaginator)."""
    untested: str = ""
    """Why the tests cannot run this call against moto (docs/nodes.md shows it)."""
    differences: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def action_id(self) -> str:
        """The node type id."""
        return "aws/s3/" + self.name

    def spec(self) -> ActionSpec:
        """The manifest definition."""
        differences = [
            "auth_method 'credential' is refused",
            "error texts are boto3's",
            *self.differences,
        ]
        if any(result.render == "json" for result in self.results):
            differences.append("JSON outputs hold the fields S3 returned (Go writes absent ones)")
        if self.untested:
            differences.append("not exercised against a peer here: " + self.untested)
        return ActionSpec(
            id=self.action_id,
            name=self.title,
            description=self.description,
            icon=self.icon,
            inputs=(*AUTH_BLOCK, *(param.connection() for param in self.params)),
            outputs=(
                Connection("tool_result", "string", "Result summary"),
                *(result.connection() for result in self.results),
            ),
            extra={"differences": differences, **self.extra},
        )

    def run(self, ctx: ActionContext) -> Outputs:
        """Read the inputs, make the call, shape the reply."""
        values = _read_values(ctx, self.params)
        arguments: dict[str, Any] = {}
        for param in self.params:
            if param.field and param.name in values:
                _put_path(arguments, param.field, values[param.name])
        if self.request is not None:
            arguments.update(self.request(values))
        if self.service == "s3control":
            # Account-level calls: the account_id input, else the credential's account (STS).
            values["account_id"] = values.get("account_id") or _caller_account(ctx)
            arguments["AccountId"] = values["account_id"]
        client = s3_client(ctx, self.service)
        operation = getattr(client, self.method)
        if self.pages:
            operation = _all_pages(client, self.method)
        try:
            reply = call(operation, **arguments)
        except S3Failure as failure:
            if self.absent is None or failure.code not in self.absent_codes:
                raise
            outputs = self.absent(values)
            return {"tool_result": _summary(self.summary, values, outputs, None), **outputs}
        outputs = {
            result.name: values.get(result.name, "")
            if result.echo
            else _RENDERERS[result.render](_get_path(reply, result.path))
            for result in self.results
            if result.echo or result.path
        }
        if self.reply is not None:
            outputs.update(self.reply(values, reply))
        return {"tool_result": _summary(self.summary, values, outputs, reply), **outputs}


def table(*operations: Operation) -> dict[str, tuple[ActionSpec, RunFunction]]:
    """The registry's ``TABLE`` for these rows (``executor/registry.py``, table rule)."""
    rows: dict[str, tuple[ActionSpec, RunFunction]] = {}
    for operation in operations:
        if operation.action_id in rows:
            raise ValueError(f"duplicate table row {operation.action_id}")
        rows[operation.action_id] = (operation.spec(), operation.run)
    return rows


BUCKET = Param("bucket", "Bucket", "Bucket", required="bucket is required", placeholder="my-bucket")
BUCKET_NAME = Param(
    "bucket", "Bucket Name", "Bucket", required="bucket is required", placeholder="my-bucket"
)
KEY = Param(
    "key", "Object Key", "Key", required="key is required", placeholder="path/to/object.txt"
)
VERSION_ID = Param("version_id", "Version ID (optional)", "VersionId")
ACCOUNT_ID = Param(
    "account_id",
    "AWS Account ID",
    placeholder="12-digit account ID; leave blank to auto-detect from the credential",
)


def tags_param(field: str, placeholder: str = "Add a Key and Value per tag") -> Param:
    """The required ``tags`` input (a key/value list) filling ``field``, with upstream's error
    when no tag is given."""
    return Param(
        "tags",
        "Tags",
        field,
        kind="tags",
        required="at least one tag (Key and Value) is required",
        placeholder=placeholder,
    )


def tag_count(values: Values, reply: Any) -> Outputs:
    """``tag_count``: how many tags a ``tags_param`` row applied."""
    return {"tag_count": len(values["tags"])}


def json_list(text: str, name: str, empty: str) -> list[Any]:
    """A JSON array input, with upstream's errors for an invalid (``<name> must be a JSON
    array``) and an empty one (``empty``)."""
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise HardError(f"{name} must be a JSON array: {error}") from None
    if not isinstance(parsed, list):
        raise HardError(f"{name} must be a JSON array")
    if not parsed:
        raise HardError(empty)
    return parsed


def rfc3339(value: Any) -> str:
    """A reply time as Go's ``time.RFC3339`` in UTC (``""`` when absent)."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_order(rows: list[dict[str, Any]]) -> str:
    """JSON of curated rows in their field order (Go marshals a struct's fields in order)."""
    return go_json(rows, sort_keys=False)


def _read_values(ctx: ActionContext, params: tuple[Param, ...]) -> Values:
    values: Values = {}
    for param in params:
        value: Any
        if param.kind == "integer":
            value = read_number(ctx.inputs, param.name)
        elif param.kind == "boolean":
            value = read_bool(ctx.inputs, param.name)
        elif param.kind == "tags":
            pairs = [(kv.key.strip(), kv.value.strip()) for kv in read_kv(ctx.inputs, param.name)]
            value = [{"Key": key, "Value": text} for key, text in pairs if key] or None
        else:
            value = text_input(ctx, param.name).strip() or None
            if value is not None and param.kind == "json":
                value = _parse_json(param.name, value)
        if value is None:
            if param.required:
                raise HardError(param.required)
            continue
        values[param.name] = value
    return values


def _parse_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise HardError(f"{name} must be valid JSON: {error}") from None


def _put_path(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _get_path(source: Any, path: str) -> Any:
    """The value at a dotted path (a digit part indexes a list); None where a part is absent."""
    for part in path.split("."):
        if isinstance(source, Mapping):
            source = source.get(part)
        elif isinstance(source, list) and part.isdigit():
            source = source[int(part)] if int(part) < len(source) else None
        else:
            return None
    return source


def plain(value: Any) -> Any:
    """A reply value as JSON-ready data (times as RFC 3339, response metadata dropped)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _summary(
    summary: str | Callable[[Values, Outputs, Any], str],
    values: Values,
    outputs: Outputs,
    reply: Any,
) -> str:
    if callable(summary):
        return summary(values, outputs, reply)
    return summary.format_map({**values, **outputs})


def _all_pages(client: Any, method: str) -> Callable[..., dict[str, Any]]:
    """One call that reads every page (the SDK's paginator, else ``NextToken``): lists joined,
    other fields from the last page."""

    def pages(arguments: dict[str, Any]) -> Iterator[Any]:
        if client.can_paginate(method):
            yield from client.get_paginator(method).paginate(**arguments)
            return
        while True:
            page = getattr(client, method)(**arguments)
            yield page
            if not page.get("NextToken"):
                return
            arguments = {**arguments, "NextToken": page["NextToken"]}

    def read(**arguments: Any) -> dict[str, Any]:
        joined: dict[str, Any] = {}
        for page in pages(arguments):
            for key, value in page.items():
                if isinstance(value, list):
                    joined.setdefault(key, []).extend(value)
                else:
                    joined[key] = value
        return joined

    return read


def _caller_account(ctx: ActionContext) -> str:
    """The account of the node's credentials (STS GetCallerIdentity)."""
    return str(call(s3_client(ctx, "sts").get_caller_identity)["Account"])
