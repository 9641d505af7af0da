"""How a followed operation looks: live bars, plain lines, JSON or NDJSON, behind one Renderer."""

from ktrdr.cli.views.json_output import JsonRenderer
from ktrdr.cli.views.live import LiveRenderer, monitor_view
from ktrdr.cli.views.ndjson import NdjsonRenderer
from ktrdr.cli.views.plain import PlainRenderer
from ktrdr.cli.views.renderer import Output, Renderer, renderer_for

__all__ = [
    "JsonRenderer",
    "LiveRenderer",
    "NdjsonRenderer",
    "Output",
    "PlainRenderer",
    "Renderer",
    "monitor_view",
    "renderer_for",
]
