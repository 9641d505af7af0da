"""KtrdrClient: typed calls to the backend, sync and async, over an injectable transport."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias, TypeVar

import httpx

from ktrdr.client import calls
from ktrdr.client.calls import Call, path_segment
from ktrdr.client.errors import (
    ApiError,
    BackendTimeoutError,
    BackendUnavailableError,
    api_error,
)
from ktrdr.contract.cancelling import CancelPublic
from ktrdr.contract.catalog import ModelPublic, SeriesDetailPublic, SeriesPublic
from ktrdr.contract.operations import (
    AgentStatusPublic,
    HealthPublic,
    OperationPublic,
    OperationStarted,
    OperationSummaryPublic,
    TreePublic,
)
from ktrdr.contract.pictures import (
    MAX_POINTS_DEFAULT,
    BacktestSeriesPublic,
    TrainingHistoryPublic,
)
from ktrdr.contract.requests import (
    AgentTriggerRequest,
    BacktestStartRequest,
    DataImportRequest,
    TrainingStartRequest,
)
from ktrdr.errors import InvalidRequestError

__all__ = ["API_PREFIX", "AsyncKtrdrClient", "ClientTimeout", "KtrdrClient", "path_segment"]

T = TypeVar("T")
API_PREFIX = "/api/v1"
# The in-process stand-ins tests may hand the async client instead of a network connection.
AsyncTransport: TypeAlias = httpx.AsyncBaseTransport


@dataclass(frozen=True)
class ClientTimeout:
    """How long a request may wait, in seconds: ``connect`` for the connection, ``seconds``
    for every other step (sending, the answer, a free pooled connection). ktrdr's own type,
    so that code outside ``ktrdr.client`` never needs httpx to set one."""

    seconds: float
    connect: float | None = None  # None: the same as ``seconds``

    def __post_init__(self) -> None:
        if self.seconds <= 0 or (self.connect is not None and self.connect <= 0):
            raise ValueError(f"timeouts must be positive: {self}")


DEFAULT_TIMEOUT = ClientTimeout(10.0, connect=2.0)


def _httpx_timeout(timeout: float | ClientTimeout) -> httpx.Timeout:
    if not isinstance(timeout, ClientTimeout):
        timeout = ClientTimeout(float(timeout))
    # httpx reads connect=None as "wait forever", ours as "the same as the rest"
    connect = timeout.seconds if timeout.connect is None else timeout.connect
    return httpx.Timeout(timeout.seconds, connect=connect)


def _auth_headers(token: str | None) -> dict[str, str]:
    """The bearer token of a shared backend (KTRDR_API_TOKEN), when there is one."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ApiError(
            response.status_code,
            "bad_response",
            f"Backend answered HTTP {response.status_code} with a body that is not JSON "
            f"(is {response.request.url.host}:{response.request.url.port} a ktrdr backend?)",
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            response.status_code, "bad_response", "Backend answered with non-object JSON"
        )
    if response.is_success and body.get("success") is True:
        return body
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(err, dict)
    raise api_error(
        response.status_code,
        str(err.get("code", f"http_{response.status_code}")),
        str(err.get("message", f"HTTP {response.status_code}")),
        dict(err.get("details") or {}),
    )


def _transport_error(base_url: str, exc: httpx.HTTPError) -> BackendUnavailableError:
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeoutError(
            f"The ktrdr backend at {base_url} did not answer in time",
            details={"url": base_url},
        )
    return BackendUnavailableError(
        f"Cannot reach the ktrdr backend at {base_url} ({type(exc).__name__})",
        details={"url": base_url},
    )


def _verify(base_url: str) -> bool:
    """Certificates are checked for an https backend. A plain-http one (the loopback
    default) has no TLS to check, and skipping it spares every command the ~0.1 s of loading
    the CA bundle; redirects are not followed, so no request can move onto TLS unchecked."""
    return base_url.lower().startswith("https:")


def _invalid_url() -> InvalidRequestError:
    # httpx refuses to build the URL (e.g. far too long); the input is the caller's.
    return InvalidRequestError("the request cannot be sent: a name or id in it is not usable")


class KtrdrClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | ClientTimeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            timeout=_httpx_timeout(timeout),
            transport=transport,
            headers=_auth_headers(token),
            verify=_verify(self.base_url),
        )

    def __enter__(self) -> KtrdrClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise _transport_error(self.base_url, exc) from None
        except httpx.InvalidURL:
            raise _invalid_url() from None
        return _decode(response)

    def _run(self, call: Call[T]) -> T:
        return call.parse(self.request(call.method, call.path, params=call.params, json=call.json))

    def health(self) -> HealthPublic:
        return self._run(calls.health())

    def list_operations(
        self,
        *,
        status: str | None = None,
        operation_type: str | None = None,
        parent_operation_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[OperationSummaryPublic], int]:
        """Newest first, as summaries; ``get_operation`` has everything about one."""
        return self._run(
            calls.list_operations(status, operation_type, parent_operation_id, limit, offset)
        )

    def get_operation(self, operation_id: str) -> OperationPublic:
        return self._run(calls.get_operation(operation_id))

    def cancel_operation(self, operation_id: str) -> CancelPublic:
        return self._run(calls.cancel_operation(operation_id))

    def start_training(self, request: TrainingStartRequest) -> OperationStarted:
        return self._run(calls.start_training(request))

    def start_backtest(self, request: BacktestStartRequest) -> OperationStarted:
        return self._run(calls.start_backtest(request))

    def trigger_cycle(self, request: AgentTriggerRequest) -> OperationStarted:
        """Start a research cycle (409 ``cycle_already_active`` when the backend is full)."""
        return self._run(calls.trigger_cycle(request))

    def agent_status(self) -> AgentStatusPublic:
        return self._run(calls.agent_status())

    def list_series(self) -> list[SeriesPublic]:
        return self._run(calls.list_series())

    def show_series(
        self,
        symbol: str,
        *,
        timeframe: str = "1d",
        tail: int = 10,
        start: date | None = None,
        end: date | None = None,
    ) -> SeriesDetailPublic:
        """A series' span, its last ``tail`` bars in [start, end] and that range's stats."""
        return self._run(calls.show_series(symbol, timeframe, tail, start, end))

    def import_series(self, request: DataImportRequest) -> SeriesPublic:
        return self._run(calls.import_series(request))

    def list_models(self) -> list[ModelPublic]:
        return self._run(calls.list_models())

    def get_training_history(
        self, operation_id: str, since: int | None = None, max_points: int | None = None
    ) -> TrainingHistoryPublic:
        """A training's epochs (after ``since``): live while it runs, all once it ended
        (thinned to about ``max_points``, extremes kept, when given)."""
        return self._run(calls.training_history(operation_id, since, max_points))

    def get_backtest_series(
        self, operation_id: str, max_points: int = MAX_POINTS_DEFAULT
    ) -> BacktestSeriesPublic:
        """A completed backtest's equity, buy-and-hold and drawdown (at most
        ``max_points`` of them) and its trades."""
        return self._run(calls.backtest_series(operation_id, max_points))


class AsyncKtrdrClient:
    """The same calls for asyncio code, and the tree long-poll the monitor follows with."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | ClientTimeout = DEFAULT_TIMEOUT,
        transport: AsyncTransport | None = None,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout if isinstance(timeout, ClientTimeout) else ClientTimeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            timeout=_httpx_timeout(timeout),
            transport=transport,
            headers=_auth_headers(token),
            verify=_verify(self.base_url),
        )

    async def __aenter__(self) -> AsyncKtrdrClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        try:
            if timeout is None:
                return await self._http.request(method, path, params=params, json=json)
            return await self._http.request(method, path, params=params, json=json, timeout=timeout)
        except httpx.HTTPError as exc:
            raise _transport_error(self.base_url, exc) from None
        except httpx.InvalidURL:
            raise _invalid_url() from None

    async def get_tree(
        self, operation_id: str, since: int = 0, wait: float = 0.0
    ) -> TreePublic | None:
        """The operation with all its descendants. With ``wait``, the backend holds the
        request until the tree passes version ``since`` (then the tree, with the changes
        since) or for ``wait`` seconds (then None: nothing changed). The answer may take
        ``wait`` seconds, so this request's timeout is the client's plus the wait."""
        timeout = _httpx_timeout(
            ClientTimeout(
                self._timeout.seconds + wait,
                connect=self._timeout.connect or self._timeout.seconds,
            )
        )
        response = await self._send(
            "GET",
            f"/operations/{path_segment(operation_id)}/tree",
            params={"since": since, "wait": wait},
            timeout=timeout,
        )
        if response.status_code == 304:
            return None
        return TreePublic.model_validate(_decode(response)["data"])

    async def _run(self, call: Call[T]) -> T:
        response = await self._send(call.method, call.path, params=call.params, json=call.json)
        return call.parse(_decode(response))

    async def get_operation(self, operation_id: str) -> OperationPublic:
        return await self._run(calls.get_operation(operation_id))

    async def cancel_operation(self, operation_id: str) -> CancelPublic:
        return await self._run(calls.cancel_operation(operation_id))

    async def trigger_cycle(self, request: AgentTriggerRequest) -> OperationStarted:
        return await self._run(calls.trigger_cycle(request))

    async def get_training_history(
        self, operation_id: str, since: int | None = None, max_points: int | None = None
    ) -> TrainingHistoryPublic:
        return await self._run(calls.training_history(operation_id, since, max_points))

    async def get_backtest_series(
        self, operation_id: str, max_points: int = MAX_POINTS_DEFAULT
    ) -> BacktestSeriesPublic:
        return await self._run(calls.backtest_series(operation_id, max_points))
