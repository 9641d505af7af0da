"""Walk-forward research cycles written straight into a backend's database, for the page's
browser tests: a completed 4 × 4 cycle with every child its worker makes (a fold's training
and backtest per candidate, a final training per candidate, the chosen one's holdout at three
costs), a weaker one, and one from before walk-forward. The children's results are a real
training's and backtest's, run first by the same backend, so their charts draw real files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationType
from ktrdr.records.research import (
    CandidateRecord,
    CostCase,
    DeflatedSharpeRecord,
    FoldWindowRecord,
    IntervalRecord,
    OverfittingRecord,
    ResearchStatistics,
    WalkForwardRecord,
)
from ktrdr.records.results import BenchmarkFigures, ResearchCycleSummary
from tests.support.live_backend import LiveBackend
from tests.support.progress import progress

TERMINAL = ("completed", "failed", "cancelled")
FOLDS, CANDIDATES, CHOSEN, BROKEN = 4, 4, 2, 3  # BROKEN: the candidate whose fold 3 failed
COSTS = (0.0, 1.0, 2.0)
STRATEGY = "rsi_mean_reversion"
YEARS = ((2015, 2016), (2016, 2017), (2017, 2018), (2018, 2019))  # (train end, test) years


@dataclass
class Seeded:
    url: str
    cycle: str = ""  # completed, walk-forward, 4 × 4
    weaker: str = ""  # completed, walk-forward, 3 candidates (no PBO), lower deflated Sharpe
    old: str = ""  # completed before walk-forward: a training and a backtest, no statistics
    children: dict[str, str] = field(default_factory=dict)  # by child_key: operation id
    epochs: int = 0


def _real_result(http: httpx.Client, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A real training's or backtest's result summary (its history, its detail file)."""
    started = http.post(path, json=payload)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        op_id = started.json()["data"]["operation_id"]
        op: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
        if op["status"] in TERMINAL:
            assert op["status"] == "completed", op["error_message"]
            return dict(op["result_summary"])
        time.sleep(0.1)
    raise AssertionError(f"{path} did not finish")


def child_key(role: str, candidate: int, training: bool, fold: int = 0, cost: float = 0) -> str:
    """How the tests name a child: "fold c1 t3" (candidate 1's training on fold 3, 0-based),
    "fold c1 b3" (its backtest), "final c1", "holdout c2 x1" (at 1× costs)."""
    if role == "fold":
        return f"fold c{candidate} {'t' if training else 'b'}{fold}"
    return f"final c{candidate}" if role == "final" else f"holdout c{candidate} x{cost:g}"


def _child(
    service: OperationsService, seeded: Seeded, result: dict[str, Any] | None, **params: Any
) -> None:
    """A child of the walk-forward cycle: completed with ``result``, failed without one; a
    training if ``result`` is a training's (or None), else a backtest."""
    training = result is None or "history" in result
    kind = OperationType.TRAINING if training else OperationType.BACKTESTING
    candidate = params["candidate"]
    name = f"wf_candidate_{candidate + 1}"
    child = service.create(
        kind, parent_operation_id=seeded.cycle, parameters={**params, "strategy_name": name}
    )
    service.start(child.operation_id)
    progress(service, child.operation_id, 50, "halfway")
    if result is None:
        service.fail(child.operation_id, "Training diverged: loss is NaN")
    else:
        service.complete(child.operation_id, result)
    fold, cost = params.get("fold", 0), params.get("cost_multiplier", 0)
    seeded.children[child_key(params["role"], candidate, training, fold, cost)] = child.operation_id


def _summary(holdouts: list[str]) -> dict[str, Any]:
    folds = tuple(
        FoldWindowRecord(
            index=i, train_start="2010-01-04", train_end=f"{train}-12-31",
            test_start=f"{test}-01-04", test_end=f"{test}-12-31",
            train_bars=252 * (train - 2009), test_bars=252,
        )
        for i, (train, test) in enumerate(YEARS)
    )  # fmt: skip
    holdout = FoldWindowRecord(
        train_start="2010-01-04", train_end="2022-12-30", test_start="2023-01-03",
        test_end="2024-12-31", train_bars=3270, test_bars=502,
    )  # fmt: skip
    sharpes = [[0.4, 0.9, -0.2, 0.6], [0.1, -0.3, 0.5, 0.2], [1.1, 0.8, 0.6, 1.4], [0.3, 0.2]]
    candidates = tuple(
        CandidateRecord(
            index=c, strategy_name=f"wf_candidate_{c + 1}", seed=100 + c,
            fold_sharpes=tuple(s), fold_returns=tuple(x / 10 for x in s),
            validation_sharpe=sum(s) / len(s), validation_return=sum(s) / 8,
            chosen=c == CHOSEN, failed="fold 3's training failed" if c == BROKEN else None,
        )
        for c, s in enumerate(sharpes)
    )  # fmt: skip
    costs = tuple(
        CostCase(multiplier=m, total_return=0.16 - 0.04 * m, sharpe_ratio=1.3 - 0.2 * m,
                 excess_return=0.058 - 0.017 * m, operation_id=holdouts[i])
        for i, m in enumerate(COSTS)
    )  # fmt: skip
    statistics = ResearchStatistics(
        deflated_sharpe=DeflatedSharpeRecord(
            probability=0.97, sharpe=0.071, annualised_sharpe=1.13, expected_max_sharpe=0.035,
            trials=12, cycle_trials=4, observations=1008,
        ),
        overfitting=OverfittingRecord(probability=0.21, candidates=4, splits=8, combinations=70),
        holdout_excess=IntervalRecord(estimate=0.041, low=-0.012, high=0.09, confidence=0.95),
        costs=costs, overfit_ratio=1.08, best_epoch=9, stopped_epoch=12,
    )  # fmt: skip
    return ResearchCycleSummary(
        strategy_name=f"wf_candidate_{CHOSEN + 1}", verdict="promising", sharpe_ratio=1.1,
        total_return=0.12, max_drawdown=0.08, win_rate=0.55, trades=31,
        reasons=("Beats buy-and-hold on the holdout",),
        benchmark=BenchmarkFigures(name="buy-and-hold", total_return=0.079, sharpe_ratio=0.7),
        walk_forward=WalkForwardRecord(
            mode="anchored", folds=folds, purge_bars=5, holdout=holdout,
            description="4 anchored folds of 252 test bars, purge 5 bars, holdout "
            "2023-01-03…2024-12-31 (502 bars)",
        ),
        candidates=candidates, statistics=statistics,
    ).to_dict()  # fmt: skip


def cycle_context(**extra: Any) -> dict[str, Any]:
    return {"folds": FOLDS, "candidates": CANDIDATES, **extra}


def _walk_forward_cycle(
    service: OperationsService, seeded: Seeded, training: dict[str, Any], backtest: dict[str, Any]
) -> None:
    cycle = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "designing"})
    seeded.cycle = cycle.operation_id
    service.start(seeded.cycle)
    progress(service, seeded.cycle, 20, "Training", context=cycle_context(phase="training"))
    for fold in range(FOLDS):
        for c in range(CANDIDATES):
            broken = c == BROKEN and fold == 2
            _child(
                service, seeded, None if broken else training, role="fold", fold=fold, candidate=c
            )
            if not broken:
                _child(service, seeded, backtest, role="fold", fold=fold, candidate=c)
    for c in range(CANDIDATES):
        _child(service, seeded, training, role="final", candidate=c)
    for m in COSTS:
        _child(service, seeded, backtest, role="holdout", candidate=CHOSEN, cost_multiplier=m)
    holdouts = [seeded.children[child_key("holdout", CHOSEN, False, cost=m)] for m in COSTS]
    service.complete(seeded.cycle, _summary(holdouts), parameters={"phase": "completed"})


def _completed(
    service: OperationsService, summary: dict[str, Any], children: list[dict[str, Any]]
) -> str:
    """A completed cycle with completed children (``children``: their result summaries)."""
    cycle = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "assessing"})
    service.start(cycle.operation_id)
    for result in children:
        kind = OperationType.TRAINING if "history" in result else OperationType.BACKTESTING
        child = service.create(kind, parent_operation_id=cycle.operation_id)
        service.start(child.operation_id)
        service.complete(child.operation_id, result)
    service.complete(cycle.operation_id, summary, parameters={"phase": "completed"})
    return cycle.operation_id


def _other_cycles(
    service: OperationsService, seeded: Seeded, training: dict[str, Any], backtest: dict[str, Any]
) -> None:
    """A weaker walk-forward cycle (3 candidates: no PBO) and one from before walk-forward."""
    stats = ResearchStatistics(
        deflated_sharpe=DeflatedSharpeRecord(probability=0.41, trials=15, cycle_trials=3),
        holdout_excess=IntervalRecord(estimate=-0.02, low=-0.081, high=0.034, confidence=0.95),
    )
    weak = ResearchCycleSummary(
        strategy_name="wf_weaker", verdict="neutral", sharpe_ratio=1.9, total_return=0.05,
        walk_forward=WalkForwardRecord(folds=(FoldWindowRecord(index=0),) * 3),
        candidates=tuple(CandidateRecord(index=i) for i in range(3)), statistics=stats,
    )  # fmt: skip
    seeded.weaker = _completed(service, weak.to_dict(), [])
    old = {"strategy_name": "old_style", "verdict": "poor", "sharpe_ratio": 2.5}
    seeded.old = _completed(service, old, [training, backtest])


def seed_backend(root: Path) -> tuple[LiveBackend, Seeded]:
    """A backend in ``root`` holding the cycles, started; the caller kills it."""
    backend = LiveBackend(root)
    try:
        backend.start()
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
            training = _real_result(http, "/training/start", {"strategy": STRATEGY, "epochs": 12})
            backtest = _real_result(http, "/backtests/start", {"model": STRATEGY})
        backend.stop()
        seeded = Seeded(backend.url, epochs=len(training["history"]))
        with backend.offline_service() as service:
            _walk_forward_cycle(service, seeded, training, backtest)
            _other_cycles(service, seeded, training, backtest)
        backend.start()
    except BaseException:
        backend.kill()
        raise
    return backend, seeded
