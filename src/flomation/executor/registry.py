"""The action registry: action id -> module, discovered from the ``actions`` package layout.

An action's module path is its id (``actions/string/upper_case.py`` serves ``string/upper_case``),
so adding a node type is adding one module. Modules are imported only when a flow uses them, which
keeps executor start-up fast; ``all_actions`` imports every module (for ``--manifest``).
Any ``trigger/...`` id without a module of its own is served by ``trigger/webhook``
(docs/flows.md §10.2).

Table rule: actions that differ only in data (the ``aws/s3/*`` API mappings) are rows of one table
instead of one module each. A package's ``_table.py`` defines ``TABLE``, a mapping from action id
to ``(ActionSpec, run)``; an id with no module of its own is looked up in its package's table,
which is imported, like a module, only when a flow uses one of its ids.

Alias rule: an id segment that is a Python keyword (``if``, ``for``, ``while``) cannot be a module
name, so its module carries a trailing underscore: ``actions/conditional/if_.py`` serves
``conditional/if``. The underscored spelling itself (``conditional/if_``) is not an action id.
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from flomation.executor.actions.base import ActionSpec, RunFunction

__all__ = ["Action", "Registry"]

_ACTIONS_PACKAGE = "flomation.executor.actions"
_ACTIONS_DIR = Path(__file__).parent / "actions"
_ID_SEGMENT = re.compile(r"[a-z][a-z0-9_]*")
_GENERIC_TRIGGER = "trigger/webhook"
_TABLE_MODULE = "_table"


@dataclass(frozen=True)
class Action:
    """A loaded action: its manifest definition, its implementation and its source file."""

    spec: ActionSpec
    run: RunFunction
    source: Path


def _load(module: ModuleType) -> Action:
    spec = module.SPEC
    run = module.run
    if not isinstance(spec, ActionSpec) or not callable(run):
        raise TypeError(f"{module.__name__} must define SPEC: ActionSpec and run(ctx)")
    return Action(spec=spec, run=run, source=Path(str(module.__file__)))


def _table_actions(module: ModuleType) -> dict[str, Action]:
    source = Path(str(module.__file__))
    actions: dict[str, Action] = {}
    for action_id, (spec, run) in module.TABLE.items():
        if not isinstance(spec, ActionSpec) or spec.id != action_id or not callable(run):
            raise TypeError(f"{module.__name__}: TABLE[{action_id!r}] must be (ActionSpec, run)")
        actions[action_id] = Action(spec=spec, run=run, source=source)
    return actions


def _is_id_segment(segment: str) -> bool:
    if not _ID_SEGMENT.fullmatch(segment):
        return False
    # "if_" is only the module spelling of "if"; it is not itself an id segment.
    return not (segment.endswith("_") and keyword.iskeyword(segment[:-1]))


def _module_segment(segment: str) -> str:
    """The module name serving an id segment (keywords get a trailing underscore)."""
    return segment + "_" if keyword.iskeyword(segment) else segment


def _id_segment(module_segment: str) -> str:
    """The id segment a module name serves (inverse of ``_module_segment``)."""
    stripped = module_segment[:-1]
    return (
        stripped if module_segment.endswith("_") and keyword.iskeyword(stripped) else module_segment
    )


def _find_module(module_name: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(module_name)


class Registry:
    """Finds actions by id, importing each module at most once."""

    def __init__(self) -> None:
        self._cache: dict[str, Action | None] = {}

    def find(self, action_id: str) -> Action | None:
        """The action for ``action_id``, or None when this executor does not implement it."""
        if action_id in self._cache:
            return self._cache[action_id]
        action = self._import(action_id)
        if action is None and action_id.startswith("trigger/") and action_id != _GENERIC_TRIGGER:
            action = self.find(_GENERIC_TRIGGER)
        self._cache[action_id] = action
        return action

    def _import(self, action_id: str) -> Action | None:
        segments = action_id.split("/")
        if len(segments) < 2 or not all(_is_id_segment(s) for s in segments):
            return None
        module_segments = [_module_segment(s) for s in segments]
        module = _find_module(_ACTIONS_PACKAGE + "." + ".".join(module_segments))
        if module is not None:
            return _load(module)
        package = ".".join([_ACTIONS_PACKAGE, *module_segments[:-1]])
        table = _find_module(package + "." + _TABLE_MODULE)
        return None if table is None else _table_actions(table).get(action_id)

    def all_actions(self) -> list[Action]:
        """Every implemented action, sorted by id."""
        found: list[Action] = []
        for path in sorted(_ACTIONS_DIR.rglob("*.py")):
            relative = path.relative_to(_ACTIONS_DIR).with_suffix("")
            if relative.name == _TABLE_MODULE:
                module_name = ".".join((_ACTIONS_PACKAGE, *relative.parts))
                found.extend(_table_actions(importlib.import_module(module_name)).values())
                continue
            if relative.name.startswith("_") or relative.parts == ("base",):
                continue
            action = self.find("/".join(_id_segment(part) for part in relative.parts))
            if action is not None:
                found.append(action)
        return sorted(found, key=lambda action: action.spec.id)
