"""The action registry: action id -> module, discovered from the ``actions`` package layout.

An action's module path is its id (``actions/string/upper_case.py`` serves ``string/upper_case``),
so adding a node type is adding one module. Modules are imported only when a flow uses them, which
keeps executor start-up fast; ``all_actions`` imports every module (for ``--manifest``).
Any ``trigger/...`` id without a module of its own is served by ``trigger/webhook`` (§10.2).
"""

from __future__ import annotations

import importlib
import importlib.util
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
        if len(segments) < 2 or not all(_ID_SEGMENT.fullmatch(s) for s in segments):
            return None
        module_name = _ACTIONS_PACKAGE + "." + ".".join(segments)
        try:
            if importlib.util.find_spec(module_name) is None:
                return None
        except ModuleNotFoundError:
            return None
        return _load(importlib.import_module(module_name))

    def all_actions(self) -> list[Action]:
        """Every implemented action, sorted by id."""
        found: list[Action] = []
        for path in sorted(_ACTIONS_DIR.rglob("*.py")):
            relative = path.relative_to(_ACTIONS_DIR).with_suffix("")
            if relative.name.startswith("_") or relative.parts == ("base",):
                continue
            action = self.find("/".join(relative.parts))
            if action is not None:
                found.append(action)
        return sorted(found, key=lambda action: action.spec.id)
