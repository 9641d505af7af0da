"""The HTTP edge. Only this package imports FastAPI (``schemas`` is plain pydantic)."""
