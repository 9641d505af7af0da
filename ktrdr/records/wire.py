"""Typed records inside an operation's free-form dicts (``result_summary``,
``progress.context``): strict when the code builds one, forgiving when one is read back.

Building a record is the producer's side: an unknown or renamed field is refused (and, with
``extra="forbid"``, the pydantic mypy plugin makes it a type error). Reading one is the
consumer's side, from the store or the wire, where rows written by older versions live: an
unknown key is dropped and a value of the wrong type becomes the field's default, so one odd
field blanks one figure (the display shows a dash) instead of the whole screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from ktrdr.records.models import OperationType, OperationView

_LENIENT = "lenient"

R = TypeVar("R", bound="WireRecord")
R_co = TypeVar("R_co", bound="WireRecord", covariant=True)


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
    def part_of(cls: type[R], whole: BaseModel) -> R:
        """The record made of ``whole``'s fields of the same names, each one set (a None
        too): for a record that keeps a part of a larger one, without copying by hand."""
        return cls.model_validate({name: getattr(whole, name) for name in cls.model_fields})

    @classmethod
    def read(cls: type[R], data: object) -> R | None:
        """The record in ``data``, as far as it makes sense; None when ``data`` is no mapping."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls.model_validate(data, context={_LENIENT: True})
        except ValidationError:  # every field is forgiven above; kept as a last guard
            return None


class KindReader(Generic[R_co]):
    """Reads one kind's record out of an operation: ``part`` picks the stored dict (its
    ``result_summary``, its ``progress.context``); an operation of another kind reads as None,
    and so does a dict that is not one (``WireRecord.read``)."""

    def __init__(
        self, kind: OperationType, record: type[R_co], part: Callable[[OperationView], object]
    ) -> None:
        self._kind = kind
        self._record = record
        self._part = part

    @property
    def kind(self) -> OperationType:
        return self._kind

    @property
    def record(self) -> type[R_co]:
        return self._record

    def __call__(self, op: OperationView) -> R_co | None:
        return self._record.read(self._part(op)) if op.operation_type is self._kind else None


class KindTable(Generic[R_co]):
    """An operation's record, whatever its kind: the reader of its kind reads it; an
    operation of a kind no reader knows reads as None."""

    def __init__(self, *readers: KindReader[R_co]) -> None:
        self._by_kind = {reader.kind: reader for reader in readers}

    def __call__(self, op: OperationView) -> R_co | None:
        reader = self._by_kind.get(op.operation_type)
        return reader(op) if reader is not None else None
