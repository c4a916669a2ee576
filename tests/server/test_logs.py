"""``POST /execution/{id}/logs``: every line stored as sent, in order, with consecutive seqs."""

from __future__ import annotations

from flomation.server.admin_answers import FloAnswer
from flomation.server.admin_client import AdminClient
from flomation.server.embedded import EmbeddedServer

from .runner_client import SigningRunner, claim_new


async def test_lines_with_json_escapes_nul_and_non_ascii_are_stored_exactly(
    server: EmbeddedServer, runner: SigningRunner, admin: AdminClient, flo: FloAnswer
) -> None:
    """Quotes, backslashes, control characters, NUL and non-ASCII lines read back unchanged
    (on PostgreSQL, whose text cannot hold NUL, NUL reads back as U+FFFD)."""
    execution_id = await claim_new(runner, admin, flo["id"])
    batches = [
        ['quote " and \\ backslash', "new\nline\ttab", "", "emoji 😀 é \u2028"],
        ["before NUL", "nul\x00after", "after NUL"],
        [f"line {index}" for index in range(500)],
    ]
    for batch in batches:
        assert (await runner.logs(execution_id, batch)).status == 200
    await runner.result(execution_id)
    sent = [line for batch in batches for line in batch]
    events = [event async for event in admin.stream(execution_id) if event.id]
    if server.services.store.backend == "postgresql":
        assert [event.data for event in events] == [line.replace("\x00", "\ufffd") for line in sent]
    else:
        assert [event.data for event in events] == sent
    assert [event.id for event in events] == [str(number) for number in range(1, len(sent) + 1)]
    stored = await admin.get_execution(execution_id)
    assert stored["log_bytes"] == sum(len(line.encode()) + 1 for line in sent)
    assert stored["log_truncated"] is False
