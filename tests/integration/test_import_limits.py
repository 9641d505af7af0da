"""Imports under load and far dates, on a real backend (issue 21, item 13): one import more
than KTRDR_MAX_CONCURRENT_IMPORTS is refused at once with 409 ``too_many_imports`` (it does
not wait, and nothing of it is stored), and a date range reaching past any bar is clipped to the
series instead of failing with a 500, over the API and in ``ktrdr data show``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, env_without_ktrdr, run_ktrdr
from tests.support.waiting import wait_until

API = "/api/v1"
CSV = "date,open,high,low,close,volume\n" + "".join(
    f"2024-01-{day:02d},10,11,9,10.5,{day}\n" for day in range(1, 29)
)


def upload(symbol: str) -> dict[str, str]:
    return {"symbol": symbol, "timeframe": "1d", "csv_text": CSV}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["success"] is False
    error = body["error"]
    assert isinstance(error, dict)
    return error


def minute_csv(rows: int) -> str:
    start = 1_600_000_000
    lines = []
    for i in range(rows):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 60 * i))
        price = 100 + (i % 50) * 0.25
        lines.append(f"{stamp},{price},{price + 1},{price - 1},{price + 0.5},{i}")
    return "date,open,high,low,close,volume\n" + "\n".join(lines) + "\n"


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_import_over_the_cap_is_refused_with_a_code(backend_factory: BackendFactory) -> None:
    """Item 13 (a cap on imports at once): with KTRDR_MAX_CONCURRENT_IMPORTS=1, a second
    import while one is in progress is refused at once with 409 too_many_imports; the slot is
    free again once the first ends, and nothing of the refused one is stored."""
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_CONCURRENT_IMPORTS"] = "1"
    backend.start()
    big = {"symbol": "FIRST", "timeframe": "1m", "csv_text": minute_csv(200_000)}
    answers: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{backend.url}{API}/data/import", json=big, timeout=120)
        )
    )
    sender.start()
    try:
        # The import writes its series in the scratch folder last: seen there, it is under way.
        scratch = backend.data_dir / "tmp"
        assert wait_until(lambda: bool(files_under(scratch)), 60, 0.002), "never wrote"
        with httpx.Client(base_url=backend.url + API, timeout=30) as http:
            started = time.perf_counter()
            refused = http.post("/data/import", json=upload("SECOND"))
            assert time.perf_counter() - started < 5  # refused, not queued
            error = error_of(refused, 409)
            assert error["code"] == "too_many_imports"
            assert error["details"]["limit"] == 1
            assert "KTRDR_MAX_CONCURRENT_IMPORTS" in error["message"]
            sender.join(120)
            assert answers and answers[0].status_code == 201, answers
            third = http.post("/data/import", json=upload("THIRD"))
            assert third.status_code == 201, third.text[:300]
            listed = {s["symbol"] for s in http.get("/data").json()["data"]}
        assert {"FIRST", "THIRD"} <= listed and "SECOND" not in listed
    finally:
        sender.join(120)


def test_a_refused_or_failed_import_gives_its_slot_back(backend: LiveBackend) -> None:
    """Item 13 (a cap on imports at once): imports that fail (a bad file, a bad body) free
    their slot: the default cap of one still lets the next import in."""
    with httpx.Client(base_url=backend.url + API, timeout=30) as http:
        bad = {"symbol": "BAD", "timeframe": "1d", "csv_text": "date,open\nnope,1\n"}
        assert error_of(http.post("/data/import", json=bad), 422)["code"] == "invalid_data"
        assert error_of(http.post("/data/import", json={"symbol": "X"}), 422)["code"] == (
            "validation_error"
        )
        invalid_json = http.post(
            "/data/import", content=b'{"symbol":', headers={"Content-Type": "application/json"}
        )
        error_of(invalid_json, 422)
        good = http.post("/data/import", json=upload("GOOD"))
        assert good.status_code == 201, good.text[:300]
        assert good.json()["data"]["bars"] == 28


def test_a_far_end_date_is_clipped_to_the_series(backend: LiveBackend) -> None:
    """Bad-input 500 (GET /data/SP500?end=9999-12-31): an end past every bar means "through
    the last bar"; a start past every bar is a 422 with the API's error body naming the span."""
    with httpx.Client(base_url=backend.url + API, timeout=30) as http:
        whole = http.get("/data/SP500").json()["data"]
        clipped = http.get("/data/SP500", params={"end": "9999-12-31"})
        assert clipped.status_code == 200, clipped.text[:500]
        selected = clipped.json()["data"]["selected"]
        assert (selected["bars"], selected["last"]) == (whole["bars"], whole["last"])
        both = http.get("/data/SP500", params={"start": "0001-01-01", "end": "9999-12-31"})
        assert both.json()["data"]["selected"]["bars"] == whole["bars"]
        error = error_of(http.get("/data/SP500", params={"start": "9999-12-31"}), 422)
        assert error["code"] == "invalid_request"
        assert whole["last"] in error["message"]


def test_data_show_with_a_far_end_date_answers(backend: LiveBackend) -> None:
    """Bad-input 500 (ktrdr data show SP500 --end 9999-12-31): the command shows the series
    through its last bar; a start past it is one clear line and a usage exit."""
    env = env_without_ktrdr(KTRDR_API_URL=backend.url, KTRDR_AUTOSTART="0")
    shown = run_ktrdr(env, "data", "show", "SP500", "--end", "9999-12-31")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "Selected" in shown.stdout
    late = run_ktrdr(env, "data", "show", "SP500", "--start", "9999-12-31")
    assert late.returncode == 2, (late.returncode, late.stderr[-2000:])
    lines = [line for line in late.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no SP500 1d bars from 9999-12-31" in lines[0], lines
