"""The HTTP edge against a hostile or clumsy caller, on a real backend (uvicorn on loopback,
a real SQLite file): foreign Host and Origin, non-JSON writes, huge bodies, inputs that must
not be echoed, bad names and paths, and validation holes. Every refusal is a 4xx with the
JSON envelope, and the keep-alive connection that carried it stays usable."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ktrdr.client.errors import ApiError, NotFoundApiError
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend

API = "/api/v1"
MiB = 1024 * 1024


def envelope(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The error envelope of ``response``, checked for status, shape and code."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False and set(body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code, body
    return dict(body["error"])


def local_port(response: httpx.Response) -> int:
    """The client-side port of the connection that carried ``response``: equal ports on two
    responses mean one keep-alive connection carried both."""
    sock = response.extensions["network_stream"].get_extra_info("socket")
    return int(sock.getsockname()[1])


def no_operations(backend: LiveBackend) -> None:
    with httpx.Client(base_url=backend.url + API, timeout=10) as http:
        assert http.get("/operations").json()["total"] == 0


@pytest.fixture
def http(backend: LiveBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url + API, timeout=30) as client:
        yield client


# --- Host: DNS rebinding -------------------------------------------------------------------


def test_a_foreign_host_is_refused_for_every_method(
    backend: LiveBackend, http: httpx.Client
) -> None:
    port = backend.port
    for host in ("evil.example", f"evil.example:{port}", f"localhost.evil.example:{port}"):
        error = envelope(http.get("/health", headers={"Host": host}), 421, "host_not_allowed")
        assert "KTRDR_ALLOWED_HOSTS" in error["message"]
        envelope(
            http.post("/agent/trigger", json={}, headers={"Host": host}), 421, "host_not_allowed"
        )
        envelope(http.delete("/operations/x", headers={"Host": host}), 421, "host_not_allowed")
    envelope(http.get("/health", headers={"Host": "127.0.0.1:1"}), 421, "host_not_allowed")
    for own in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert http.get("/health", headers={"Host": own}).status_code == 200
    no_operations(backend)


def test_allowed_hosts_adds_names(backend_factory: BackendFactory) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_ALLOWED_HOSTS"] = "box.lan,proxy.lan:8443"
    backend.start()
    with httpx.Client(base_url=backend.url + API, timeout=10) as http:
        assert http.get("/health", headers={"Host": f"box.lan:{backend.port}"}).status_code == 200
        assert http.get("/health", headers={"Host": "proxy.lan:8443"}).status_code == 200
        envelope(http.get("/health", headers={"Host": f"other.lan:{backend.port}"}), 421)


# --- Origin and Content-Type: cross-origin writes -----------------------------------------


def test_cross_origin_and_non_json_writes_are_refused(
    backend: LiveBackend, http: httpx.Client
) -> None:
    # What any web page can send to any address without a CORS preflight:
    envelope(http.post("/agent/trigger"), 415, "unsupported_media_type")  # empty, no type
    plain = {"Content-Type": "text/plain"}
    envelope(http.post("/agent/trigger", content=b"", headers=plain), 415)
    envelope(http.post("/agent/trigger", content=b"{}", headers=plain), 415)
    envelope(http.post("/agent/trigger", data={"seed": "1"}), 415)  # a form
    envelope(http.post("/agent/trigger", files={"f": ("a.csv", b"x")}), 415)  # multipart
    envelope(http.request("DELETE", "/operations/op_x", headers=plain, content=b"x"), 415)
    # A foreign page's Origin, whatever the content type:
    for origin in ("http://evil.example", "null", f"http://localhost:{backend.port}"):
        error = envelope(
            http.post("/agent/trigger", json={}, headers={"Origin": origin}), 403, "cross_origin"
        )
        assert len(error["message"]) < 300
        envelope(http.delete("/operations/op_x", headers={"Origin": origin}), 403)
    no_operations(backend)

    # The backend's own pages, and programs (no Origin), get through to the route:
    own = {"Origin": backend.url}
    envelope(http.post("/training/start", json={}, headers=own), 422)
    envelope(http.delete("/operations/op_x", headers=own), 404, "operation_not_found")
    envelope(http.delete("/operations/op_x"), 404, "operation_not_found")  # no body, no type
    with backend.client() as client:
        with pytest.raises(NotFoundApiError):
            client.cancel_operation("op_x")
        with pytest.raises(ApiError) as refused:
            client.request("POST", "/training/start", json={})
        assert refused.value.status_code == 422


# --- sizes ---------------------------------------------------------------------------------


def csv_rows(count: int) -> str:
    lines = ["date,open,high,low,close,volume"]
    start = 1_600_000_000
    for i in range(count):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 60 * i))
        price = 100 + (i % 50) * 0.25
        lines.append(f"{stamp},{price},{price + 1},{price - 1},{price + 0.5},{1000 + i}")
    return "\n".join(lines) + "\n"


def test_bodies_over_the_limit_are_413_while_they_arrive(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_IMPORT_BYTES"] = str(4 * MiB)
    backend.start()
    with httpx.Client(base_url=backend.url + API, timeout=60) as http:
        error = envelope(
            http.post("/training/start", json={"strategy": "x" * (2 * MiB)}), 413, "body_too_large"
        )
        assert error["details"]["limit_bytes"] == MiB
        assert http.get("/health").status_code == 200

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"strategy": "'
            for _ in range(64):
                yield b"x" * 32_768
            yield b'"}'

        streamed = http.post(
            "/training/start", content=chunks(), headers={"Content-Type": "application/json"}
        )
        envelope(streamed, 413, "body_too_large")

        started = time.perf_counter()
        million = json.dumps({f"k{i}": 0 for i in range(1_000_000)})
        envelope(
            http.post(
                "/agent/trigger", content=million, headers={"Content-Type": "application/json"}
            ),
            413,
        )
        assert time.perf_counter() - started < 15

        # The import route takes more than 1 MiB, up to its own limit.
        text = csv_rows(40_000)
        assert MiB < len(text) < 4 * MiB
        imported = http.post(
            "/data/import", json={"symbol": "BIG", "timeframe": "1m", "csv_text": text}
        )
        assert imported.status_code == 201, imported.text[:300]
        assert imported.json()["data"]["bars"] == 40_000
        too_big = csv_rows(80_000)
        envelope(
            http.post(
                "/data/import", json={"symbol": "BIGGER", "timeframe": "1m", "csv_text": too_big}
            ),
            413,
        )
        after = http.get("/health")
        # The backend keeps answering the same client. (The connection that carried the
        # oversized body usually stays open too, as uvicorn drains the body; a slow run once
        # saw it closed, so that is not promised: tests/integration/test_drain_after_413.py
        # checks the drain itself.)
        assert after.status_code == 200


def test_errors_never_echo_more_than_an_excerpt(backend_factory: BackendFactory) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_BODY_BYTES"] = str(32 * MiB)  # let huge inputs reach validation
    backend.env["KTRDR_MAX_IMPORT_BYTES"] = str(32 * MiB)
    backend.start()
    huge = "x" * 10_000_000
    with httpx.Client(base_url=backend.url + API, timeout=60) as http:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("/training/start", {"strategy": huge}),
            ("/training/start", {"strategy": huge + ".yaml"}),
            ("/backtests/start", {"model": huge}),
            ("/data/import", {"symbol": huge, "timeframe": "1d", "csv_text": "x"}),
            ("/data/import", {"symbol": "AB", "timeframe": "1d", "csv_text": "x", huge: 1}),
            ("/agent/trigger", {"symbol": huge}),
        ]
        for path, body in cases:
            response = http.post(path, json=body)
            envelope(response, 422)
            assert len(response.content) < 4_000, (path, len(response.content))

        keys = {f"k{i}": 0 for i in range(200_000)}
        for path, body in (
            ("/agent/trigger", keys),
            ("/training/start", {"strategy_config": keys}),
            ("/training/start", {"strategy_config": {"name": "x", "model": keys}}),
        ):
            started = time.perf_counter()
            response = http.post(path, json=body)
            elapsed = time.perf_counter() - started
            error = envelope(response, 422)
            assert len(response.content) < 10_000, (path, len(response.content))
            assert elapsed < 10, (path, elapsed)
            if path == "/agent/trigger":
                assert len(error["details"]["errors"]) == 20
                assert error["details"]["more_errors"] == 200_000 - 20
                assert "(and 199,997 more)" in error["message"]


# --- names and paths: 4xx, and the connection survives ------------------------------------


BAD_NAMES = ["", ".", "..", "a\x00b", "a\x00b.yaml", "n" * 5_000, "d/" + "n" * 300 + ".yaml"]


def test_bad_names_and_paths_are_4xx_and_the_connection_stays_usable(
    backend: LiveBackend, http: httpx.Client
) -> None:
    first = http.get("/health")
    requests: list[tuple[str, str, dict[str, Any] | None]] = []
    for name in BAD_NAMES:
        requests += [
            ("POST", "/training/start", {"strategy": name}),
            ("POST", "/backtests/start", {"model": name}),
            (
                "POST",
                "/data/import",
                {"symbol": "AB", "timeframe": "1d", "csv_text": "x", "filename": name},
            ),
            ("POST", "/data/import", {"symbol": name, "timeframe": "1d", "csv_text": "x"}),
        ]
    for path in (
        "/data/a%00b",
        "/data/..%2F..",
        "/data/" + "n" * 5_000,
        "/data/SP500?timeframe=0m",
    ):
        requests.append(("GET", path, None))
    requests.append(("GET", "/operations/" + "o" * 30_000, None))
    requests.append(("DELETE", "/operations/op%00x", None))
    for method, path, body in requests:
        response = http.request(method, path, json=body)
        assert 400 <= response.status_code < 500, (method, path[:80], response.text[:300])
        envelope(response, response.status_code)
        assert len(response.content) < 4_000
        again = http.get("/health")
        assert again.status_code == 200
        assert local_port(again) == local_port(first), (method, path[:80])
    assert not (backend.data_dir / "market").exists()
    no_operations(backend)


# --- validation holes: one validation, at the edge, for every caller ----------------------


def test_validation_holes_are_closed_over_the_api(backend: LiveBackend, http: httpx.Client) -> None:
    csv = "date,open,high,low,close\n2020-01-01,1,1,1,1\n2020-01-02,1,1,1,1\n"
    for symbol, timeframe, field in (
        ("AB\n", "1d", "symbol"),
        ("AB", "1d\n", "timeframe"),
        ("AB", "0m", "timeframe"),
        ("AB", "99999d", "timeframe"),
        ("..", "1d", "symbol"),
    ):
        upload = {"symbol": symbol, "timeframe": timeframe, "csv_text": csv}
        error = envelope(http.post("/data/import", json=upload), 422, "validation_error")
        assert error["details"]["errors"][0]["field"] == field
    assert not (backend.data_dir / "market").exists()

    starts: list[tuple[str, dict[str, Any], str]] = [
        ("/training/start", {"strategy": "rsi_mean_reversion", "symbol": "SP500\n"}, "symbol"),
        ("/training/start", {"strategy": "rsi_mean_reversion", "timeframe": "0m"}, "timeframe"),
        ("/backtests/start", {"model": "rsi_mean_reversion", "symbol": "SP500\n"}, "symbol"),
        ("/agent/trigger", {"symbol": "SP500\n"}, "symbol"),
        ("/agent/trigger", {"timeframe": "1d\n"}, "timeframe"),
        ("/agent/trigger", {"seed": 2**40}, "seed"),
        ("/training/start", {"strategy": "rsi_mean_reversion", "epochs": 10**9}, "epochs"),
    ]
    for path, body, field in starts:
        error = envelope(http.post(path, json=body), 422, "validation_error")
        assert error["details"]["errors"][0]["field"] == field

    base: dict[str, Any] = {
        "name": "holes",
        "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 14}}],
    }
    nan_points: dict[str, Any] = {
        **base,
        "fuzzy": [
            {
                "indicator": "rsi",
                "sets": [{"name": "low", "shape": "triangular", "points": [0, float("nan"), 30]}],
            }
        ],
    }
    for config, needle in (
        (nan_points, "fuzzy"),
        ({**base, "model": {"seed": 2**40}}, "model.seed"),
        ({**base, "model": {"hidden_layers": [4096] * 50}}, "model.hidden_layers"),
        ({**base, "backtest": {"initial_capital": float("inf")}}, "backtest.initial_capital"),
        ({**base, "backtest": {"commission": float("nan")}}, "backtest.commission"),
        (
            {**base, "indicators": [{"name": "r", "type": "rsi", "params": {"period": -1}}]},
            "period must be a whole number",
        ),
        (
            {**base, "indicators": [{"name": "m", "type": "macd", "params": {"fast": 40}}]},
            "must be shorter than slow",
        ),
    ):
        # Python's json writes NaN/Infinity tokens; the server's parser reads them.
        raw = json.dumps({"strategy_config": config})
        response = http.post(
            "/training/start", content=raw, headers={"Content-Type": "application/json"}
        )
        error = envelope(response, 422)
        assert needle in json.dumps(error), (needle, error)
    no_operations(backend)
