"""Strict JSON on the wire: a non-finite float goes out as null, never as NaN or Infinity.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which no strict JSON parser
(browsers' ``JSON.parse``, Go, Rust, ``jq``) accepts; Starlette's own response refuses them
with an exception instead, which would turn one odd metric into a 500. A metric that has
no finite value (a profit factor with no losing trade) is best read as "no value": null.
Responses built from a response model take pydantic's serializer, which writes null too.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse


def finite_only(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_only(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_only(item) for item in value]
    return value


class StrictJSONResponse(JSONResponse):
    """The app's JSON response class: strict JSON whatever the content holds."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            finite_only(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
