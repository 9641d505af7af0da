"""The web page's routes over a real backend: the shell and its files with strict security
headers, nothing else served from the package, and the request guard in front of them
like any API route (foreign Host 421, cross-origin write 403, non-JSON write 415)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest

from ktrdr.api.routes.pages import CONTENT_SECURITY_POLICY
from tests.support.live_backend import LiveBackend

WEB = Path(__file__).resolve().parents[2] / "ktrdr" / "api" / "web"
PAGES = ("/", "/results", "/compare", "/operations/op_training_x", "/backtests/op_backtesting_x")
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    backend = LiveBackend(tmp_path_factory.mktemp("web-routes")).start()
    try:
        with httpx.Client(base_url=backend.url, timeout=10) as client:
            yield client
    finally:
        backend.kill()


def test_every_page_route_serves_the_shell_with_strict_headers(site: httpx.Client) -> None:
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP
    bodies = set()
    for path in PAGES:
        reply = site.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
        assert reply.headers["content-security-policy"] == EXPECTED_CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
        bodies.add(reply.text)
    (shell,) = bodies  # one shell, no data in it
    assert '<script type="module" src="/static/ktrdr.js">' in shell
    assert "<script>" not in shell and "style=" not in shell  # nothing inline for CSP to block
    assert "http://" not in shell and "https://" not in shell  # nothing from elsewhere


def test_static_files_have_their_types_and_nothing_else_is_served(site: httpx.Client) -> None:
    for name in sorted(p.name for p in WEB.iterdir() if p.suffix in (".js", ".css")):
        reply = site.get(f"/static/{name}")
        assert reply.status_code == 200, name
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        assert reply.headers["content-type"] == f"{kind}; charset=utf-8"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.content == (WEB / name).read_bytes()
    for path in (
        "/static/index.html",
        "/static/nope.js",
        "/static/..%2F..%2Fconfig.py",
        "/static/../routes/pages.py",
        "/static/%2e%2e/app.py",
    ):
        reply = site.get(path)
        assert reply.status_code == 404, path
        assert reply.json()["success"] is False


def test_the_guard_covers_the_page_routes(site: httpx.Client) -> None:
    own = str(site.base_url).rstrip("/")
    port = site.base_url.port
    for path in ("/", "/results", "/static/ktrdr.js"):
        reply = site.get(path, headers={"Host": f"evil.example:{port}"})
        assert reply.status_code == 421, path
        assert reply.json()["error"]["code"] == "host_not_allowed"
    foreign = site.post("/", headers={"Origin": "http://evil.example"}, json={})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "cross_origin"
    form = site.post("/", headers={"Origin": own}, data={"a": "b"})
    assert form.status_code == 415
    same = site.post("/", headers={"Origin": own}, json={})
    assert same.status_code == 405  # the pages are read-only


def test_the_script_never_parses_data_as_markup() -> None:
    """Every string reaches the DOM through textContent/setAttribute (see dom.js)."""
    for path in WEB.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (path.name, sink)
        assert "new Function" not in source and 'setAttribute("style"' not in source


def test_the_shell_and_its_imports_name_only_shipped_files() -> None:
    names = {p.name for p in WEB.iterdir()}
    shell = (WEB / "index.html").read_text(encoding="utf-8")
    wanted = set(re.findall(r'(?:src|href)="/static/([^"]+)"', shell))
    for path in WEB.glob("*.js"):
        wanted |= set(re.findall(r'from "\./([^"]+)"', path.read_text(encoding="utf-8")))
    assert wanted and wanted <= names, wanted - names


def test_package_data_ships_every_web_file() -> None:
    """A wheel (non-editable install) must carry the page: pyproject's globs cover it."""
    config = tomllib.loads((WEB.parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["ktrdr.api"]
    for path in WEB.iterdir():
        relative = f"web/{path.name}"
        assert any(fnmatch(relative, g) for g in globs), relative
