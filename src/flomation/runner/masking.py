"""Replacing secret values in executor output before it leaves the runner.

Masking is applied to complete lines (the process module assembles lines across pipe reads), so
a secret written in two pieces is still hidden. Every occurrence of every secret is replaced,
and overlapping occurrences of different secrets are merged into one replaced span, so no
character of a secret survives. A secret containing line breaks cannot appear within one line:
each of its lines is masked as a secret of its own instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["DEFAULT_REPLACEMENT", "SecretMasker"]

DEFAULT_REPLACEMENT = "********"


def _line_pieces(secret: str) -> list[str]:
    """The parts of ``secret`` that can occur within one output line (blank parts ignored)."""
    pieces = []
    for piece in secret.split("\n"):
        line = piece[:-1] if piece.endswith("\r") else piece
        if line.strip():
            pieces.append(line)
    return pieces


class SecretMasker:
    """Replaces every occurrence of the given secrets by ``replacement``.

    Blank secrets are ignored (they would mask every space). A text without any secret is
    returned unchanged (the same object) after one substring test per secret.
    """

    __slots__ = ("_pattern", "_pieces", "_replacement")

    def __init__(self, secrets: Iterable[str], replacement: str = DEFAULT_REPLACEMENT) -> None:
        if "\n" in replacement or "\r" in replacement:
            raise ValueError("the secret replacement must not contain line breaks")
        pieces = {piece for secret in secrets for piece in _line_pieces(secret)}
        self._replacement = replacement
        # Longest first: at each position the longest secret wins.
        self._pieces = tuple(sorted(pieces, key=lambda piece: (-len(piece), piece)))
        # The lookahead makes the scan report occurrences starting at every position, including
        # overlapping ones. It is slow-ish, hence the substring pre-check in mask().
        alternation = "|".join(re.escape(piece) for piece in self._pieces)
        self._pattern = re.compile(f"(?=({alternation}))")

    @property
    def secret_count(self) -> int:
        """How many distinct values are masked (after splitting multi-line secrets)."""
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
