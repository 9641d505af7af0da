from __future__ import annotations

from fastapi import APIRouter, status

from ktrdr.agents.workers.research_worker import CycleRequest
from ktrdr.api.deps import CyclesDep, JobsDep, SettingsDep
from ktrdr.api.schemas import AgentTriggerRequest
from ktrdr.contract.operations import AgentStatusPublic, Envelope, OperationPublic, OperationStarted
from ktrdr.contract.progress import phase_of
from ktrdr.jobs.cycles import new_seed
from ktrdr.jobs.research_shape import ShapeChoices, given_strategy, research_shape
from ktrdr.records.models import utcnow

router = APIRouter(prefix="/agent", tags=["agent"])


@router.post("/trigger", status_code=status.HTTP_202_ACCEPTED)
def trigger(
    cycles: CyclesDep,
    settings: SettingsDep,
    jobs: JobsDep,
    request: AgentTriggerRequest | None = None,
) -> Envelope[OperationStarted]:
    """Start a research cycle. Cancel it with DELETE /operations/{id} like any operation.

    With ``strategy`` or ``strategy_config`` the cycle compares that strategy's grid
    variants instead of designing candidates."""
    body = request or AgentTriggerRequest()
    strategy = given_strategy(body.strategy, body.strategy_config, jobs.strategies_dir)
    shape = research_shape(
        settings,
        ShapeChoices(
            folds=body.folds,
            candidates=body.candidates,
            mode=body.walk_forward_mode,
            holdout_fraction=body.holdout_fraction,
            purge_bars=body.purge_bars,
            patience=body.patience,
        ),
        strategy,
    )
    op = cycles.trigger(
        CycleRequest(
            seed=body.seed if body.seed is not None else new_seed(),
            symbol=body.symbol.upper() if body.symbol else None,
            timeframe=body.timeframe,
            epochs=body.epochs,
            model=body.model,
            shape=shape,
        ),
        strategy,
    )
    return Envelope(data=OperationStarted.of(op))


@router.get("/status")
def agent_status(cycles: CyclesDep) -> Envelope[AgentStatusPublic]:
    """The active cycle (phase, progress, child) or, when idle, the last cycle's outcome."""
    current = cycles.status()
    now = utcnow()
    cycle = current.cycle
    phase = phase_of(cycle) if cycle else None
    return Envelope(
        data=AgentStatusPublic(
            active=current.active,
            phase=phase.value if phase is not None else None,
            cycle=OperationPublic.from_domain(cycle, now=now) if cycle else None,
            child=OperationPublic.from_domain(current.child, now=now) if current.child else None,
        )
    )
