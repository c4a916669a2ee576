"""docs/unsupported-nodes.md is the current output of its generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_unsupported_nodes_document_is_current() -> None:
    """Regenerating the list of unimplemented upstream node types changes nothing."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unsupported_nodes.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = (ROOT / "docs" / "unsupported-nodes.md").read_text(encoding="utf-8")
    assert "`ai/openwebui`" in document and "`ai/openai`" not in document
