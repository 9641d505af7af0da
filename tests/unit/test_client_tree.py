"""The async client's tree long-poll over an in-process transport: the version and wait go
out as parameters, a 304 is "nothing changed", and the request may take the wait plus the
client's own timeout."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ktrdr.client import AsyncKtrdrClient, ClientTimeout, NotFoundApiError
from ktrdr.contract.operations import Envelope, TreePublic
from tests.support.snapshots import snapshot


def test_get_tree_sends_since_and_wait_and_reads_a_304_as_unchanged() -> None:
    seen: list[httpx.Request] = []
    op = snapshot("t1", op_type="training", version=7)
    tree = TreePublic(version=7, complete=True, changes=[], operations=[op])

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/op_gone/tree"):
            error = {"code": "operation_not_found", "message": "gone", "details": {}}
            return httpx.Response(404, json={"success": False, "error": error})
        if request.url.params["since"] == "7":
            return httpx.Response(304)
        return httpx.Response(200, json=Envelope[TreePublic](data=tree).model_dump(mode="json"))

    async def main() -> tuple[TreePublic | None, TreePublic | None]:
        async with AsyncKtrdrClient(
            "http://ktrdr.test",
            timeout=ClientTimeout(3.0, connect=1.0),
            transport=httpx.MockTransport(answer),
        ) as client:
            first = await client.get_tree("t1")
            again = await client.get_tree("t1", since=7, wait=20.0)
            with pytest.raises(NotFoundApiError):
                await client.get_tree("op_gone", since=0, wait=1.0)
            return first, again

    first, again = asyncio.run(main())
    assert first == tree
    assert again is None
    assert seen[0].url.path == "/api/v1/operations/t1/tree"
    assert dict(seen[1].url.params) == {"since": "7", "wait": "20.0"}
    # A held request is no timeout: the read may take the wait and the usual 3 s on top.
    assert seen[1].extensions["timeout"] == {
        "connect": 1.0,
        "read": 23.0,
        "write": 23.0,
        "pool": 23.0,
    }
