from __future__ import annotations

from fastapi import APIRouter, status

from ktrdr.api.deps import CyclesDep, RuntimeDep, SettingsDep
from ktrdr.contract.operations import AgentStatusPublic, Envelope, OperationPublic, OperationStarted
from ktrdr.contract.progress import phase_of
from ktrdr.contract.requests import AgentTriggerRequest
from ktrdr.records.models import utcnow

router = APIRouter(prefix="/agent", tags=["agent"])


@router.post("/trigger", status_code=status.HTTP_202_ACCEPTED)
def trigger(
    cycles: CyclesDep, request: AgentTriggerRequest | None = None
) -> Envelope[OperationStarted]:
    """Start a research cycle. Cancel it with DELETE /operations/{id} like any operation.

    With ``strategy`` or ``strategy_config`` the cycle compares that strategy's grid
    variants instead of designing candidates."""
    op = cycles.start(request)
    return Envelope(data=OperationStarted.of(op))


@router.get("/status")
def agent_status(
    cycles: CyclesDep, settings: SettingsDep, runtime: RuntimeDep
) -> Envelope[AgentStatusPublic]:
    """The active cycle (phase, progress, child, ETA) or, when idle, the last cycle's
    outcome; how many cycles are open and how many may be."""
    current = cycles.status()
    etas = runtime.cycle_etas
    now = utcnow()
    cycle = current.cycle
    phase = phase_of(cycle) if cycle else None
    return Envelope(
        data=AgentStatusPublic(
            active=current.active,
            phase=phase.value if phase is not None else None,
            cycle=(
                OperationPublic.from_domain(cycle, now=now).with_eta(
                    etas.estimate(cycle) if etas is not None else None
                )
                if cycle
                else None
            ),
            child=OperationPublic.from_domain(current.child, now=now) if current.child else None,
            open_cycles=len(cycles.active_cycles()),
            max_active_cycles=settings.max_active_cycles,
        )
    )
