"""The answer to a cancel (``DELETE /operations/{id}``): the operation as any read gives it,
plus whether the cancel is on disk yet. A cancel only in memory is lost by a kill: the next
start would find the work interrupted, not cancelled, so the answer says so."""

from __future__ import annotations

from pydantic import Field

from ktrdr.contract.operations import OperationPublic

NOT_DURABLE_WARNING = (
    "The cancel is not saved yet: the operations database cannot be written right now "
    "({cause}). It is retried; if the backend stops before then, the work comes back "
    "failed instead of cancelled."
)


class CancelPublic(OperationPublic):
    durable: bool = Field(
        default=True,
        description="False while the cancel exists only in the backend's memory (writes to "
        "its database fail): a kill now would lose it",
    )
    warning: str | None = Field(default=None, description="Why it is not durable, when not")
