"""Variable substitution in node inputs (docs/flows.md §5).

For each configured input: auto-wire from the last parent, then template strings (structures leaf
by leaf): a whole-value ``${ref}`` keeps the referenced value's type, otherwise every ``${...}``
token is replaced by its rendering in one left-to-right pass. Unresolvable ``env``/``secret``/
``credentials`` tokens (and ``flow``/``user`` without a context) stay literal; anything else
unresolvable becomes ``""``.

No substitution produces a string longer than ``max_value_bytes`` (UTF-8): a flow that doubles
a variable in a loop would otherwise fill the memory and end without a state.json
(docs/security.md). The limit is checked as the text grows, before the next piece is added,
and the node fails with an error naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from flomation.executor.accessors import Input
from flomation.executor.context import ExecutionContext
from flomation.executor.gojson import go_json, go_json_string
from flomation.wire.masking import MIN_SECRET_CHARS

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "EnvironmentResolver",
    "Namespace",
    "ParentScope",
    "Substituter",
    "ValueTooLargeError",
    "render",
    "walk_path",
]

_WHOLE_VALUE = re.compile(r"\$\{([^{}]+)\}")
_TOKEN = re.compile(r"\$\{[^{}]*\}")
_SEGMENT = re.compile(r"([^\[\]]*)((?:\[-?[0-9]+\])*)")
_INDEX = re.compile(r"\[(-?[0-9]+)\]")
_NOT_WHOLE_VALUE = ("env.", "flow.", "var.", "secret.", "secrets.", "credentials.")
_MISSING = object()

Namespace = Literal["env", "secret", "credentials"]
DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024


class ValueTooLargeError(Exception):
    """A substitution would produce a value over the limit; the text names input and limit."""


def _utf8_length_over(text: str, limit: int) -> bool:
    """Whether ``text`` takes more than ``limit`` bytes in UTF-8 (encoding only when unsure)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


class EnvironmentResolver(Protocol):
    """The environment client (§8): a value, or None to leave the ``${...}`` literal."""

    def resolve(self, namespace: Namespace, name: str, key: str | None) -> str | None:
        """Resolve ``env.NAME``, ``secret.NAME`` or ``credentials.NAME[.KEY]``."""


@dataclass(slots=True)
class ParentScope:
    """What a node's inputs can see of its parents (§4.4 step 4)."""

    flat: dict[str, Any]
    scoped: dict[str, Any]
    last: Mapping[str, Any] | None


def render(value: Any) -> str:
    """Substitution rendering: null → ``""``, strings as is, anything else Go-JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else go_json(value)


def _step_into(current: Any) -> Any:
    """A string that parses as JSON is parsed before the next path step (§5.3)."""
    if isinstance(current, str):
        try:
            return json.loads(current)
        except ValueError:
            return current
    return current


def walk_path(value: Any, path: str) -> tuple[bool, Any]:
    """Follow ``a.b[0].c`` from ``value``; (False, None) when any step does not resolve."""
    if not path:
        return True, value
    current = value
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            return False, None
        member, indices = match.groups()
        if member:
            current = _step_into(current)
            if not isinstance(current, dict) or member not in current:
                return False, None
            current = current[member]
        for index_text in _INDEX.findall(indices):
            current = _step_into(current)
            index = int(index_text)
            if not isinstance(current, list) or not 0 <= index < len(current):
                return False, None
            current = current[index]
    return True, current


class Substituter:
    """Resolves a node's configured inputs into typed values."""

    def __init__(
        self,
        *,
        variables: Mapping[str, Any],
        context: ExecutionContext | None,
        environment: EnvironmentResolver | None,
        node_outputs: Callable[[str], Mapping[str, Any] | None],
        log: Callable[..., None],
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self._max_value_bytes = max_value_bytes
        self.secret_values: set[str] = set()  # ${secret.*} / ${credentials.*} values resolved
        self._variables = variables
        self._context = context
        self._environment = environment
        self._node_outputs = node_outputs
        self._log = log

    def resolve_inputs(
        self, connections: Sequence[Mapping[str, Any]], scope: ParentScope
    ) -> list[Input]:
        """The resolved ``{name, type, value}`` of every configured input, in order."""
        resolved: list[Input] = []
        for connection in connections:
            name = connection["name"]
            input_type = connection.get("type")
            input_type = input_type if isinstance(input_type, str) else ""
            value = connection.get("value")
            if (value is None or value == "") and scope.last is not None and name in scope.last:
                value = scope.last[name]
            try:
                templated = self.template(value, scope, input_type == "rows")
            except ValueTooLargeError as error:
                raise ValueTooLargeError(f"input {name!r}: {error}") from None
            resolved.append(Input(name, input_type, templated))
        return resolved

    def template(self, value: Any, scope: ParentScope, rows: bool = False) -> Any:
        """Template one value: strings, and the string leaves of lists and objects."""
        if isinstance(value, str):
            return self._template_string(value, scope, rows)
        if isinstance(value, dict):
            return {key: self.template(item, scope, rows) for key, item in value.items()}
        if isinstance(value, list):
            return [self.template(item, scope, rows) for item in value]
        return value

    def _template_string(self, text: str, scope: ParentScope, rows: bool) -> Any:
        if "${" not in text:
            return text
        whole = _WHOLE_VALUE.fullmatch(text.strip())
        if whole is not None:
            name = whole.group(1).strip()
            if not name.startswith(_NOT_WHOLE_VALUE):
                found, value = self.resolve_reference(name, scope)
                if found and value is not None and not isinstance(value, str):
                    return value

        limit = self._max_value_bytes
        room = [limit - len(text)]  # characters still allowed; a character is 1 byte or more

        def replace(match: re.Match[str]) -> str:
            literal = match.group(0)
            replacement = self._resolve_token(literal[2:-1].strip(), scope)
            if replacement is None:
                return literal
            if rows:
                replacement = go_json_string(replacement)[1:-1]
            room[0] -= len(replacement) - len(literal)
            if room[0] < 0:
                raise ValueTooLargeError(self._too_large())
            return replacement

        result = _TOKEN.sub(replace, text)
        if _utf8_length_over(result, limit):
            raise ValueTooLargeError(self._too_large())
        return result

    def _too_large(self) -> str:
        return (
            f"substituted value larger than the limit of {self._max_value_bytes} bytes"
            " (-max-value-bytes)"
        )

    def _resolve_token(self, name: str, scope: ParentScope) -> str | None:
        """The replacement text of a token, or None to leave it literally in place."""
        head, dot, rest = name.partition(".")
        if dot:
            if head == "env":
                return self._environment_value("env", rest, None)
            if head in ("secret", "secrets"):
                return self._environment_value("secret", rest, None)
            if head == "credentials":
                credential, _, key = rest.partition(".")
                return self._environment_value("credentials", credential, key or None)
            if head == "flow":
                return None if self._context is None else self._context.flow_value(rest)
            if head == "user":
                return None if self._context is None else self._context.user_value(rest)
            if head == "var":
                return render(self._variable(rest))
        found, value = self.resolve_reference(name, scope)
        if not found:
            if not dot:
                self._log("warning", "unresolved variable", name=name)
            return ""
        return render(value)

    def _environment_value(self, namespace: Namespace, name: str, key: str | None) -> str | None:
        if self._environment is None or not name:
            return None
        try:
            value = self._environment.resolve(namespace, name, key)
        except Exception as error:  # the client must never break substitution
            self._log(
                "warning",
                "unable to resolve environment value",
                name=name,
                namespace=namespace,
                error=f"{type(error).__name__}: {error}",
            )
            return None
        if value is not None and namespace != "env" and len(value) >= MIN_SECRET_CHARS:
            # Secrets and credentials: masked in everything the run reports from now on
            # (engine.py, docs/security.md). Properties (env.*) are configuration, not secrets.
            self.secret_values.add(value)
        return value

    def _variable(self, path: str) -> Any:
        """``var.NAME[.path]``: the whole remainder as a name first, then name + path."""
        if path in self._variables:
            return self._variables[path]
        match = re.match(r"[^.\[]*", path)
        name = match.group(0) if match else path
        if name not in self._variables:
            return None
        found, value = walk_path(self._variables[name], path[len(name) :].lstrip("."))
        return value if found else None

    def resolve_reference(self, reference: str, scope: ParentScope) -> tuple[bool, Any]:
        """A reference (§5.3): parent results first, then ``nodeId.path`` (run on demand)."""
        value = scope.flat.get(reference, _MISSING)
        if value is _MISSING:
            value = scope.scoped.get(reference, _MISSING)
        if value is not _MISSING:
            return True, value
        node_id, dot, path = reference.partition(".")
        if not dot:
            return False, None
        outputs = self._node_outputs(node_id)
        if outputs is None:
            return False, None
        return walk_path(outputs, path)
