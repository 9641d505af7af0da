"""Typed records inside an operation's free-form dicts (``result_summary``,
``progress.context``): strict when the code builds one, forgiving when one is read back.

Building a record is the producer's side: an unknown or renamed field is refused (and, with
``extra="forbid"``, the pydantic mypy plugin makes it a type error). Reading one is the
consumer's side, from the store or the wire, where rows written by older versions live: an
unknown key is dropped and a value of the wrong type becomes the field's default, so one odd
field blanks one figure (the display shows a dash) instead of the whole screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

_LENIENT = "lenient"

R = TypeVar("R", bound="WireRecord")


def _reading(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, Mapping) and bool(context.get(_LENIENT))


class WireRecord(BaseModel):
    """A frozen record; ``to_dict()`` is what gets stored, ``read()`` what parses it back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _only_known_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if _reading(info) and isinstance(data, Mapping):
            return {key: value for key, value in data.items() if key in cls.model_fields}
        return data

    @field_validator("*", mode="wrap")
    @classmethod
    def _default_when_odd(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        try:
            return handler(value)
        except ValidationError:
            if not _reading(info) or info.field_name is None:
                raise
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, only the fields the producer set (an explicit None stays a
        null), so the stored keys are exactly the ones it wrote."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def read(cls: type[R], data: object) -> R | None:
        """The record in ``data``, as far as it makes sense; None when ``data`` is no mapping."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls.model_validate(data, context={_LENIENT: True})
        except ValidationError:  # every field is forgiven above; kept as a last guard
            return None
