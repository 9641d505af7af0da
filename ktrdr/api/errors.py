"""Maps every error to the JSON error envelope: no HTML pages, no tracebacks on the wire.

Three promises hold for every error response:
- it is small: messages and the values they quote are cut short, and a request with
  thousands of mistakes lists the first ``MAX_LISTED_ERRORS`` and counts the rest;
- it is a 4xx whenever the request is at fault (a name the filesystem refuses, a NUL
  byte, a full disk is a 507), and a 500 only for our own bugs;
- it leaves the connection usable: errors are answered as ordinary responses, so the
  next request on the same keep-alive connection works (``UnexpectedErrorMiddleware``
  catches what no handler did, instead of letting the server drop the connection).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ktrdr.api.strict_json import StrictJSONResponse
from ktrdr.contract.operations import ErrorBody, ErrorEnvelope
from ktrdr.errors import (
    ClusterUnavailableError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    JobFailedError,
    KtrdrError,
    NotFoundError,
    StorageUnavailableError,
)
from ktrdr.excerpt import clip
from ktrdr.logging import get_logger

_STATUS_BY_ERROR: list[tuple[type[KtrdrError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidRequestError, 422),
    (ConfigurationError, 400),
    (JobFailedError, 500),
    (StorageUnavailableError, 503),
    (ClusterUnavailableError, 503),
]

MAX_MESSAGE_CHARS = 1_000
MAX_TEXT_CHARS = 200  # one error's message, a field name, a quoted value
MAX_LISTED_ERRORS = 20
MAX_LIST_ITEMS = 50
_SUMMARISED_ERRORS = 3
_FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _bounded(value: Any, depth: int = 0) -> Any:
    """Details as sent: strings and lists cut short, nesting cut off, so no detail can carry
    a whole request back to its sender."""
    if isinstance(value, str):
        return clip(value, MAX_TEXT_CHARS)
    if depth > 4:
        return None
    if isinstance(value, Mapping):
        return {
            clip(str(key), MAX_TEXT_CHARS): _bounded(item, depth + 1)
            for key, item in list(value.items())[:MAX_LIST_ITEMS]
        }
    if isinstance(value, list | tuple):
        return [_bounded(item, depth + 1) for item in value[:MAX_LIST_ITEMS]]
    return value


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> StrictJSONResponse:
    body = ErrorEnvelope(
        error=ErrorBody(
            code=code, message=clip(message, MAX_MESSAGE_CHARS), details=_bounded(details or {})
        )
    )
    return StrictJSONResponse(status_code=status, content=body.model_dump(mode="json"))


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return clip(".".join(parts) or ".".join(str(p) for p in loc), MAX_TEXT_CHARS)


def validation_response(errors: Sequence[Mapping[str, Any]]) -> StrictJSONResponse:
    """422 for a list of pydantic errors: the first ``MAX_LISTED_ERRORS`` with their field
    and message (never the input itself), and how many more there were."""
    listed = [
        {
            "field": _field_name(tuple(e.get("loc", ()))),
            "message": clip(str(e.get("msg", "")).removeprefix("Value error, "), MAX_TEXT_CHARS),
        }
        for e in errors[:MAX_LISTED_ERRORS]
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in listed[:_SUMMARISED_ERRORS])
    more = len(errors) - min(len(errors), _SUMMARISED_ERRORS)
    if more:
        summary += f" (and {more:,} more)"
    details: dict[str, Any] = {"errors": listed}
    if len(errors) > len(listed):
        details["more_errors"] = len(errors) - len(listed)
    return error_response(422, "validation_error", f"Invalid request: {summary}", details)


def _storage_response(exc: OSError) -> StrictJSONResponse | None:
    """The filesystem's refusals that the request caused or cannot help: not our bugs."""
    if exc.errno in _FULL_DISK:
        return error_response(
            507,
            "insufficient_storage",
            "The backend's data dir is out of space (or over its quota); nothing was "
            "stored. Free some space and try again.",
            {"reason": exc.strerror or ""},
        )
    if exc.errno == errno.ENAMETOOLONG:
        return error_response(
            422, "name_too_long", "A name or path in the request is too long for the filesystem"
        )
    return None


def _unexpected(path: str, exc: BaseException) -> StrictJSONResponse:
    get_logger("ktrdr.api").error(
        "unhandled error",
        path=path,
        error=clip(f"{type(exc).__name__}: {exc}", MAX_MESSAGE_CHARS),
        exc_info=exc,
    )
    return error_response(500, "internal_error", "Internal server error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KtrdrError)
    async def _ktrdr_error(_request: Request, exc: KtrdrError) -> StrictJSONResponse:
        status = next((s for t, s in _STATUS_BY_ERROR if isinstance(exc, t)), 500)
        return error_response(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(
        _request: Request, exc: RequestValidationError
    ) -> StrictJSONResponse:
        return validation_response(exc.errors())

    @app.exception_handler(ValidationError)
    async def _model_invalid(_request: Request, exc: ValidationError) -> StrictJSONResponse:
        # A domain model built from the request inside a route (e.g. a strategy config).
        return validation_response(exc.errors(include_url=False, include_input=False))

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> StrictJSONResponse:
        return _storage_response(exc) or _unexpected(request.url.path, exc)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError) -> StrictJSONResponse:
        if "null byte" in str(exc):  # os and pathlib refuse paths holding NUL this way
            return error_response(422, "invalid_name", "A name or path holds a NUL byte")
        return _unexpected(request.url.path, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> StrictJSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))


class UnexpectedErrorMiddleware:
    """The last resort: an exception no handler took becomes a 500 envelope, answered as a
    normal response so the server keeps the connection open (Starlette's own last handler
    re-raises after answering, and the server then drops the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started:
                raise  # half a response is on the wire: only closing can end it
            await _unexpected(str(scope.get("path", "")), exc)(scope, receive, send)
