"""Listing parameters past what the store can hold (SQLite integers are 64-bit) are the
caller's mistake: a 422 with the API's usual error body, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.served import served_in_process


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "99999999999999999999"},  # past 2**63: SQLite cannot even bind it
        {"offset": str(2**63 - 1)},
        {"limit": "99999999999999999999"},
    ],
)
def test_an_offset_or_limit_beyond_the_maxima_is_a_422(
    tmp_path: Path, params: dict[str, str]
) -> None:
    """Issue 21 (bad input): a huge listing offset is a 4xx with the usual error body."""
    with served_in_process(tmp_path / "data", ephemeral=False) as served:
        with httpx.Client(base_url=served.api, timeout=10) as http:
            answer = http.get("/operations", params=params)
            assert answer.status_code == 422, answer.text
            body = answer.json()
            assert body["success"] is False
            assert body["error"]["code"] == "validation_error"
            field = next(iter(params))
            assert field in body["error"]["message"], body
            # The largest allowed offset is answered, with an empty page.
            fine = http.get("/operations", params={"offset": "1000000000"})
            assert fine.status_code == 200, fine.text
            assert fine.json()["data"] == []
