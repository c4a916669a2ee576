"""docs/nodes.md and the flow JSON Schema stay equal to what the action registry generates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from flomation.executor.catalogue import (
    SCHEMA_PATH,
    catalogue_from_registry,
    load_catalogue,
    load_upstream,
    render_schema,
)
from flomation.executor.reference import not_run_yet, render_nodes_doc
from flomation.executor.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "stale: run `make reference` (python -m flomation.executor.reference)"


def test_nodes_doc_is_generated_from_the_registry() -> None:
    """docs/nodes.md is exactly what the generator makes from the current registry."""
    catalogue = catalogue_from_registry(Registry())
    expected = render_nodes_doc(catalogue, load_upstream())
    assert (ROOT / "docs" / "nodes.md").read_text(encoding="utf-8") == expected, REGENERATE


def test_schema_is_generated_from_the_registry() -> None:
    """The published flow.schema.json is exactly what the generator makes from the registry."""
    expected = render_schema(catalogue_from_registry(Registry()))
    assert SCHEMA_PATH.read_text(encoding="utf-8") == expected, REGENERATE


def test_catalogue_read_from_the_schema_equals_the_registry() -> None:
    """Validation's catalogue (read from the schema) is the registry's, field for field."""
    assert load_catalogue(SCHEMA_PATH) == catalogue_from_registry(Registry())


def test_not_run_yet_excludes_what_runs_here() -> None:
    """No node type this executor runs is listed as not run yet; upstream's own ones are there."""
    catalogue = catalogue_from_registry(Registry())
    missing = not_run_yet(catalogue, load_upstream())
    assert not set(missing) & set(catalogue)
    assert "slack/send_message" in missing and "ai/openwebui" in missing
    assert not any(node_id.startswith("trigger/") for node_id in missing)
    # Every node type this executor runs is one upstream has: in its registry
    # (flomation-co/executor: actions/actions_generated.go), or an action directory that
    # registry version does not list yet (actions/ai/azure_openai/action.go,
    # actions/output/discord_webhook/action.go, actions/output/slack_webhook/action.go,
    # actions/sql/query/action.go, actions/web/download/action.go; upstream_node_types.txt
    # lists the aws/s3 directories).
    newer_than_registry = {
        "ai/azure_openai",
        "output/discord_webhook",
        "output/slack_webhook",
        "sql/query",
        "web/download",
    }
    assert set(catalogue) <= load_upstream() | newer_than_registry


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_examples_conform_to_the_schema() -> None:
    """Every example flow is valid against the published schema (what an editor checks)."""
    validator = _validator()
    for example in sorted((ROOT / "examples").glob("*.flow.json")):
        document = json.loads(example.read_text(encoding="utf-8"))
        errors = [error.message for error in validator.iter_errors(document)]
        assert errors == [], (example.name, errors)


def test_schema_rejects_the_traps_an_editor_can_see() -> None:
    """The schema flags a conditional with config type 2 and an integer input typed string."""
    validator = _validator()
    document = json.loads((ROOT / "examples" / "condition.flow.json").read_text(encoding="utf-8"))
    document["nodes"][1]["data"]["config"]["type"] = 2
    assert not validator.is_valid(document)
    loop = json.loads((ROOT / "examples" / "loop.flow.json").read_text(encoding="utf-8"))
    assert validator.is_valid(loop)
    for flow_node in loop["nodes"]:
        for connection in flow_node["data"]["config"]["inputs"]:
            if connection.get("type") == "integer":
                connection["type"] = "string"
    assert not validator.is_valid(loop)


def _audit_rows() -> list[tuple[str, str, str]]:
    """(action id, verdict, evidence) of each row of docs/upstream-audit.md's table."""
    rows = []
    for line in (ROOT / "docs" / "upstream-audit.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


def test_audit_table_names_real_actions_and_tests() -> None:
    """Each audit row is a node type that runs here, once; each test it cites exists.

    A row whose verdict includes a deliberate difference belongs to a node whose reference
    entry says how it differs from upstream.
    """
    catalogue = catalogue_from_registry(Registry())
    rows = _audit_rows()
    ids = [action for action, _, _ in rows]
    assert len(ids) == len(set(ids))
    test_sources = {
        path.name: path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("test_*.py")
    }
    for action, verdict, evidence in rows:
        assert action in catalogue, action
        if "deliberate difference" in verdict:
            assert catalogue[action].differences, action
        for file_name, test_name in re.findall(r"`(test_\w+\.py)::(test_\w+)`", evidence):
            assert f"def {test_name}(" in test_sources[file_name], (action, test_name)
        for test_name in re.findall(r"`(test_\w+)`", evidence):
            assert any(f"def {test_name}(" in text for text in test_sources.values()), test_name
