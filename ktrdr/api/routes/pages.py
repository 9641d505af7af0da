"""The web page: one HTML shell for every page route and its own script and style.

The page is static: the shell carries no data, and the script (``ktrdr/api/web/*.js``)
reads everything from the JSON API of the same origin and builds the DOM with
``textContent`` and ``createElement`` only, so nothing in the data (a strategy name, an
error message) can become markup. The Content-Security-Policy says the same to the
browser: scripts, styles and connections from this origin only, no inline script, no
framing (clickjacking), no ``<base>`` or off-site form targets. The files ship inside the
package (no CDN, no build step): the page works offline.

The API reference at ``/docs`` follows the same rules: Swagger UI 5 (it reads the OpenAPI
3.1 that FastAPI writes) comes from the copy the ``fastapi-offline`` package ships, served
under ``/docs/assets`` (never from a CDN) and started by ``web/docs.js`` rather than an
inline script, under the same headers. FastAPI's own ``/docs`` and ``/redoc`` load their
scripts from a CDN: they are switched off.

The request guard (``ktrdr.api.guards``) covers these routes like any other: a foreign
``Host`` gets 421, and they answer GET only, so a write to them is refused before it
could matter.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Response

from ktrdr.errors import NotFoundError

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
SHELL = "index.html"
DOCS_PAGE = "docs.html"
# The only files /static serves, with their media types: nothing else in the folder (or
# outside it) can be named by a request.
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@cache
def web_file(name: str) -> bytes:
    """A file shipped in ``ktrdr/api/web``, read once: they never change while the backend
    runs, so the handlers stay on the event loop with no file I/O after the first read."""
    return resources.files("ktrdr.api").joinpath("web", name).read_bytes()


@cache
def static_names() -> frozenset[str]:
    folder = resources.files("ktrdr.api").joinpath("web")
    return frozenset(
        item.name
        for item in folder.iterdir()
        if item.is_file() and any(item.name.endswith(s) for s in STATIC_TYPES)
    )


# The page addresses: each answers the same shell, and the script reads which page (and, on
# an operation's or a backtest's page, the id) from the address, then asks the API (an
# unknown id shows the API's "not found" message).
PAGE_PATHS = (
    "/",
    "/results",
    "/compare",
    "/operations/{operation_id}",
    "/backtests/{operation_id}",
)


async def _shell() -> Response:
    return Response(
        web_file(SHELL),
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


for _path in PAGE_PATHS:
    router.add_api_route(_path, _shell, methods=["GET"])


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    if name not in static_names():
        raise NotFoundError(f"no such file: /static/{name[:80]}", code="not_found")
    suffix = name[name.rfind(".") :]
    return Response(
        web_file(name),
        media_type=STATIC_TYPES[suffix],
        # Revalidated on each load (cheap on loopback), so an upgraded backend never
        # serves a page with last version's script.
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


# The Swagger UI files /docs loads, with their media types: nothing else in the package
# can be named by a request.
SWAGGER_UI_FILES = {
    "swagger-ui-bundle.js": STATIC_TYPES[".js"],
    "swagger-ui.css": STATIC_TYPES[".css"],
}


@cache
def swagger_ui_file(name: str) -> bytes:
    """A file of the packaged Swagger UI, read once (only its files are used, not its code)."""
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


@router.get("/docs")
async def api_docs() -> Response:
    return Response(
        web_file(DOCS_PAGE),
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


@router.get("/docs/assets/{name}")
async def api_docs_asset(name: str) -> Response:
    media_type = SWAGGER_UI_FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"no such file: /docs/assets/{name[:80]}", code="not_found")
    return Response(
        swagger_ui_file(name),
        media_type=media_type,
        # A megabyte that changes only with the installed package: kept for an hour.
        headers={**SECURITY_HEADERS, "Cache-Control": "max-age=3600"},
    )
