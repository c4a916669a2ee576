"""Bootstrap program for ``script/python``: runs the user's code as a function body.

Started as ``python -I -u _python_bootstrap.py <request fd> <result fd>`` by ``_function``; it is
never imported by the executor. The request fd holds ``{"code", "inputs"}`` as JSON. The code is
parsed and its statements become the body of ``def __flomation_script__(inputs, outputs)`` (built
from the syntax tree, so line numbers stay the user's and a top-level ``return`` is legal). The
result is written as JSON to the result fd, never to stdout, which belongs to the user's prints:
``{"ok": true, "outputs": {...}, "returned": <value>}`` or
``{"ok": false, "error": "<Type>: <msg>"}``.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import sys
import traceback
from typing import Any

__all__ = ["main"]

_FUNCTION_NAME = "__flomation_script__"
_FILENAME = "<script>"


def _exception_line(exc: BaseException) -> str:
    # The last entry of format_exception_only is "<Type>: <message>" (earlier entries of a
    # SyntaxError show the offending source line).
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _run_user_code(code: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> Any:
    user_tree = ast.parse(code, filename=_FILENAME)
    wrapper = ast.parse(f"def {_FUNCTION_NAME}(inputs, outputs):\n    pass\n")
    function = wrapper.body[0]
    assert isinstance(function, ast.FunctionDef)
    if user_tree.body:
        function.body = user_tree.body
    ast.fix_missing_locations(wrapper)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(wrapper, _FILENAME, "exec"), namespace)
    try:
        return namespace[_FUNCTION_NAME](inputs, outputs)
    except SystemExit as exc:
        if exc.code is None or exc.code == 0:
            return None  # sys.exit() / sys.exit(0) ends the script normally
        raise


def _payload(request: dict[str, Any]) -> str:
    outputs: dict[str, Any] = {}
    try:
        returned = _run_user_code(str(request["code"]), request["inputs"], outputs)
        # Values that JSON cannot hold are sent as their str() (docs/flows.md §10.7 step 7).
        return json.dumps({"ok": True, "outputs": outputs, "returned": returned}, default=str)
    except BaseException as exc:
        return json.dumps({"ok": False, "error": _exception_line(exc)})


def main(argv: list[str]) -> int:
    """Read the request, run the code, write the result; the exit code is always 0."""
    request_fd, result_fd = int(argv[1]), int(argv[2])
    with os.fdopen(request_fd, "rb") as request_file:
        request = json.loads(request_file.read())
    payload = _payload(request)
    sys.stdout.flush()
    sys.stderr.flush()
    with os.fdopen(result_fd, "w", encoding="utf-8") as result_file:
        result_file.write(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
