"""Variable substitution (docs/flows.md §5) on the Substituter itself.

Test docstrings starting ``C<n>:`` pin the numbered rules of docs/flows.md §12.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from flomation.executor.context import ExecutionContext
from flomation.executor.substitution import Namespace, ParentScope, Substituter, walk_path


class _Environment:
    """A small in-memory environment: known names resolve, others stay literal (None)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    def resolve(self, namespace: Namespace, name: str, key: str | None) -> str | None:
        self.calls.append((namespace, name, key))
        values = {("env", "FOO"): "foo", ("secret", "API"): "s3cr3t", ("credentials", "gh"): "tok"}
        if namespace == "credentials" and key is not None:
            return "meta-" + key if name == "gh" else None
        return values.get((namespace, name))


class _Harness:
    def __init__(
        self,
        *,
        outputs: Mapping[str, Mapping[str, Any]] | None = None,
        variables: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        environment: _Environment | None = None,
    ) -> None:
        self.node_outputs = dict(outputs or {})
        self.looked_up: list[str] = []
        self.logs: list[tuple[str, str, dict[str, Any]]] = []
        self.substituter = Substituter(
            variables=variables or {},
            context=ExecutionContext(context) if context is not None else None,
            environment=environment,
            node_outputs=self._outputs,
            log=self._log,
        )

    def _outputs(self, node_id: str) -> Mapping[str, Any] | None:
        self.looked_up.append(node_id)
        return self.node_outputs.get(node_id)

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.logs.append((level, message, fields))

    def template(
        self, raw: Any, parents: Mapping[str, Any] | None = None, rows: bool = False
    ) -> Any:
        flat = dict(parents or {})
        scoped = {f"p.{key}": item for key, item in flat.items()}
        return self.substituter.template(raw, ParentScope(flat, scoped, flat), rows)


def test_unresolved_tokens_become_empty() -> None:
    """C6: '${x}' unknown gives '', and '${missing.key}' gives ''."""
    harness = _Harness()
    assert harness.template("before ${x} after") == "before  after"
    assert harness.template("${missing.key}") == ""
    assert harness.logs == [("warning", "unresolved variable", {"name": "x"})]


def test_literals_kept_without_environment_or_context() -> None:
    """C7/C8: env, secret(s), credentials stay literal without an environment; flow/user too."""
    harness = _Harness()
    text = "${env.FOO}|${secret.BAR}|${secrets.B}|${credentials.gh}|${flow.flow_id}|${user.u}"
    assert harness.template(text) == text


def test_environment_values_resolve_and_unknown_stay_literal() -> None:
    """Environment tokens go through the client; None leaves the literal token."""
    environment = _Environment()
    harness = _Harness(environment=environment)
    result = harness.template(
        "${env.FOO} ${ secret.API } ${credentials.gh} ${credentials.gh.login} ${env.NOPE}"
    )
    assert result == "foo s3cr3t tok meta-login ${env.NOPE}"
    assert ("credentials", "gh", "login") in environment.calls


def test_flow_and_user_values_with_context() -> None:
    """C8: with a context flow.* reads its fields, unknown names give ''; user.* reads variables."""
    context = {"flow_id": "f1", "sequence": 42, "token": "hidden", "user_variables": {"n": 3}}
    harness = _Harness(context=context)
    assert (
        harness.template("${flow.flow_id}|${flow.sequence}|${flow.token}|${flow.nope}") == "f1|42||"
    )
    assert harness.template("${user.n}|${user.missing}") == "3|"
    assert harness.template("${flow.identities}") == "[]"


def test_whole_value_reference_keeps_its_type() -> None:
    """C9: a lone ${ref} to a non-string value keeps the type; with text around it renders."""
    harness = _Harness()
    parents = {"items": [1, 2, 3], "n": 5, "flag": True, "none": None}
    assert harness.template("${items}", parents) == [1, 2, 3]
    assert harness.template("  ${ items }  ", parents) == [1, 2, 3]
    assert harness.template("${p.items}", parents) == [1, 2, 3]
    assert harness.template("${n}", parents) == 5
    assert harness.template("${flag}", parents) is True
    assert harness.template("${none}", parents) == ""
    assert harness.template("x ${items}", parents) == "x [1,2,3]"


def test_rendering_inside_text() -> None:
    """C10: objects render as sorted Go-JSON with <>& escaped; null as ''; true as true."""
    harness = _Harness()
    parents = {"obj": {"b": "<&>", "a": 1}, "nothing": None, "yes": True, "f": 2.50}
    assert harness.template("${obj}|${nothing}|${yes}|${f}", parents) == (
        '{"a":1,"b":"\\u003c\\u0026\\u003e"}||true|2.5'
    )


def test_reference_paths_and_json_strings() -> None:
    """§5.3: node paths walk objects and [i] indices; JSON strings are parsed between steps."""
    outputs: dict[str, dict[str, Any]] = {
        "web": {"response_body": '{"user": {"id": 7, "tags": ["a", "b"]}}'},
        "n": {"profile": {"langs": ["en", "fr"]}},
    }
    harness = _Harness(outputs=outputs)
    assert harness.template("${web.response_body.user.id}") == 7
    assert harness.template("${web.response_body.user.tags[1]}") == "b"
    assert harness.template("${n.profile.langs[1]}") == "fr"
    assert harness.template("[${n.profile.langs[5]}][${n.profile.langs[-1]}]") == "[][]"
    assert harness.template("${web.response_body}") == outputs["web"]["response_body"]


def test_variables_with_dotted_names_and_paths() -> None:
    """§5.2: var.loop.index is a whole name first; var.NAME.path walks into the value."""
    harness = _Harness(variables={"loop.index": 2, "cfg": {"a": [10, 20]}})
    assert harness.template("${var.loop.index}") == "2"
    assert harness.template("${var.cfg.a[1]}|${var.cfg.b}|${var.none}") == "20||"
    assert harness.template("${var.cfg}") == '{"a":[10,20]}'


def test_rows_inputs_escape_replacements_only() -> None:
    """§5.5: rows inputs JSON-escape each replacement; literals left in place are not escaped."""
    harness = _Harness()
    parents = {"q": 'a"b\n'}
    assert (
        harness.template('["${q}", "${env.X}"]', parents, rows=True) == '["a\\"b\\n", "${env.X}"]'
    )


def test_structures_are_templated_leaf_by_leaf() -> None:
    """§5.1: lists and objects keep their structure; each string leaf is templated."""
    harness = _Harness()
    parents = {"items": [1], "name": "Ada"}
    raw = {"greet": "hi ${name}", "list": ["${items}", 3, None], "n": 1}
    assert harness.template(raw, parents) == {"greet": "hi Ada", "list": [[1], 3, None], "n": 1}
    assert raw["greet"] == "hi ${name}"


def test_single_pass_replacement() -> None:
    """Replacement text is not scanned again for tokens."""
    harness = _Harness()
    assert harness.template("${a}", {"a": "${b}", "b": "no"}) == "${b}"


def test_non_string_values_pass_through() -> None:
    """Numbers, booleans and null are untouched."""
    harness = _Harness()
    assert harness.template(5) == 5
    assert harness.template(None) is None


@pytest.mark.parametrize(
    ("path", "found", "expected"),
    [
        ("a", True, {"b": [1, {"c": 2}]}),
        ("a.b[1].c", True, 2),
        ("a.b[2]", False, None),
        ("a.x", False, None),
        ("", True, {"a": {"b": [1, {"c": 2}]}}),
        ("a.b[0][0]", False, None),
    ],
)
def test_walk_path(path: str, found: bool, expected: Any) -> None:
    """Paths select object members and list elements; a miss reports not found."""
    assert walk_path({"a": {"b": [1, {"c": 2}]}}, path) == (found, expected)
