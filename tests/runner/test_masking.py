"""Secret masking of executor output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flomation.runner.masking import SecretMasker
from flomation.runner.process import ExecutorProcess


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
