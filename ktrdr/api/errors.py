"""Maps every error to the JSON error envelope: no HTML pages, no tracebacks on the wire."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ktrdr.api.schemas import ErrorBody, ErrorEnvelope
from ktrdr.errors import (
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    JobFailedError,
    KtrdrError,
    NotFoundError,
)
from ktrdr.logging import get_logger

_STATUS_BY_ERROR: list[tuple[type[KtrdrError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidRequestError, 422),
    (ConfigurationError, 400),
    (JobFailedError, 500),
]


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message, details=details or {}))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KtrdrError)
    async def _ktrdr_error(_request: Request, exc: KtrdrError) -> JSONResponse:
        status = next((s for t, s in _STATUS_BY_ERROR if isinstance(exc, t)), 500)
        return error_response(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return error_response(
            422, "validation_error", f"Invalid request: {summary}", {"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        get_logger("ktrdr.api").error(
            "unhandled error", path=request.url.path, error=f"{type(exc).__name__}: {exc}"
        )
        return error_response(500, "internal_error", "Internal server error; see the server log")
