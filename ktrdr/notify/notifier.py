"""The notifier: turns ended root operations (and ended ``--count`` batches) into
deliveries, and sends them on its own threads.

- ``observe`` is a listener of the operations service (``add_listener``): it runs under the
  service's lock, so it only appends the ended operation to an inbox and wakes the
  dispatcher. Everything else happens on the notifier's threads.
- The dispatcher thread turns the inbox into stored deliveries, then hands the deliveries
  that are due to the sender threads, and sleeps until the next one is due (or it is woken).
- Each sender thread sends one delivery at a time (signed anew for each attempt) and
  records the attempt; a failure is retried by ``RetryPolicy``. A receiver that hangs holds
  one sender thread for the sender's timeout, and nothing else.

A delivery is claimed with a lease before it is sent: a process killed mid-send sends it
again after a restart, with the same ``webhook-id``.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import quote

from ktrdr.logging import get_logger
from ktrdr.notify.deliveries import (
    Attempt,
    BatchJoin,
    BatchMember,
    Delivery,
    DeliveryRecord,
    DeliveryState,
    DeliveryStore,
    NewDelivery,
)
from ktrdr.notify.endpoints import origin_of
from ktrdr.notify.payloads import (
    OperationEnded,
    WebhookMessage,
    batch_message,
    batch_of,
    event_of,
    operation_message,
)
from ktrdr.notify.retry import RetryPolicy
from ktrdr.notify.sender import SendOutcome, WebhookSender
from ktrdr.notify.signing import new_message_id, signed_headers
from ktrdr.records.models import Operation

DEFAULT_SENDERS = 4
# The dispatcher looks at the store at least this often even when nothing wakes it.
MAX_IDLE_SECONDS = 60.0
# How long past its sender's timeout a claimed delivery stays claimed.
LEASE_MARGIN_SECONDS = 5.0
# How soon the dispatcher looks again at a delivery past due that it cannot hand out.
OVERDUE_LOOK_SECONDS = 0.2
# Operations whose end was already taken in (a listener may see a terminal version again).
SEEN_REMEMBERED = 4_096
NO_LONGER_CONFIGURED = "not sent: this receiver is no longer configured"

_log = get_logger("ktrdr.webhooks")


class Notifier:
    """``endpoints``: the receivers' URLs; ``key``: the HMAC key (``Settings.webhook_key``);
    ``page_base_url``: where the backend's page is (an operation's page is
    ``{page_base_url}/operations/{id}``). Call ``start`` once, ``close`` at the end."""

    def __init__(
        self,
        store: DeliveryStore,
        sender: WebhookSender,
        *,
        endpoints: Sequence[str],
        key: bytes,
        page_base_url: str,
        policy: RetryPolicy | None = None,
        senders: int = DEFAULT_SENDERS,
        lease_seconds: float = 10.0 + LEASE_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._endpoints = tuple(endpoints)
        self._key = key
        self._base = page_base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._senders = max(1, senders)
        self._lease = lease_seconds
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = threading.Condition(threading.Lock())
        self._inbox: list[Operation] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[int] = set()
        self._kicked = False
        self._stopping = False
        self._queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self._endpoints

    # ------------------------------------------------------------------ intake
    def observe(self, op: Operation) -> None:
        """A listener of the service: an ended root operation is queued (memory only)."""
        if event_of(op) is None:
            return
        with self._wake:
            if op.operation_id in self._seen:
                return
            self._seen[op.operation_id] = None
            if len(self._seen) > SEEN_REMEMBERED:
                self._seen.popitem(last=False)
            self._inbox.append(op)
            self._wake.notify()

    def announce(self, ops: Iterable[Operation]) -> None:
        """Ends the listener did not see (a restart ending interrupted work)."""
        for op in ops:
            self.observe(op)

    def deliveries(self, operation_id: str) -> list[DeliveryRecord]:
        """The deliveries about an operation (and about the batches it is part of)."""
        return self._store.for_operation(operation_id)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._dispatch_loop, name="ktrdr-webhooks", daemon=True),
            *(
                threading.Thread(
                    target=self._send_loop, name=f"ktrdr-webhook-sender-{n}", daemon=True
                )
                for n in range(self._senders)
            ),
        ]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Store what ended until now, stop the threads (a send under way is left to its
        timeout: its lease brings it back after a restart) and close the store."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for _ in range(self._senders):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if not self._threads:  # never started: what was observed is still stored
            self._take_in(self._take_inbox())
        self._sender.close()
        self._store.close()

    # ------------------------------------------------------------------ dispatcher
    def _dispatch_loop(self) -> None:
        while True:
            wait = self._idle_wait()
            with self._wake:
                if not (self._inbox or self._kicked or self._stopping):
                    self._wake.wait(timeout=wait)
                self._kicked = False
                stopping = self._stopping
            self._take_in(self._take_inbox())
            if stopping:
                return
            self._hand_out()

    def _take_inbox(self) -> list[Operation]:
        with self._wake:
            ended, self._inbox = self._inbox, []
        return ended

    def _idle_wait(self) -> float:
        with self._wake:
            if len(self._in_flight) >= self._senders:
                return MAX_IDLE_SECONDS  # a sender finishing wakes the dispatcher
        try:
            due = self._store.next_due()
        except Exception:
            _log.exception("webhook deliveries cannot be read")
            return MAX_IDLE_SECONDS
        if due is None:
            return MAX_IDLE_SECONDS
        left = due - self._clock()
        # Past due yet not handed out: one still being sent past its lease (a receiver
        # trickling its answer). Look again shortly rather than spin.
        return min(MAX_IDLE_SECONDS, left if left > 0 else OVERDUE_LOOK_SECONDS)

    def _hand_out(self) -> None:
        with self._wake:
            free = self._senders - len(self._in_flight)
            busy = set(self._in_flight)
        if free <= 0:
            return
        now = self._clock()
        try:
            claimed = self._store.claim_due(now, now + self._lease, free, exclude=busy)
        except Exception:
            _log.exception("webhook deliveries cannot be read")
            return
        with self._wake:
            self._in_flight.update(d.delivery_id for d in claimed)
        for delivery in claimed:
            self._queue.put(delivery)

    def _take_in(self, ended: list[Operation]) -> None:
        for op in ended:
            try:
                self._store_deliveries(op)
            except Exception:  # a full disk: this end goes unannounced, the next may not
                _log.exception("webhook deliveries cannot be stored", subject=op.operation_id)

    def _store_deliveries(self, op: Operation) -> None:
        now = self._clock()
        message = operation_message(op, f"{self._base}/operations/{quote(op.operation_id)}")
        deliveries = self._to_endpoints(op.operation_id, message, now)
        batch = batch_of(op)
        if batch is None or not isinstance(message.data, OperationEnded):
            self._store.add(deliveries)
            return
        batch_id, size = batch
        member = BatchMember(batch_id, size, op.operation_id, message.data.model_dump_json())

        def when_full(members: Sequence[BatchMember]) -> Sequence[NewDelivery]:
            items = [OperationEnded.model_validate_json(m.item) for m in members]
            return self._to_endpoints(batch_id, batch_message(batch_id, size, items), now)

        self._store.add(deliveries, BatchJoin(member, when_full))

    def _to_endpoints(
        self, subject_id: str, message: WebhookMessage, now: float
    ) -> list[NewDelivery]:
        body = message.model_dump_json().encode()
        message_id = new_message_id()  # one event, one id, whichever receiver gets it
        return [
            NewDelivery(message_id, subject_id, message.type.value, url, body, now)
            for url in self._endpoints
        ]

    # ------------------------------------------------------------------ senders
    def _send_loop(self) -> None:
        while (delivery := self._queue.get()) is not None:
            try:
                self._attempt(delivery)
            except Exception:
                if not self._stopping:
                    _log.exception("webhook attempt could not be recorded")
            finally:
                with self._wake:
                    self._in_flight.discard(delivery.delivery_id)
                    self._kicked = True
                    self._wake.notify()

    def _attempt(self, delivery: Delivery) -> None:
        started = self._clock()
        configured = delivery.url in self._endpoints
        if configured:
            headers = signed_headers(self._key, delivery.message_id, int(started), delivery.body)
            outcome = self._sender.send(delivery.url, headers, delivery.body)
        else:
            outcome = SendOutcome(None, NO_LONGER_CONFIGURED)
        ended = self._clock()
        number = delivery.attempts + 1
        retry_at = None
        if not outcome.delivered and configured:
            retry_at = self._policy.next_attempt_at(delivery.created_at, ended, number, self._rng)
        state = (
            DeliveryState.DELIVERED
            if outcome.delivered
            else DeliveryState.DUE
            if retry_at is not None
            else DeliveryState.GAVE_UP
        )
        attempt = Attempt(
            number, started, ended - started, outcome.status_code, outcome.error, retry_at
        )
        self._store.record_attempt(delivery.delivery_id, attempt, state)
        _logged(delivery, attempt, state)


def _logged(delivery: Delivery, attempt: Attempt, state: DeliveryState) -> None:
    fields = {
        "endpoint": origin_of(delivery.url),  # never the whole URL: it may carry a token
        "webhook_event": delivery.event_type,
        "subject": delivery.subject_id,
        "webhook_message": delivery.message_id,
        "attempt": attempt.number,
        "status_code": attempt.status_code,
        "seconds": round(attempt.seconds, 3),
    }
    if state is DeliveryState.DELIVERED:
        _log.info("webhook delivered", **fields)
    elif state is DeliveryState.DUE and attempt.next_attempt_at is not None:
        retry_in = round(attempt.next_attempt_at - attempt.started_at - attempt.seconds, 1)
        _log.warning("webhook attempt failed", error=attempt.error, retry_in=retry_in, **fields)
    else:
        _log.error("webhook given up", error=attempt.error, **fields)
