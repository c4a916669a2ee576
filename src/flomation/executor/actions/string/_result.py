"""What the string actions share: input reading, the result shape and Go's text rules."""

from __future__ import annotations

from collections.abc import Callable

from flomation.executor.accessors import read_string
from flomation.executor.actions.base import ActionContext, Connection, Outputs

__all__ = [
    "CHARACTERS_INPUT",
    "END_WHITESPACE",
    "GO_WHITESPACE",
    "VALUE_INPUT",
    "failure",
    "outputs_for",
    "simple_case",
    "success",
    "text_input",
    "trimmed",
]

# Go's unicode.IsSpace set (Python's str.isspace also counts U+001C..U+001F).
GO_WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# What upstream's trim_start and trim_end strip (strings.TrimLeft/TrimRight with this set); trim
# strips all of GO_WHITESPACE (strings.TrimSpace).
END_WHITESPACE = " \t\n\r"

VALUE_INPUT = Connection("value", "string", "Input String", placeholder="Text", required=True)
CHARACTERS_INPUT = Connection(
    "characters", "string", "Characters to Remove", placeholder="Whitespace"
)


def outputs_for(result_label: str, result_type: str = "string") -> tuple[Connection, ...]:
    """The manifest outputs shared by the string actions."""
    return (
        Connection("tool_result", "string", "Result"),
        Connection("result", result_type, result_label),
        Connection("success", "boolean", "Success"),
        Connection("error", "string", "Error"),
    )


def text_input(ctx: ActionContext, name: str) -> str:
    """str(name): the String accessor, with a missing or unreadable input as ``""``."""
    return read_string(ctx.inputs, name) or ""


def success(result: str) -> Outputs:
    """The outputs of a string action that produced ``result``."""
    return {"tool_result": result, "result": result, "success": True, "error": ""}


def failure(message: str) -> Outputs:
    """A soft failure: the flow continues, ``error`` says why."""
    return {"tool_result": "", "result": "", "success": False, "error": message}


# Python's full case mapping expands these to two characters; Go's simple mapping does not.
_SIMPLE_LOWER_EXCEPTIONS = {"\u0130": "i"}


def simple_case(text: str, upper: bool) -> str:
    """Go's strings.ToUpper/ToLower: one character maps to one (``ß`` stays ``ß``).

    Characters whose only Unicode mapping expands to several characters stay unchanged, as in
    Go; no context rules (such as a final sigma) apply.
    """
    if text.isascii():
        return text.upper() if upper else text.lower()
    mapped = []
    for char in text:
        if not upper and char in _SIMPLE_LOWER_EXCEPTIONS:
            mapped.append(_SIMPLE_LOWER_EXCEPTIONS[char])
            continue
        changed = char.upper() if upper else char.lower()
        mapped.append(changed if len(changed) == 1 else char)
    return "".join(mapped)


def trimmed(ctx: ActionContext, strip: Callable[[str, str], str], whitespace: str) -> Outputs:
    """``value`` with any of ``characters`` (``whitespace`` when empty) removed by ``strip``."""
    characters = text_input(ctx, "characters") or whitespace
    return success(strip(text_input(ctx, "value"), characters))
