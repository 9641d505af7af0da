"""Webhooks from a real operations service (built as the backend builds it, SQLite under a
temporary data dir) to a real HTTP receiver on loopback: what is sent, signed how, retried
how, and that a receiver's trouble never reaches the service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from ktrdr.bootstrap import OperationsStack, build_operations
from ktrdr.config import load_settings
from ktrdr.notify.deliveries import DeliveryState
from ktrdr.notify.notifier import NO_LONGER_CONFIGURED
from ktrdr.notify.payloads import BatchEnded, OperationEnded, WebhookMessage
from ktrdr.records.models import OperationType
from tests.support.waiting import wait_for_value
from tests.support.webhook_receiver import Received, WebhookReceiver, webhook_receiver

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def verifies(request: Received, secret: str = SECRET) -> bool:
    """The receiver's check, from the specification alone (not ktrdr's code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    headers = request.headers
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(f"v1,{expected}", given)
        for given in headers["webhook-signature"].split(" ")
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


def operations(tmp_path: Path, receiver: WebhookReceiver, **overrides: object) -> OperationsStack:
    chosen: dict[str, object] = {"webhook_retry_first_seconds": 0.1, **overrides}
    settings = load_settings(
        data_dir=tmp_path / "data", webhook_url=receiver.url, webhook_secret=SECRET, **chosen
    )
    return build_operations(settings)


def test_each_ended_root_is_announced_signed_with_its_row_and_page(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    stack = operations(tmp_path, receiver, api_url="http://ktrdr.example:8000")
    service = stack.service
    try:
        ended = []
        for end in ("complete", "fail", "cancel"):
            op = service.create(OperationType.TRAINING)
            service.start(op.operation_id)
            child = service.create(OperationType.BACKTESTING, parent_operation_id=op.operation_id)
            service.start(child.operation_id)
            service.complete(child.operation_id)  # a child's end is not announced
            if end == "complete":
                service.complete(op.operation_id, {"val_accuracy": 0.5})
            elif end == "fail":
                service.fail(op.operation_id, "boom")
            else:
                service.cancel(op.operation_id)
                service.finish_cancelled(op.operation_id, stopped_at="Epoch 1/2")
            ended.append(op.operation_id)
        got = receiver.wait_for(3, timeout=10)
        time.sleep(0.3)  # nothing more comes: children are not announced
        assert len(receiver.received) == 3
    finally:
        stack.close()
    messages = {r.json()["data"]["operation"]["operation_id"]: r for r in got}
    assert set(messages) == set(ended)
    for op_id, expected in zip(
        ended, ("operation.completed", "operation.failed", "operation.cancelled"), strict=True
    ):
        request = messages[op_id]
        assert verifies(request), "the signature must verify with the secret"
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        message = WebhookMessage.model_validate_json(request.body)
        assert message.type.value == expected
        assert isinstance(message.data, OperationEnded)
        assert message.data.url == f"http://ktrdr.example:8000/operations/{op_id}"
        assert message.data.operation.operation_type is OperationType.TRAINING
        assert message.data.operation.completed_at == message.timestamp
    assert not verifies(got[0], "whsec_" + base64.b64encode(b"x" * 32).decode())


def test_the_official_library_accepts_a_real_delivery(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks")
    stack = operations(tmp_path, receiver)
    try:
        op = stack.service.create(OperationType.TRAINING)
        stack.service.start(op.operation_id)
        stack.service.complete(op.operation_id)
        (request,) = receiver.wait_for(1, timeout=10)
    finally:
        stack.close()
    payload = standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)
    assert payload["type"] == "operation.completed"
    assert payload["data"]["operation"]["operation_id"] == op.operation_id


def test_a_receiver_failing_three_times_gets_the_delivery_exactly_once(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.behaviour.answers = [500, 503, 500]
    stack = operations(tmp_path, receiver)
    try:
        op = stack.service.create(OperationType.TRAINING)
        stack.service.start(op.operation_id)
        stack.service.complete(op.operation_id)
        got = receiver.wait_for(4, timeout=15)
        # Past the longest wait the fourth attempt could have caused (0.8 s, +20 %).
        time.sleep(1.5)
        assert stack.notifier is not None
        (record,) = stack.notifier.deliveries(op.operation_id)
    finally:
        stack.close()
    assert [r.answered for r in receiver.received] == [500, 503, 500, 204]
    assert len(receiver.accepted()) == 1
    assert len({r.headers["webhook-id"] for r in got}) == 1  # one message, four attempts
    assert all(verifies(r) for r in got)
    assert record.delivery.state is DeliveryState.DELIVERED
    assert [(a.number, a.status_code) for a in record.attempts] == [
        (1, 500),
        (2, 503),
        (3, 500),
        (4, 204),
    ]
    waits = [b.started_at - a.started_at for a, b in pairwise(record.attempts)]
    # 0.1 s, 0.2 s, 0.4 s, each ±20 %: backoff doubles.
    for wait, nominal in zip(waits, (0.1, 0.2, 0.4), strict=True):
        assert nominal * 0.8 - 0.01 <= wait <= nominal * 1.2 + 0.5, waits


def test_a_batch_is_announced_once_when_its_last_cycle_ends(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    stack = operations(tmp_path, receiver)
    service = stack.service
    batch = {"batch_id": "batch_test", "batch_size": 3}
    try:
        cycles = [
            service.create(OperationType.AGENT_RESEARCH, parameters={"seed": n, **batch})
            for n in range(3)
        ]
        for op in cycles:
            service.start(op.operation_id)
        service.complete(cycles[0].operation_id)
        service.fail(cycles[1].operation_id, "boom")
        receiver.wait_for(2, timeout=10)
        time.sleep(0.3)
        assert len(receiver.received) == 2  # two of three ended: no batch message yet
        service.cancel(cycles[2].operation_id)
        service.finish_cancelled(cycles[2].operation_id)
        got = receiver.wait_for(4, timeout=10)
        time.sleep(0.3)
    finally:
        stack.close()
    assert len(receiver.received) == 4
    batch_messages = [r for r in got if r.json()["type"] == "batch.ended"]
    assert len(batch_messages) == 1 and verifies(batch_messages[0])
    message = WebhookMessage.model_validate_json(batch_messages[0].body)
    assert isinstance(message.data, BatchEnded)
    assert message.data.batch_id == "batch_test" and message.data.size == 3
    assert message.data.counts == {"completed": 1, "failed": 1, "cancelled": 1}
    assert [o.operation.operation_id for o in message.data.operations] == [
        op.operation_id for op in cycles
    ]
    ends = [o.operation.completed_at for o in message.data.operations if o.operation.completed_at]
    assert len(ends) == 3 and message.timestamp == max(ends)


def test_a_hanging_receiver_costs_the_service_nothing(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.behaviour.hang = True
    stack = operations(tmp_path, receiver, webhook_timeout_seconds=30)
    service = stack.service
    slowest = 0.0
    try:
        for _ in range(12):  # more ends than sender threads: every sender is held
            started = time.perf_counter()
            op = service.create(OperationType.TRAINING)
            service.start(op.operation_id)
            service.complete(op.operation_id)
            slowest = max(slowest, time.perf_counter() - started)
        assert len(receiver.wait_for(4, timeout=10)) >= 4  # the senders are all hanging
        started = time.perf_counter()
        op = service.create(OperationType.TRAINING)
        service.start(op.operation_id)
        service.complete(op.operation_id)
        slowest = max(slowest, time.perf_counter() - started)
        receiver.behaviour.hang = False
        receiver.release()
        # Every end delivered before the close: no send is in flight when the sender's
        # connections are closed (one left mid-send would leak its socket).
        assert len(receiver.wait_for(13, timeout=20)) >= 13
    finally:
        closing = time.perf_counter()
        stack.close()
        closed_in = time.perf_counter() - closing
    assert slowest < 0.25, f"an end took {slowest:.3f}s while the receiver hung"
    assert closed_in < 5.0


def test_work_a_restart_ends_is_announced_failed(tmp_path: Path, receiver: WebhookReceiver) -> None:
    """No listener saw it end: the restart's recovery did, and the notifier is told."""
    before = build_operations(load_settings(data_dir=tmp_path / "data"))  # no webhooks then
    op = before.service.create(OperationType.TRAINING)
    before.service.start(op.operation_id)
    before.close()  # as a crash leaves it: running in the database
    after = operations(tmp_path, receiver)
    try:
        assert op.operation_id in after.service.recovered
        (request,) = receiver.wait_for(1, timeout=10)
    finally:
        after.close()
    message = WebhookMessage.model_validate_json(request.body)
    assert message.type.value == "operation.failed" and verifies(request)
    assert isinstance(message.data, OperationEnded)
    assert message.data.operation.operation_id == op.operation_id


def test_a_receiver_taken_out_of_the_settings_is_given_up(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.behaviour.then = 500
    first = operations(tmp_path, receiver, webhook_retry_first_seconds=0.5)
    op = first.service.create(OperationType.TRAINING)
    first.service.start(op.operation_id)
    first.service.complete(op.operation_id)
    receiver.wait_for(1, timeout=10)
    first.close()  # its retry is still due, to this receiver
    with webhook_receiver() as other:
        second = operations(tmp_path, other)
        try:
            assert second.notifier is not None
            records = wait_for_value(
                lambda: second.notifier.deliveries(op.operation_id) if second.notifier else [],
                lambda found: found[0].delivery.state is DeliveryState.GAVE_UP,
                timeout=10,
                what="the old receiver's delivery given up",
            )
        finally:
            second.close()
        assert other.received == []  # the end was announced before it was configured
    assert len(receiver.received) == 1  # never sent again to a receiver no longer set
    assert records[0].attempts[-1].error == NO_LONGER_CONFIGURED
