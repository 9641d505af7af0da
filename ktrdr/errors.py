"""The ktrdr error tree.

    KtrdrError                      base; carries a machine-readable ``code`` and ``details``
    ├── NotFoundError               something named by the caller does not exist
    │   └── OperationNotFoundError
    ├── ConflictError               the request clashes with current state
    │   ├── OperationFinishedError  the operation is already terminal
    │   └── CycleAlreadyActiveError a research cycle is already running
    ├── InvalidRequestError         the caller's input is wrong (bad filter, bad field...)
    │   ├── DataValidationError     market data that breaks an OHLCV rule
    │   └── StrategyValidationError a strategy definition that cannot be used
    ├── ConfigurationError          the installation lacks something (e.g. an API key)
    │   └── StoreInUseError         another backend holds the operations database
    ├── JobFailedError              real work failed (training diverged, file unreadable...)
    ├── StorageUnavailableError     the operations database cannot be written right now
    │   └── StoreFileReplacedError  its file was removed or replaced under the backend
    ├── ShuttingDownError           the backend is stopping: no new work
    ├── ClusterUnavailableError     the Dask scheduler cannot be reached: no job can start
    └── ClientError                 the client's side of a call to the backend
        ├── BackendUnavailableError nothing answered (refused, reset, DNS): "connection lost"
        │   └── BackendTimeoutError the backend did not answer in time
        └── ApiError                the backend answered with an error envelope (its code)
            ├── NotFoundApiError    404, also a NotFoundError (e.g. an unknown operation)
            └── ConflictApiError    409, also a ConflictError (e.g. a cycle already active)

Services raise these; only ``ktrdr.api`` maps them to HTTP statuses and only ``ktrdr.cli``
turns them into messages and exit codes. The client raises the ``ClientError`` branch
(``ktrdr.client.errors.api_error`` picks the class of an answer), so ``except
NotFoundError`` catches a missing thing whether it was looked for here or on a backend.
Cancellation is a status, not an error: see
``ktrdr.operations.cancellation.CancellationRequested`` for the control-flow signal.
"""

from __future__ import annotations

from typing import Any


class KtrdrError(Exception):
    code = "ktrdr_error"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})


class NotFoundError(KtrdrError):
    code = "not_found"


class OperationNotFoundError(NotFoundError):
    code = "operation_not_found"

    def __init__(self, operation_id: str) -> None:
        super().__init__(
            f"Operation {operation_id!r} not found", details={"operation_id": operation_id}
        )
        self.operation_id = operation_id


class ConflictError(KtrdrError):
    code = "conflict"


class OperationFinishedError(ConflictError):
    code = "operation_already_finished"


class CycleAlreadyActiveError(ConflictError):
    code = "cycle_already_active"


class InvalidRequestError(KtrdrError):
    code = "invalid_request"


class DataValidationError(InvalidRequestError):
    code = "invalid_data"


class StrategyValidationError(InvalidRequestError):
    code = "invalid_strategy"


class ConfigurationError(KtrdrError):
    code = "configuration_error"


class StoreInUseError(ConfigurationError):
    code = "store_in_use"


class StorageUnavailableError(KtrdrError):
    """The operations database cannot be written right now (busy past its timeout, a full
    disk): what needed it was not done, and nothing of it was kept."""

    code = "storage_unavailable"


class JobFailedError(KtrdrError):
    code = "job_failed"


class ClusterUnavailableError(KtrdrError):
    """The compute cluster (the Dask scheduler) cannot be reached right now: the job was
    not started. The backend keeps trying on the next submit."""

    code = "cluster_unavailable"


class ClientError(KtrdrError):
    code = "client_error"


class BackendUnavailableError(ClientError):
    code = "connection_lost"


class BackendTimeoutError(BackendUnavailableError):
    code = "timeout"


class ApiError(ClientError):
    """An error answer from the backend: its HTTP status, and the envelope's code, message
    and details."""

    def __init__(
        self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status_code = status_code


class NotFoundApiError(ApiError, NotFoundError):
    pass


class ConflictApiError(ApiError, ConflictError):
    pass


class ShuttingDownError(KtrdrError):
    """The backend is shutting down: it takes no new work (a 503; start it again, or retry
    against the next one). Work already running is ended and recorded as interrupted."""

    code = "shutting_down"


class StoreFileReplacedError(StorageUnavailableError):
    """The operations database file was removed or replaced while the backend ran: nothing
    more can be kept in it, so no new work is taken until the backend restarts."""

    code = "store_file_replaced"
