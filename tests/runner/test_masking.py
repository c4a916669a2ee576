"""Secret masking of executor output."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import itertools
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from flomation.runner.logging import configure_logging
from flomation.runner.process import ExecutorProcess
from flomation.wire.masking import SecretMasker


def test_no_secrets_returns_text_unchanged() -> None:
    """Without secrets (or with only blank ones) the very same string comes back."""
    text = "nothing to hide"
    for masker in (SecretMasker([]), SecretMasker(["", "  ", "\n"])):
        assert masker.mask(text) is text
        assert masker.secret_count == 0


def test_every_occurrence_of_every_secret_is_replaced() -> None:
    """All occurrences of all secrets are replaced by the replacement text."""
    masker = SecretMasker(["hunter2", "s3cr3t"])
    assert masker.mask("a hunter2 b s3cr3t c hunter2") == "a ******** b ******** c ********"
    assert masker.mask("no secret here") == "no secret here"


def test_overlapping_and_nested_secrets_are_fully_hidden() -> None:
    """Overlapping secrets leave no character behind; a longer secret wins over its prefix."""
    masker = SecretMasker(["abc", "bcd", "token", "token-long"], replacement="#")
    assert masker.mask("xabcdy") == "x#y"
    assert masker.mask("my token-long!") == "my #!"
    assert masker.mask("abcabc") == "##"


def test_regex_metacharacters_are_literal() -> None:
    """Secrets are matched literally, not as regular expressions."""
    masker = SecretMasker(["a.b*c", "(x|y)"])
    assert masker.mask("a.b*c axbbc (x|y) x") == "******** axbbc ******** x"


def test_multiline_secret_masked_line_by_line() -> None:
    """Each line of a multi-line secret (a PEM key) is masked where it is printed."""
    masker = SecretMasker(["-----BEGIN KEY-----\r\nAAAABBBB\n-----END KEY-----\n"])
    lines = ["-----BEGIN KEY-----", "AAAABBBB", "-----END KEY-----", "ok"]
    assert masker.mask_lines(lines) == ["********", "********", "********", "ok"]


def test_mask_lines_keeps_the_line_count() -> None:
    """Masking a list of lines returns one masked line per input line."""
    masker = SecretMasker(["pw"])
    assert masker.mask_lines(["a pw", "", "pwpw", "b"]) == [
        "a ********",
        "",
        "****************",
        "b",
    ]
    assert masker.mask_lines([]) == []


def test_replacement_with_newline_is_refused() -> None:
    """A replacement containing a line break is rejected since it would split lines."""
    with pytest.raises(ValueError, match="line breaks"):
        SecretMasker(["x"], replacement="a\nb")


async def test_secret_split_across_pipe_reads_is_masked(tmp_path: Path) -> None:
    """A secret written in two flushes with a pause between them is still masked."""
    secret = "SUPERSECRET123"
    code = (
        "import sys, time\n"
        f"sys.stdout.write('token={secret[:6]}'); sys.stdout.flush(); time.sleep(0.2)\n"
        f"sys.stdout.write('{secret[6:]} end\\n'); sys.stdout.flush()\n"
    )
    process = await ExecutorProcess.start(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PATH": os.environ["PATH"]}
    )
    masker = SecretMasker([secret])
    masked = [masker.mask(line.text) async for line in process.lines()]
    assert await process.wait() == 0
    assert masked == ["token=******** end"]


SECRET_ALPHABET = "abcd"


@settings(max_examples=300, deadline=None)
@given(
    secrets=st.lists(st.text(SECRET_ALPHABET, min_size=1, max_size=6), min_size=1, max_size=5),
    fragments=st.lists(st.text(SECRET_ALPHABET + " \n", max_size=8), max_size=10),
    picks=st.lists(st.integers(min_value=0, max_value=4), max_size=10),
)
def test_no_secret_survives_masking(
    secrets: list[str], fragments: list[str], picks: list[int]
) -> None:
    """Whatever text surrounds them, no secret occurs in the masked text or masked lines."""
    pieces = []
    for index, fragment in enumerate(fragments):
        pieces.append(fragment)
        if index < len(picks):
            pieces.append(secrets[picks[index] % len(secrets)])
    text = "".join(pieces)
    masker = SecretMasker(secrets)
    masked = masker.mask(text)
    masked_lines = masker.mask_lines(text.split("\n"))
    assert len(masked_lines) == text.count("\n") + 1
    for secret in secrets:
        assert secret not in masked
        assert all(secret not in line for line in masked_lines)


# --- encoded forms (docs/security.md) ----------------------------------------------------------

# No "*", the replacement's character: a secret holding it can be found in the masked text across
# the replacement's edge however well it was masked ("****" in "********").
SECRETS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="*"),
    min_size=4,
    max_size=24,
).filter(lambda text: text.strip() == text and len(text.strip()) >= 4)
SURROUNDINGS = st.binary(max_size=12)
BASE64_RUN = re.compile(r"[A-Za-z0-9+/=_-]+")


def _decodes_to_contain(text: str, secret: bytes) -> bool:
    """Whether any base64 run in ``text``, read from any start and in either alphabet, holds
    ``secret`` once decoded (what an attacker would try on the masked output)."""
    for run in BASE64_RUN.findall(text):
        for start in range(4):
            chunk = run[start:].replace("=", "")
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            for altchars in (b"+/", b"-_"):
                with contextlib.suppress(binascii.Error, ValueError):
                    if secret in base64.b64decode(chunk, altchars=altchars):
                        return True
    return False


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, before=SURROUNDINGS, after=SURROUNDINGS, urlsafe=st.booleans())
def test_base64_forms_are_masked_at_every_alignment(
    secret: str, before: bytes, after: bytes, urlsafe: bool
) -> None:
    """A secret base64-encoded inside longer data cannot be decoded back out of the masked text."""
    data = before + secret.encode("utf-8") + after
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode("ascii")
    masked = SecretMasker([secret]).mask(f"value: {text} end")
    assert not _decodes_to_contain(masked, secret.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(
    secret=SECRETS,
    before=st.text(max_size=10),
    after=st.text(max_size=10),
    encoding=st.sampled_from(["quote", "quote_slash", "quote_plus", "lower", "json", "json_utf8"]),
)
def test_url_and_json_forms_are_masked(secret: str, before: str, after: str, encoding: str) -> None:
    """URL-encoded (any escape case) and JSON-escaped secrets inside longer text are masked."""
    whole = before + secret + after
    encoded = {
        "quote": lambda: quote(whole, safe=""),
        "quote_slash": lambda: quote(whole),
        "quote_plus": lambda: quote_plus(whole, safe=""),
        "lower": lambda: re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(whole)),
        "json": lambda: json.dumps(whole),
        "json_utf8": lambda: json.dumps(whole, ensure_ascii=False),
    }[encoding]()
    masked = SecretMasker([secret]).mask(encoded)
    assert secret not in masked
    decode = json.loads if encoding.startswith("json") else unquote_plus
    with contextlib.suppress(ValueError):  # a masked span may end inside an escape
        assert secret not in decode(masked)


def test_mask_value_masks_every_string_keys_included() -> None:
    """Strings anywhere in a JSON-like value are masked, keys too; other values are untouched."""
    masker = SecretMasker(["hunter22"])
    value = {"a": ["x hunter22", 1, 2.5, None, True], "hunter22": {"b": ("hunter22",)}}
    assert masker.mask_value(value) == {
        "a": ["x ********", 1, 2.5, None, True],
        "********": {"b": ["********"]},
    }
    assert SecretMasker([]).mask_value(value) is value


def test_runner_log_lines_are_masked() -> None:
    """With a masker configured, the runner's own log lines carry no secret in any field."""
    stream = io.StringIO()
    configure_logging(log_format="json", stream=stream, masker=SecretMasker(["reg-code-1234"]))
    try:
        structlog.get_logger("t").error(
            "failed with reg-code-1234", error={"detail": ["reg-code-1234"]}, code="reg-code-1234"
        )
    finally:
        structlog.reset_defaults()
    line = json.loads(stream.getvalue())
    assert "reg-code-1234" not in stream.getvalue()
    assert line["event"] == "failed with ********" and line["error"] == {"detail": ["********"]}


_CHUNK_WRITER = (
    "import os, sys, json\n"
    "for chunk in json.loads(sys.argv[1]):\n"
    "    os.write(1, chunk.encode('latin-1'))\n"
)


@settings(max_examples=15, deadline=None)
@given(
    secret=st.text("abcdefXYZ0123+/=%", min_size=6, max_size=16),
    encoding=st.sampled_from(["raw", "base64", "url"]),
    prefix=st.text("qrs ", max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_secret_split_across_chunks_of_a_real_process_is_masked(
    tmp_path_factory: pytest.TempPathFactory,
    secret: str,
    encoding: str,
    prefix: str,
    cuts: list[int],
) -> None:
    """A line holding a secret (or its encoded form), written by a process in random pieces,
    is masked once assembled, whatever the split points."""
    form = {
        "raw": secret,
        "base64": base64.b64encode((prefix + secret).encode()).decode(),
        "url": quote(secret, safe=""),
    }[encoding]
    output = f"{prefix}{form} tail\nnext line\n"
    points = sorted({cut for cut in cuts if cut < len(output)} | {0, len(output)})
    chunks = [output[a:b] for a, b in itertools.pairwise(points)]
    masker = SecretMasker([secret])

    async def run() -> list[str]:
        process = await ExecutorProcess.start(
            [sys.executable, "-c", _CHUNK_WRITER, json.dumps(chunks)],
            cwd=tmp_path_factory.mktemp("chunks"),
            env={"PATH": os.environ["PATH"]},
        )
        lines = [line.text async for line in process.lines()]
        assert await process.wait() == 0
        return masker.mask_lines(lines)

    masked = asyncio.run(run())
    assert masked[1] == "next line"
    assert secret not in masked[0]
    if encoding == "base64":
        assert not _decodes_to_contain(masked[0], secret.encode())
    if encoding == "url":
        assert secret not in unquote(masked[0])
