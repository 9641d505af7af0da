"""Random and nasty input against a real backend: whatever arrives, the answer is never a 5xx,
always strict JSON, always small. (Schemathesis-style, with Hypothesis: the request fields
are the API's own, their values anything JSON can carry plus the strings that broke things
before: NUL, newlines, escapes, dots, huge text.)"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.live_backend import LiveBackend

API = "/api/v1"

NASTY = [
    "",
    ".",
    "..",
    "../../etc/passwd",
    "a\x00b",
    "SP500\n",
    "1d\n",
    "0m",
    "\x1b[2J",
    "n" * 300,
    "x" * 20_000,
    "rsi_mean_reversion",
    "SP500",
    "1d",
    "/",
    "%00",
    "\u202e",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(NASTY)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = {
    "/training/start": ["strategy", "strategy_config", "symbol", "timeframe", "epochs",
                        "train_start", "train_end"],
    "/backtests/start": ["model", "symbol", "timeframe", "start_date", "end_date", "mode",
                         "commission", "slippage"],
    "/data/import": ["symbol", "timeframe", "csv_text", "filename"],
}  # fmt: skip


@st.composite
def post_requests(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(sorted(FIELDS)))
    keys = st.sampled_from(FIELDS[path]) | st.text(max_size=8)
    body = draw(st.dictionaries(keys, json_values, max_size=6))
    if draw(st.booleans()):
        return path, json.dumps(body)  # NaN and Infinity tokens included, as Python writes them
    return path, draw(st.sampled_from(["", "{", "[]", "null", '{"a":', "\x00", '"x"']))


segments = st.sampled_from(NASTY) | st.text(min_size=1, max_size=40)


def assert_well_formed(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    assert len(response.content) < 20_000
    if response.is_redirect:
        return  # "/data/" -> "/data": a redirect without a body

    def refuse(token: str) -> None:
        raise AssertionError(f"non-JSON token {token}")

    body = json.loads(response.content, parse_constant=refuse)
    assert isinstance(body, dict) and isinstance(body.get("success"), bool)


def test_random_input_never_gets_a_5xx(backend: LiveBackend) -> None:
    with httpx.Client(base_url=backend.url + API, timeout=60) as http:

        @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
        @given(request=post_requests())
        def posts(request: tuple[str, str]) -> None:
            path, raw = request
            response = http.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert_well_formed(response)

        @settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
        @given(segment=segments, query=st.dictionaries(st.sampled_from(
            ["limit", "offset", "status", "operation_type", "timeframe", "tail", "start"]),
            segments, max_size=3))  # fmt: skip
        def gets(segment: str, query: dict[str, str]) -> None:
            quoted = quote(segment, safe="")
            for path in (f"/data/{quoted}", f"/operations/{quoted}", "/operations"):
                assert_well_formed(http.get(path, params=query))
            assert_well_formed(http.delete(f"/operations/{quoted}"))

        posts()
        gets()
        assert http.get("/health").status_code == 200
    assert backend.running
