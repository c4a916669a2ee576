"""web/download against a local HTTP server (flomation-co/executor: actions/web/download/action.go).

The server listens on 127.0.0.1, a non-public address the action refuses by default; the tests
allow it through ``FLOMATION_EXECUTOR_ALLOW_NETWORKS`` except where the refusal is the subject.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from fixtures.http_peer import HttpPeer, Recorded, Reply, http_peer
from flomation.executor.actions.web import download
from flomation.executor.network_guard import ALLOW_NETWORKS_VARIABLE

MakeContext = Callable[..., Any]


def _serve(
    body: bytes, content_type: str = "application/pdf", status: int = 200
) -> AbstractContextManager[HttpPeer]:
    def reply(_request: Recorded) -> Reply:
        return status, {"Content-Type": content_type}, body

    return http_peer(reply)


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Allow 127.0.0.0/8 (and ::1, which localhost may resolve to first)."""
    monkeypatch.setenv(ALLOW_NETWORKS_VARIABLE, "127.0.0.0/8, ::1/128")


@pytest.mark.usefixtures("loopback_allowed")
def test_download_writes_into_the_work_dir(make_ctx: MakeContext, tmp_path: Path) -> None:
    """The body lands in the work directory under the URL's file name, mode 0600."""
    with _serve(b"%PDF-1.7 data", "application/pdf; charset=binary") as peer:
        out = download.run(make_ctx(("url", "string", f" {peer.url}/files/report.pdf?x=1 ")))
    assert out["success"] is True and out["error"] == ""
    assert (out["filename"], out["file"], out["mime_type"], out["size_bytes"]) == (
        "report.pdf",
        "report.pdf",
        "application/pdf",
        13,
    )
    assert out["tool_result"].startswith("Downloaded report.pdf (13 bytes, application/pdf).")
    written = tmp_path / "report.pdf"
    assert written.read_bytes() == b"%PDF-1.7 data"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert peer.requests[0].headers["Accept"] == "*/*"


@pytest.mark.usefixtures("loopback_allowed")
@pytest.mark.parametrize(
    ("path", "given", "content_type", "expected"),
    [
        ("/download", "", "image/png", "download.png"),
        ("/", "", "", "download.bin"),
        ("/noext", "", "text/plain", "download.txt"),
        ("/a.csv", "out/renamed.csv", "text/csv", "out/renamed.csv"),
    ],
)
def test_download_filename_rules(
    make_ctx: MakeContext,
    tmp_path: Path,
    path: str,
    given: str,
    content_type: str,
    expected: str,
) -> None:
    """Given name, else the URL's dotted last segment, else download.<ext of the MIME type>."""
    with _serve(b"x", content_type) as peer:
        out = download.run(
            make_ctx(("url", "string", peer.url + path), ("filename", "string", given))
        )
    assert out["filename"] == expected and out["success"] is True
    assert (tmp_path / expected).read_bytes() == b"x"


@pytest.mark.usefixtures("loopback_allowed")
@pytest.mark.parametrize("name", ["../escape.txt", "/etc/flomation-test.txt", "a/../../b.txt"])
def test_download_refuses_paths_outside_the_work_dir(
    make_ctx: MakeContext, tmp_path: Path, name: str
) -> None:
    """A filename resolving outside the work directory is a soft failure; nothing is written."""
    work = tmp_path / "work"
    work.mkdir()
    with _serve(b"x") as peer:
        out = download.run(
            make_ctx(
                ("url", "string", peer.url + "/f.txt"), ("filename", "string", name), work_dir=work
            )
        )
    assert out == {
        "tool_result": "Error: writing file: file path escapes the execution directory",
        "success": False,
        "error": "writing file: file path escapes the execution directory",
    }
    assert [path.name for path in tmp_path.iterdir()] == ["work"]
    assert list(work.iterdir()) == []


@pytest.mark.usefixtures("loopback_allowed")
def test_download_never_writes_through_a_symlink(make_ctx: MakeContext, tmp_path: Path) -> None:
    """A symlink planted at the target name is refused, not followed."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    work = tmp_path / "work"
    work.mkdir()
    (work / "f.txt").symlink_to(outside)
    with _serve(b"new") as peer:
        out = download.run(make_ctx(("url", "string", peer.url + "/f.txt"), work_dir=work))
    assert out["success"] is False
    assert outside.read_text() == "keep"


@pytest.mark.usefixtures("loopback_allowed")
def test_download_size_cap(
    make_ctx: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body over the cap is refused and nothing is written (cap lowered from 250 MB here)."""
    monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", 1 << 20)
    with _serve(b"y" * ((1 << 20) + 1)) as peer:
        over = download.run(make_ctx(("url", "string", peer.url + "/big.bin")))
    assert over["error"] == "file exceeds the 1 MB download limit"
    assert not (tmp_path / "big.bin").exists()
    with _serve(b"y" * (1 << 20)) as peer:
        at_cap = download.run(make_ctx(("url", "string", peer.url + "/big.bin")))
    assert at_cap["size_bytes"] == 1 << 20


def test_download_refuses_non_public_addresses(make_ctx: MakeContext) -> None:
    """Loopback is refused unless allowed: no request reaches the server."""
    with _serve(b"x") as peer:
        url = f"http://127.0.0.1:{peer.port}/f.txt"
        out = download.run(make_ctx(("url", "string", url)))
    assert out["success"] is False
    assert out["error"] == (
        f'download failed: Get "{url}": address 127.0.0.1 refused by the network guard'
        " (loopback address)"
    )
    assert peer.requests == []


@pytest.mark.usefixtures("loopback_allowed")
def test_download_soft_failures(make_ctx: MakeContext) -> None:
    """Missing or non-http(s) URLs and non-2xx replies are soft failures with upstream's texts."""
    assert download.run(make_ctx())["error"] == "url is required"
    assert download.run(make_ctx(("url", "string", "ftp://x/y")))["error"] == (
        "url must be a valid http(s) URL"
    )
    with _serve(b"gone", status=404) as peer:
        out = download.run(make_ctx(("url", "string", peer.url + "/f.txt")))
    assert out == {
        "tool_result": "Error: download failed: HTTP 404",
        "success": False,
        "error": "download failed: HTTP 404",
    }
