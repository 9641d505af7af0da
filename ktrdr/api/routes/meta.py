"""The backend's vocabulary, served once for every front-end.

The words a front-end needs to read operations (the phases of a research cycle in order,
the statuses and which of them end an operation, the kinds and what people call them, the
roles of a walk-forward cycle's children, the verdicts) each live in one Python table. The
web page reads them from here at start instead of keeping copies in its JavaScript, so a
phase added or a label changed in Python reaches the page with no edit to it.

Each term carries its Python ``name`` beside its wire ``value``: the page refers to a term by
name (``KIND.TRAINING``), the way Python does, and holds no value of its own.
"""

from __future__ import annotations

from functools import cache
from typing import get_args

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from ktrdr.agents.design.assessment import Verdict
from ktrdr.agents.phases.table import (
    ACTIVE_PHASES,
    ORDERED_PHASES,
    PHASE_PROGRESS,
    PHASE_STEP,
    Phase,
)
from ktrdr.contract.operations import Envelope
from ktrdr.records.kinds import KIND_LABEL, OperationStatus, OperationType, kind_noun
from ktrdr.records.research import ROLE_FINAL, ROLE_FOLD, ROLE_HOLDOUT

router = APIRouter(prefix="/meta", tags=["meta"])

# The roles by the names the page uses for them (the constants' names without ROLE_).
ROLES: tuple[tuple[str, str], ...] = (
    ("FOLD", ROLE_FOLD),
    ("FINAL", ROLE_FINAL),
    ("HOLDOUT", ROLE_HOLDOUT),
)


class _Term(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # the Python name, e.g. "TRAINING"
    value: str  # what the wire carries, e.g. "training"


class PhaseTerm(_Term):
    percentage: float | None  # the cycle's static percentage in this phase; None off the path
    step: str  # the cycle's step text in this phase
    active: bool  # a phase the cycle works in (the page's timeline shows these)
    terminal: bool


class StatusTerm(_Term):
    terminal: bool


class KindTerm(_Term):
    label: str  # sentence case: "Research cycle"
    noun: str  # mid-sentence: "research cycle"


class RoleTerm(_Term):
    pass


class VocabularyPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    phases: list[PhaseTerm]  # the happy path in order, then the other ends
    statuses: list[StatusTerm]
    kinds: list[KindTerm]
    roles: list[RoleTerm]  # what a walk-forward cycle's child is for (parameters["role"])
    verdicts: list[str]  # best first


def _phase(phase: Phase) -> PhaseTerm:
    return PhaseTerm(
        name=phase.name,
        value=phase.value,
        percentage=PHASE_PROGRESS.get(phase),
        step=PHASE_STEP[phase],
        active=phase in ACTIVE_PHASES,
        terminal=phase.is_terminal,
    )


@cache
def vocabulary() -> VocabularyPublic:
    """Built once: the tables are constants of the running code."""
    off_path = [phase for phase in Phase if phase not in ORDERED_PHASES]
    return VocabularyPublic(
        phases=[_phase(phase) for phase in (*ORDERED_PHASES, *off_path)],
        statuses=[
            StatusTerm(name=status.name, value=status.value, terminal=status.is_terminal)
            for status in OperationStatus
        ],
        kinds=[
            KindTerm(name=kind.name, value=kind.value, label=KIND_LABEL[kind], noun=kind_noun(kind))
            for kind in OperationType
        ],
        roles=[RoleTerm(name=name, value=value) for name, value in ROLES],
        verdicts=list(get_args(Verdict)),
    )


@router.get("/vocabulary")
async def get_vocabulary() -> Envelope[VocabularyPublic]:
    """The words front-ends show and compare with, each from its one Python table."""
    return Envelope(data=vocabulary())
