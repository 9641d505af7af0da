"""The token rule on a real server: a backend configured to serve beyond loopback refuses to
start without KTRDR_API_TOKEN; with one, every request but /health needs it (401 with the
error envelope otherwise), the CLI sends it from its settings, and it is never written to
the log or any output. The test itself talks to the server over 127.0.0.1 only."""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import BackendFactory
from tests.support.live_backend import run_ktrdr


def test_serving_beyond_loopback_without_a_token_is_refused(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    env = {**backend.env, "KTRDR_HOST": "0.0.0.0"}
    done = run_ktrdr(env, "server", "start", timeout=30)
    assert done.returncode != 0
    assert "KTRDR_API_TOKEN" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    with httpx.Client(timeout=1) as http:  # and nothing was left listening
        try:
            http.get(f"{backend.url}/api/v1/health")
            raise AssertionError("a backend answers though it refused to start")
        except httpx.TransportError:
            pass


def test_with_a_token_every_request_but_health_needs_it(backend_factory: BackendFactory) -> None:
    token = secrets.token_urlsafe(32)
    backend = backend_factory(start=False)
    backend.env.update({"KTRDR_HOST": "0.0.0.0", "KTRDR_API_TOKEN": token})
    backend.start()
    api = f"{backend.url}/api/v1"
    with httpx.Client(timeout=10) as http:
        assert http.get(f"{api}/health").status_code == 200  # open: says only "I am here"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = http.get(f"{api}/operations", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            body = refused.json()
            assert body["success"] is False and body["error"]["code"] == "unauthorized"
            assert token not in refused.text
        posted = http.post(
            f"{api}/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 1}
        )
        assert posted.status_code == 401  # nothing starts without it
        allowed = http.get(f"{api}/operations", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and allowed.json()["total"] == 0
        tree = http.get(f"{api}/operations/op_x/tree", params={"wait": 1})
        assert tree.status_code == 401  # the held reads too

    # The CLI sends the token from its settings; without it, one line says what is missing.
    with_token = run_ktrdr(backend.env, "ops", "list", "--json")
    assert with_token.returncode == 0, with_token.stderr
    without = run_ktrdr({**backend.env, "KTRDR_API_TOKEN": ""}, "ops", "list")
    assert without.returncode != 0
    assert "KTRDR_API_TOKEN" in without.stderr and "Traceback" not in without.stderr
    assert len(without.stderr.strip().splitlines()) == 1, without.stderr
    # The monitor (long-polls, a cancel on Ctrl+C) sends it too.
    watched = run_ktrdr(backend.env, "model", "train", "rsi_mean_reversion", "--epochs", "2")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "Training complete" in watched.stdout
    wrong = run_ktrdr({**backend.env, "KTRDR_API_TOKEN": "not-it"}, "ops", "list")
    assert wrong.returncode != 0 and "does not match" in wrong.stderr
    backend.stop()
    outputs = with_token.stdout + with_token.stderr + without.stderr + wrong.stderr
    outputs += watched.stdout + watched.stderr
    assert token not in outputs
    assert token not in backend.log_path.read_text(errors="replace")
