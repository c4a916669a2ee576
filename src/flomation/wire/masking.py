"""Replacing secret values in everything that leaves the runner or the executor (docs/security.md).

The one masker of the project. In the runner it serves the executor's output lines, every string
of the result body (outputs, node results, errors, trigger data echoes) before it is written to
the outbox, and the runner's own log lines; in the executor, everything a node with secret
inputs reports (events, node results, log lines).

Besides each secret as it is, it hides the forms a flow can print it in without meaning to or
on purpose: base64 (standard and URL-safe alphabets, at each of the three byte
alignments the secret can have within a longer encoded text), URL-encoded (``%XX`` in upper and
lower case, ``+`` or ``%20`` for spaces) and JSON-escaped. These are the forms GitHub Actions'
masker covers too. Other transformations (hex, reversed, split by the flow itself) are not
hidden: a flow author who wants a secret out can always get it out (docs/security.md).

Masking is applied to complete lines (the process module assembles lines across pipe reads), so
a secret written in two pieces is still hidden. Every occurrence of every form is replaced,
and overlapping occurrences of different forms are merged into one replaced span, so no
character of them survives. A secret containing line breaks cannot appear within one line:
each of its lines is masked as a secret of its own instead (its encoded forms hold no line
break and are masked whole).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["DEFAULT_REPLACEMENT", "MIN_SECRET_CHARS", "SecretMasker", "encoded_forms"]

DEFAULT_REPLACEMENT = "********"
# Shorter values are not treated as secrets by the runner or the executor: masking them would
# garble ordinary output (a 3-character value occurs everywhere).
MIN_SECRET_CHARS = 4
# Encoded forms shorter than this are not masked: a 3-character base64 fragment occurs in
# ordinary output far too often. Secrets of MIN_SECRET_CHARS or more have every encoded form
# at least this long.
_MIN_ENCODED_CHARS = MIN_SECRET_CHARS
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_URLSAFE = str.maketrans("+/", "-_")


def _base64_cores(data: bytes) -> set[str]:
    """The base64 characters that depend on ``data`` alone, for each of the 3 alignments.

    Within a longer base64 text, ``data`` starts at a byte offset; character ``i`` of the
    encoding covers bits ``6i .. 6i+6`` of the stream, so the characters whose bits all lie
    inside ``data`` are the same whatever surrounds it. Those are the ones masked.
    """
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first = -(-8 * offset // 6)  # ceil: the first character with no bit of the padding
        end = 8 * (offset + len(data)) // 6  # floor: characters up to here are complete
        core = encoded[first:end]
        cores.add(core)
        cores.add(core.translate(_URLSAFE))
    return cores


def _url_forms(secret: str) -> set[str]:
    forms = {quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")}
    lower = {_PERCENT_ESCAPE.sub(lambda match: match.group(0).lower(), form) for form in forms}
    return forms | lower


def encoded_forms(secret: str) -> set[str]:
    """``secret`` and the encoded forms of it that are masked too (see the module docstring)."""
    forms = {secret}
    forms |= _base64_cores(secret.encode("utf-8"))
    forms |= _url_forms(secret)
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    return {form for form in forms if form == secret or len(form) >= _MIN_ENCODED_CHARS}


def _line_pieces(secret: str) -> list[str]:
    """The parts of ``secret`` that can occur within one output line (blank parts ignored)."""
    pieces = []
    for piece in secret.split("\n"):
        line = piece[:-1] if piece.endswith("\r") else piece
        if line.strip():
            pieces.append(line)
    return pieces


class SecretMasker:
    """Replaces every occurrence of the given secrets and their encoded forms by ``replacement``.

    Blank secrets are ignored (they would mask every space). A text without any secret is
    returned unchanged (the same object) after one substring test per masked form.
    """

    __slots__ = ("_pattern", "_pieces", "_replacement")

    def __init__(self, secrets: Iterable[str], replacement: str = DEFAULT_REPLACEMENT) -> None:
        if "\n" in replacement or "\r" in replacement:
            raise ValueError("the secret replacement must not contain line breaks")
        pieces = {
            piece
            for secret in secrets
            if secret.strip()
            for form in encoded_forms(secret)
            for piece in _line_pieces(form)
        }
        self._replacement = replacement
        # Longest first: at each position the longest secret wins.
        self._pieces = tuple(sorted(pieces, key=lambda piece: (-len(piece), piece)))
        # The lookahead makes the scan report occurrences starting at every position, including
        # overlapping ones. It is slow-ish, hence the substring pre-check in mask().
        alternation = "|".join(re.escape(piece) for piece in self._pieces)
        self._pattern = re.compile(f"(?=({alternation}))")

    @property
    def secret_count(self) -> int:
        """How many distinct texts are masked (encoded forms, multi-line secrets split)."""
        return len(self._pieces)

    def mask(self, text: str) -> str:
        """``text`` with every secret occurrence replaced (overlapping ones merged)."""
        # Substring tests run at memchr speed, several times faster than any regex scan; most
        # lines contain no secret and return here.
        for piece in self._pieces:
            if piece in text:
                break
        else:
            return text
        pattern = self._pattern
        first = pattern.search(text)
        if first is None:  # unreachable: a piece occurs in text; keeps the type checker honest
            return text
        parts: list[str] = []
        kept_from = 0  # start of the text not yet copied to parts
        span_start, span_end = first.start(1), first.end(1)
        for match in pattern.finditer(text, first.start() + 1):
            start, end = match.start(1), match.end(1)
            if start < span_end:
                span_end = max(span_end, end)
                continue
            parts.append(text[kept_from:span_start])
            parts.append(self._replacement)
            kept_from = span_end
            span_start, span_end = start, end
        parts.append(text[kept_from:span_start])
        parts.append(self._replacement)
        parts.append(text[span_end:])
        return "".join(parts)

    def mask_lines(self, lines: list[str]) -> list[str]:
        """Every line masked; the same list back when no line holds a secret (one quick scan)."""
        if not self._pieces or not lines:
            return lines
        joined = "\n".join(lines)
        for piece in self._pieces:
            if piece in joined:
                return [self.mask(line) for line in lines]
        return lines

    def mask_value(self, value: Any) -> Any:
        """A JSON-like value with every string in it masked, object keys included.

        Used on the result body before it is stored: outputs, node results, errors and trigger
        data echoes are all strings somewhere inside it. Containers are copied (lists for
        tuples); numbers, booleans and None come back as they are.
        """
        if not self._pieces:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {
                self.mask(key) if isinstance(key, str) else key: self.mask_value(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.mask_value(item) for item in value]
        return value
