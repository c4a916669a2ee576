"""Go ``regexp`` semantics for actions whose upstream uses Go's ``regexp`` package.

Go's regular expressions are RE2: no look-around, no back-references, linear-time matching. A
pattern Python's ``re`` accepts (``a(?=b)``) is invalid there and must not match, so these actions
use Google's RE2 through ``google-re2`` instead of ``re``. The binding is imported on first use:
executor start-up does not pay for it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["GoRegexpError", "compile_go", "match_string"]


class GoRegexpError(ValueError):
    """The pattern is not valid RE2 syntax (Go's ``regexp.Compile`` would fail)."""


@lru_cache(maxsize=64)
def compile_go(pattern: str) -> Any:
    """The compiled RE2 pattern; GoRegexpError when Go's ``regexp.Compile`` rejects it."""
    import re2  # lazily: see the module docstring

    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print parse errors on stderr
    try:
        return re2.compile(pattern, options=options)
    except re2.error as error:
        message = error.args[0] if error.args else error
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise GoRegexpError(str(message)) from None


def match_string(pattern: str, text: str) -> bool:
    """Go's ``regexp.MatchString``: True when ``pattern`` matches anywhere in ``text``.

    Raises GoRegexpError for a pattern Go would reject.
    """
    return compile_go(pattern).search(text) is not None
