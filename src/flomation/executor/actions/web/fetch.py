"""``web/fetch``: GET a page and reduce its HTML to text (docs/flows.md §10.6).

The reduction uses the same regular expressions as upstream, not an HTML parser, so that the text
handed to AI tools is identical: drop ``<script>``/``<style>`` elements, replace every tag with a
newline, collapse runs of three or more newlines to two, trim.
"""

from __future__ import annotations

from flomation.executor.accessors import read_number, read_string
from flomation.executor.actions.base import (
    ActionContext,
    ActionSpec,
    Connection,
    HardError,
    Outputs,
)
from flomation.executor.actions.web._transfer import TransferError, transfer
from flomation.executor.goregexp import compile_go

__all__ = ["SPEC", "html_text", "html_title", "run"]

SPEC = ActionSpec(
    id="web/fetch",
    name="Web Fetch",
    description="Fetch a URL and extract the text content",
    icon="globe+arrow-down",
    inputs=(
        Connection("url", "string", label="URL", placeholder="https://example.com", required=True),
        Connection(
            "max_length", "integer", label="Max Content Length", placeholder="10000", default=10000
        ),
    ),
    outputs=(
        Connection("tool_result", "string", label="Page Content (text)"),
        Connection("content", "string", label="Page Content (text)"),
        Connection("title", "string", label="Page Title"),
        Connection("status_code", "integer", label="HTTP Status"),
        Connection("success", "boolean", label="Success"),
        Connection("error", "string", label="Error"),
    ),
    extra={
        "differences": [
            "the text is cut at a character boundary within `max_length` bytes (upstream cuts "
            "the bytes, and a character cut in half shows as U+FFFD)"
        ]
    },
)

_USER_AGENT = "Flomation/1.0 (AI Agent Tool)"
_TIMEOUT_S = 30
_MAX_BODY_BYTES = 5 << 20
_DEFAULT_MAX_LENGTH = 10000
_TRUNCATED_MARK = "\n\n[Content truncated]"
# Upstream strips tags with Go regexps (flomation-co/executor: actions/web/fetch/action.go), so
# these are RE2 patterns too (executor/goregexp.py), compiled on first use.
_SCRIPT = r"(?is)<script[^>]*>.*?</script>"
_STYLE = r"(?is)<style[^>]*>.*?</style>"
_TAG = r"<[^>]+>"
_BLANK_RUN = r"\n{3,}"
_TITLE = r"(?is)<title[^>]*>(.*?)</title>"


def html_title(html: str) -> str:
    """Inner text of the first ``<title>``, tags stripped, trimmed; ``""`` when there is none."""
    match = compile_go(_TITLE).search(html)
    return str(compile_go(_TAG).sub("", match.group(1))).strip() if match else ""


def html_text(html: str, max_length_bytes: int) -> str:
    """The page text, cut to ``max_length_bytes`` (on a character boundary) plus a marker."""
    text = compile_go(_STYLE).sub("", compile_go(_SCRIPT).sub("", html))
    text = str(compile_go(_BLANK_RUN).sub("\n\n", compile_go(_TAG).sub("\n", text))).strip()
    encoded = text.encode("utf-8")
    if len(encoded) > max_length_bytes:
        # The text is valid UTF-8, so ignoring errors only drops a character cut in half.
        return encoded[:max_length_bytes].decode("utf-8", "ignore") + _TRUNCATED_MARK
    return text


def _soft_failure(tool_result: str, status_code: int, error: str) -> Outputs:
    return {
        "tool_result": tool_result,
        "content": "",
        "title": "",
        "status_code": status_code,
        "success": False,
        "error": error,
    }


def run(ctx: ActionContext) -> Outputs:
    """Fetch the URL; transport errors and non-200 statuses are soft failures."""
    url = read_string(ctx.inputs, "url")
    if not url:
        raise HardError("url is required")
    max_length = read_number(ctx.inputs, "max_length")
    if max_length is None or max_length <= 0:
        max_length = _DEFAULT_MAX_LENGTH
    try:
        response = transfer(
            "GET",
            url,
            headers={"User-Agent": _USER_AGENT},
            body=None,
            timeout_s=_TIMEOUT_S,
            max_body_bytes=_MAX_BODY_BYTES,
            cancel_event=ctx.cancel_event,
        )
    except TransferError as exc:
        return _soft_failure(f"Failed to fetch URL: {exc}", 0, str(exc))
    if response.status != 200:
        return _soft_failure(
            f"HTTP {response.status} from {url}", response.status, f"HTTP {response.status}"
        )
    html = response.body.decode("utf-8", "replace")
    text = html_text(html, max_length)
    return {
        "tool_result": text,
        "content": text,
        "title": html_title(html),
        "status_code": response.status,
        "success": True,
        "error": "",
    }
