"""Webhooks from the real backend (``ktrdr server start`` in a subprocess) to a real
receiver on loopback: a delivery due when the backend is killed (-9) goes out after the
restart, a hanging receiver never slows ``/health``, a ``--count`` batch started the way
the CLI starts it is announced when its last cycle ends, and ``ktrdr ops show`` shows the
attempts, never the secret or more of the receiver's URL than its origin."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ktrdr.cli.many_cycles import start_cycles
from ktrdr.contract.requests import AgentTriggerRequest
from tests.conftest import BackendFactory
from tests.integration.test_webhooks import SECRET, verifies
from tests.support.live_backend import LiveBackend, run_ktrdr
from tests.support.waiting import finished_over_http, wait_for_value
from tests.support.webhook_receiver import WebhookReceiver, webhook_receiver

# The receiver URL's path stands for a credential some receivers carry in it.
URL_SECRET_PART = "s3cr3t-path-token"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


def live(factory: BackendFactory, receiver: WebhookReceiver, **env: str) -> LiveBackend:
    backend = factory(start=False)
    backend.env.update({"KTRDR_WEBHOOK_URL": receiver.url, "KTRDR_WEBHOOK_SECRET": SECRET, **env})
    return backend.start()


def api(backend: LiveBackend) -> httpx.Client:
    return httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10)


def cancelled_training(http: httpx.Client) -> str:
    """A root operation that ends at once: a long training, cancelled."""
    reply = http.post("/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 20000})
    assert reply.status_code == 202, reply.text
    op_id: str = reply.json()["data"]["operation_id"]
    http.delete(f"/operations/{op_id}")
    assert finished_over_http(http, op_id, 30)["status"] == "cancelled"
    return op_id


def deliveries(http: httpx.Client, op_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = http.get(f"/operations/{op_id}/deliveries").json()["data"]
    return answer


def test_a_delivery_due_at_a_kill_goes_out_after_the_restart(
    backend_factory: BackendFactory, receiver: WebhookReceiver
) -> None:
    receiver.behaviour.then = 500  # down until told otherwise
    backend = live(backend_factory, receiver, KTRDR_WEBHOOK_RETRY_FIRST_SECONDS="3")
    with api(backend) as http:
        op_id = cancelled_training(http)
        (first,) = receiver.wait_for(1, timeout=15)
        assert first.answered == 500
        # The failed attempt is on disk (the API reads the store) before the kill.
        wait_for_value(
            lambda: deliveries(http, op_id)["deliveries"],
            lambda found: len(found) == 1 and len(found[0]["attempts"]) == 1,
            timeout=10,
            what="the first attempt recorded",
        )
    backend.kill()
    receiver.behaviour.then = 204
    assert len(receiver.received) == 1, "no retry before the kill (3 s ± 20 %)"
    backend.start()
    got = receiver.wait_for(2, timeout=30)
    assert [r.answered for r in got] == [500, 204]
    assert got[1].headers["webhook-id"] == first.headers["webhook-id"]
    assert verifies(got[1]) and got[1].json()["data"]["operation"]["operation_id"] == op_id
    with api(backend) as http:
        answer = wait_for_value(
            lambda: deliveries(http, op_id),
            lambda found: found["deliveries"][0]["state"] == "delivered",
            timeout=10,
            what="the delivery recorded as delivered",
        )
    (delivery,) = answer["deliveries"]
    assert delivery["endpoint"] == receiver.url.split("/hooks")[0]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 204]
    shown = run_ktrdr(backend.env, "ops", "show", op_id, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "Notifications" in shown.stdout and "operation.cancelled" in shown.stdout
    assert delivery["endpoint"] in shown.stdout and "HTTP 500" in shown.stdout
    log = backend.log_path.read_text(errors="replace")
    assert "webhook delivered" in log
    for secret in (SECRET, SECRET.removeprefix("whsec_"), URL_SECRET_PART):
        assert secret not in shown.stdout and secret not in log and secret not in str(answer)


def test_a_hanging_receiver_never_slows_health(
    backend_factory: BackendFactory, receiver: WebhookReceiver
) -> None:
    backend = live(backend_factory, receiver, KTRDR_WEBHOOK_TIMEOUT_SECONDS="120")

    def health_times(count: int) -> list[float]:
        times = []
        with httpx.Client(base_url=backend.url, timeout=10) as http:
            for _ in range(count):
                started = time.perf_counter()
                assert http.get("/api/v1/health").status_code == 200
                times.append(time.perf_counter() - started)
        return times

    before = health_times(40)
    receiver.behaviour.hang = True
    with api(backend) as http:
        for _ in range(6):  # more ends than the notifier's sender threads
            cancelled_training(http)
    assert len(receiver.wait_for(4, timeout=20)) >= 4, "every sender holds a hanging request"
    during = health_times(40)
    assert len(receiver.received) == 4  # still hanging, none retried or given up meanwhile
    receiver.release()
    # The worst of 40 while four requests hang, against the same backend's own before.
    assert max(during) < 0.5, during
    assert statistics.median(during) < max(0.05, 3 * statistics.median(before)), (before, during)


def test_a_count_batch_is_announced_when_its_last_cycle_ends(
    backend_factory: BackendFactory, receiver: WebhookReceiver
) -> None:
    backend = live(backend_factory, receiver, KTRDR_MAX_ACTIVE_CYCLES="2")
    request = AgentTriggerRequest(folds=0, candidates=1, epochs=5)
    with backend.client() as client:
        started = start_cycles(client, request, first_seed=7, count=2)  # as --count 2 does
        client.cancel_operation(started[0].operation_id)
    with api(backend) as http:
        finished_over_http(http, started[0].operation_id, 30)
        early = receiver.wait_for(1, timeout=15)
        assert [r.json()["type"] for r in early] == ["operation.cancelled"]
        http.delete(f"/operations/{started[1].operation_id}")
        finished_over_http(http, started[1].operation_id, 30)
    got = receiver.wait_for(3, timeout=15)
    types = sorted(r.json()["type"] for r in got)
    assert types == ["batch.ended", "operation.cancelled", "operation.cancelled"]
    (batch,) = [r.json()["data"] for r in got if r.json()["type"] == "batch.ended"]
    assert batch["size"] == 2 and batch["counts"] == {"cancelled": 2}
    assert [o["operation"]["operation_id"] for o in batch["operations"]] == [
        c.operation_id for c in started
    ]
    assert all(
        o["url"].endswith(f"/operations/{o['operation']['operation_id']}")
        for o in batch["operations"]
    )
