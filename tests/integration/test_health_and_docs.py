"""What a caller without the token learns from /health, and the API docs served offline, on
a real backend subprocess (issue 21, items 9 and 11)."""

from __future__ import annotations

import json
import re
import secrets

import httpx

from ktrdr.api.routes.pages import CONTENT_SECURITY_POLICY
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, run_ktrdr

# Everything /health says about the machine: none of it reaches a caller without the token.
MACHINE_FIELDS = (
    "pid",
    "store",
    "store_status",
    "store_problem",
    "executor",
    "executor_name",
    "scheduler",
    "cluster_status",
    "cluster_problem",
    "workers",
    "free_slots",
    "started_at",
    "active_operations",
    "watchers",
)


def backend_with_token(backend_factory: BackendFactory) -> tuple[LiveBackend, str]:
    token = secrets.token_urlsafe(32)
    backend = backend_factory(start=False)
    backend.env["KTRDR_API_TOKEN"] = token
    return backend.start(), token


def health(backend: LiveBackend, token: str | None = None) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = httpx.get(f"{backend.url}/api/v1/health", headers=headers, timeout=10)
    assert reply.status_code == 200
    return dict(reply.json()["data"])


def test_health_without_the_token_answers_liveness_only(
    backend_factory: BackendFactory,
) -> None:
    """Issue 21 item 9: with a token set, /health without it gives no pid, path or counts."""
    backend, token = backend_with_token(backend_factory)
    for sent in (None, "not-the-token-at-all"):
        alive = health(backend, sent)
        assert alive["service"] == "ktrdr" and alive["status"] == "ok", alive
        assert alive["detail"] == "liveness" and isinstance(alive["version"], str)
        shown = {name: alive[name] for name in MACHINE_FIELDS if alive.get(name) is not None}
        assert shown == {}, f"a caller without the token sees {shown}"
        assert str(backend.data_dir) not in json.dumps(alive)
    full = health(backend, token)
    assert full["detail"] == "full" and full["pid"] == backend.pid
    assert str(backend.db_path) in str(full["store"])
    assert full["active_operations"] == 0 and full["executor_name"] == "process"


def test_health_of_a_backend_without_a_token_is_full(backend: LiveBackend) -> None:
    """Issue 21 item 9: no token configured (loopback only): the full answer, as before."""
    full = health(backend)
    assert full["detail"] == "full" and full["pid"] == backend.pid
    assert full["store_status"] == "ok" and full["watchers"] == 0


def test_server_status_with_and_without_the_token(backend_factory: BackendFactory) -> None:
    """Issue 21 item 9: `ktrdr server status` shows the details with the token, and still
    says the backend answers without it."""
    backend, _token = backend_with_token(backend_factory)
    with_token = run_ktrdr(backend.env, "server", "status")
    assert with_token.returncode == 0, with_token.stderr
    assert f"pid {backend.pid}" in with_token.stdout and "store sqlite:" in with_token.stdout

    without_env = {**backend.env, "KTRDR_API_TOKEN": ""}
    without = run_ktrdr(without_env, "server", "status")
    assert without.returncode == 0, without.stderr
    assert "ktrdr backend" in without.stdout and "KTRDR_API_TOKEN" in without.stdout
    assert "pid" not in without.stdout and str(backend.data_dir) not in without.stdout
    as_json = run_ktrdr(without_env, "server", "status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["running"] is True and answer["health"]["detail"] == "liveness"
    assert answer["health"]["pid"] is None


# --- Item 11: /docs offline -------------------------------------------------------------


def test_docs_are_served_from_the_backend_under_the_page_policy(backend: LiveBackend) -> None:
    """Issue 21 item 11: /docs names no other site, and every script and style it loads
    answers 200 from the backend with the web page's security headers."""
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        page = http.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["x-frame-options"] == "DENY"
        html = page.text
        assert "http://" not in html and "https://" not in html and "//" not in html
        assert "<script>" not in html and "style=" not in html  # nothing inline
        scripts = re.findall(r'<script[^>]* src="([^"]+)"', html)
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert len(scripts) == 2 and len(styles) == 1, (scripts, styles)
        for path in scripts + styles:
            asset = http.get(path)
            assert asset.status_code == 200, path
            assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert asset.headers["x-content-type-options"] == "nosniff"
            kind = "text/javascript" if path in scripts else "text/css"
            assert asset.headers["content-type"].startswith(kind), path
        starter = http.get(scripts[-1]).text
        # The spec from this backend, and no badge fetched from validator.swagger.io.
        assert '"/openapi.json"' in starter and "validatorUrl: null" in starter
        bundle = http.get(scripts[0]).text
        assert "SwaggerUIBundle" in bundle
        spec = http.get("/openapi.json").json()
        assert spec["info"]["title"] == "ktrdr"
        # FastAPI writes OpenAPI 3.1, which Swagger UI reads from version 5 on (version 4
        # showed "Unable to render this definition").
        assert not spec["openapi"].startswith("3.1") or "isOAS31" in bundle
        for other in ("/redoc", "/docs/assets/index.html", "/docs/assets/../../pages.py"):
            assert http.get(other).status_code == 404, other
