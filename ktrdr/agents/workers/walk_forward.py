"""A walk-forward research cycle: M candidate designs × K folds, run as parallel children.

The work, through the phase machine (the seed's phases and static percentages):

- **designing**: M designs (candidate i uses seed ``seed + i·SEED_STRIDE``, so cycles with
  consecutive seeds never share a design), and the plan of windows over the series: K
  folds, a purge gap before every test window, a holdout at the end (``ktrdr.research.
  walkforward``). Planning reads bar times only, never a price.
- **training**: every fold training (M×K) and every candidate's final training (on all the
  bars before the holdout's purge gap) is a child, all created at once and run by the
  executor ``KTRDR_WORKERS`` at a time; each fold's backtest starts as soon as its training
  has finished.
- **backtesting**: once every training has ended, the remaining fold backtests finish; the
  candidate with the best validation Sharpe (the folds only) is chosen, and its final model
  is backtested on the holdout, once, at 0×, 1× and 2× its costs.
- **assessing**: the statistics that count every try (``ktrdr.research.evaluation``) and
  the verdict.

Why children of the cycle and not of a fold operation: a fold is a training then a
backtest; a fold operation would only relay its two children's progress, and the cycle's
tree, monitor, page and cancel already handle any number of direct children.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

from ktrdr.agents.design.base import DesignRequest
from ktrdr.agents.phases import Phase
from ktrdr.agents.phases.machine import ResearchPhaseMachine
from ktrdr.agents.workers.children import Child, Children
from ktrdr.agents.workers.walk_forward_parts import WorkerParts
from ktrdr.agents.workers.walk_forward_summary import CycleEvidence, walk_forward_summary
from ktrdr.errors import ConflictError, JobFailedError
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.records.models import Operation, OperationStatus
from ktrdr.records.research import ROLE_FINAL, ROLE_FOLD, ROLE_HOLDOUT
from ktrdr.research.evaluation import CandidateScore, PeriodReturns, choose
from ktrdr.research.walkforward import (
    DatedFold,
    DatedPlan,
    FoldSizes,
    WalkForwardPlan,
    WalkForwardSpec,
    describe,
    plan_walk_forward,
    windows_as_dates,
)
from ktrdr.strategies.models import StrategyConfig

SEED_STRIDE = 1_000_000  # new cycle seeds are below this: candidates never collide
COST_MULTIPLIERS = (0.0, 1.0, 2.0)
MIN_FOLD_TRAIN_BARS = 250
MIN_FOLD_TEST_BARS = 60


@dataclass(frozen=True)
class ResearchShape:
    """How a cycle evaluates: candidates × walk-forward folds, and the training patience."""

    candidates: int
    walk_forward: WalkForwardSpec
    patience: int | None

    def plan(self, n_bars: int, horizon: int) -> WalkForwardPlan:
        """The folds and holdout over ``n_bars`` bars for labels that look ``horizon`` bars
        ahead (``StrategyValidationError`` when the bars cannot hold them)."""
        spec = self.walk_forward
        sizes = FoldSizes(spec.purge_for(horizon), 0, MIN_FOLD_TRAIN_BARS, MIN_FOLD_TEST_BARS)
        return plan_walk_forward(n_bars, spec, sizes)


@dataclass
class Candidate:
    index: int
    seed: int
    design: StrategyConfig
    failed: str | None = None
    final_strategy: StrategyConfig | None = None  # as trained on all bars before the holdout
    final: Operation | None = None  # its final training, once completed


def candidate_seed(seed: int, index: int) -> int:
    return seed + index * SEED_STRIDE


def fold_strategy(
    design: StrategyConfig, fold: DatedFold, name: str, patience: int | None
) -> StrategyConfig:
    dates = fold.data_dates()
    data = design.data.model_copy(update=dates._asdict())
    model = design.model.model_copy(update={"patience": patience})
    return StrategyConfig.model_validate(
        design.model_copy(update={"name": name, "data": data, "model": model}).model_dump()
    )


class WalkForwardCycle:
    """One walk-forward cycle's work; ``AgentResearchWorker`` runs it and handles its end."""

    def __init__(
        self,
        worker: WorkerParts,
        machine: ResearchPhaseMachine,
        shape: ResearchShape,
        token: CancellationToken,
    ) -> None:
        self._w = worker
        self._machine = machine
        self._shape = shape
        self._token = token
        self._children = Children(worker.service, machine.operation_id)
        self._candidates: list[Candidate] = []
        self._fold_returns: dict[tuple[int, int], PeriodReturns] = {}
        self._purge = 0

    # ------------------------------------------------------------------ the phases
    def run(self, seed: int, request: DesignRequest) -> None:
        self._machine.start_design()
        self._design(seed, request)
        plan, description = self._plan()
        with self._children.watching():
            self._train(plan)
            scores = self._scores(len(plan.folds))
            chosen = self._candidates[choose(scores).index]
            holdout = self._score_holdout(chosen)
        self._machine.start_assessment()
        self._token.raise_if_cancelled(where="Stopped while assessing the results")
        assert chosen.final is not None
        at_cost = next(op for multiple, op in holdout if multiple == 1.0)
        key = self._trial_key(plan)
        evidence = CycleEvidence(
            plan=plan,
            mode=self._shape.walk_forward.mode,
            purge_bars=self._purge,
            description=description,
            candidates=[(c.index, c.seed, c.design.name, c.failed) for c in self._candidates],
            scores=scores,
            chosen=chosen.index,
            final_training=chosen.final,
            holdout=holdout,
            holdout_returns=self._w.period_returns(at_cost),
            earlier_trials=self._w.earlier_trials(key),
            trial_key=key,
            seed=seed,
        )
        assert chosen.final_strategy is not None
        self._machine.complete(
            walk_forward_summary(evidence, chosen.final_strategy, self._w.designer_name),
            {Phase.TRAINING: chosen.final.operation_id, Phase.BACKTESTING: at_cost.operation_id},
        )

    def _design(self, seed: int, request: DesignRequest) -> None:
        for index in range(self._shape.candidates):
            s = candidate_seed(seed, index)
            design = self._w.design(
                DesignRequest(
                    seed=s,
                    symbol=request.symbol,
                    timeframe=request.timeframe,
                    now=request.now,
                    epochs=request.epochs,
                    candidate=index,
                ),
                self._token,
            )
            self._candidates.append(Candidate(index, s, design))
        first = self._candidates[0].design
        self._w.service.update_parameters(
            self._machine.operation_id,
            {"strategy_name": first.name, "designer": self._w.designer_name},
        )
        self._token.raise_if_cancelled(where="Stopped while designing the strategy")

    def _plan(self) -> tuple[DatedPlan, str]:
        data = self._candidates[0].design.data
        times = self._w.bar_times(data.symbol, data.timeframe)
        horizon = max(c.design.labels.horizon for c in self._candidates)
        plan = self._shape.plan(len(times), horizon)
        dated = windows_as_dates(plan, times)
        self._purge = plan.purge_bars
        self._w.service.update_parameters(
            self._machine.operation_id,
            {
                "folds": len(dated.folds),
                "candidates": len(self._candidates),
                "purge_bars": plan.purge_bars,
                "holdout_start": dated.holdout.first.isoformat(),
                "holdout_end": dated.holdout.last.isoformat(),
                "train_end": dated.folds[0].train.last.isoformat(),
                "test_start": dated.folds[0].test.first.isoformat(),
            },
        )
        return dated, describe(plan, times)

    def _trial_key(self, plan: DatedPlan) -> str:
        """Trials deflate each other when they mined the same bars: the same series, from
        its first bar up to the same holdout (however the folds cut that range)."""
        data = self._candidates[0].design.data
        first = plan.folds[0].train.first.isoformat()
        holdout = plan.holdout.first.isoformat()
        return f"{data.symbol.upper()}|{data.timeframe}|{first}|{holdout}"

    # ------------------------------------------------------------------ training
    def _train(self, plan: DatedPlan) -> None:
        patience = self._shape.patience
        jobs: list[tuple[Child, StrategyConfig]] = []
        for cand in self._candidates:
            for fold in plan.folds:
                name = f"{cand.design.name}-f{fold.index + 1}"
                strategy = fold_strategy(cand.design, fold, name, patience)
                jobs.append((Child("", ROLE_FOLD, cand.index, fold.index), strategy))
            final = fold_strategy(cand.design, plan.final, cand.design.name, patience)
            cand.final_strategy = final
            jobs.append((Child("", ROLE_FINAL, cand.index), final))
        strategies: dict[str, StrategyConfig] = {}
        with self._unless_cancelled("designing"):
            for child, strategy in jobs:
                child.operation_id = self._w.create_training(
                    strategy, self._machine.operation_id, _parameters(child)
                )
                self._children.add(child)
                strategies[child.operation_id] = strategy
        self._machine.start_training(child_op_id=jobs[0][0].operation_id, **self._counts())
        for child, _ in jobs:
            self._w.submit_training(child.operation_id, strategies[child.operation_id])
        self._follow(until=self._trainings_ended, phase_label="training")
        # Backtesting is where the cycle is once every training has ended: fold backtests
        # still running or waiting, or else (entered in ``_score_holdout``) the holdout's.
        # Children only stopping (a dropped candidate's) are waited for where the cycle is.
        active = self._children.active("backtest")
        if active is not None:
            self._machine.start_backtest(child_op_id=active, **self._counts())
        label = "backtesting" if active is not None else "training"
        self._follow(until=lambda: not self._children.open(), phase_label=label)

    def _counts(self) -> dict[str, object]:
        return {
            "child_op_ids": self._children.ids,
            "folds": self._shape.walk_forward.folds,
            "candidates": len(self._candidates),
        }

    def _trainings_ended(self) -> bool:
        return all(c.kind != "training" for c in self._children.open())

    def _follow(self, *, until: Callable[[], bool], phase_label: str) -> None:
        """React to children ending (start backtests, note failures) until ``until``."""
        shown: tuple[str | None, int, dict[Phase, str]] = (None, 0, {})
        while True:
            with self._unless_cancelled(phase_label):
                for child, op in self._children.refresh():
                    self._ended(child, op)
            if self._token.is_cancelled:
                self._stop(phase_label)
            if until():
                return
            actives = self._children.actives()
            by_kind = {
                phase: actives[kind]
                for phase, kind in ((Phase.TRAINING, "training"), (Phase.BACKTESTING, "backtest"))
                if kind in actives
            }
            now = (actives.get(None), len(self._children.made), by_kind)
            if now != shown:
                self._machine.show_children(now[0], self._children.ids, by_kind)
                shown = now
            self._children.wait()

    def _ended(self, child: Child, op: Operation) -> None:
        cand = self._candidates[child.candidate]
        if op.status is not OperationStatus.COMPLETED:
            if self._token.is_cancelled:
                return
            why = op.error_message or f"{op.status.value}"
            if child.role == ROLE_HOLDOUT:
                raise JobFailedError(f"The holdout backtest failed: {why}")
            if cand.failed is None:
                cand.failed = f"{child.kind} {_where(child)} {op.status.value}: {why}"
                self._drop(cand)
            return
        if child.role == ROLE_FINAL:
            cand.final = op
        elif child.role == ROLE_FOLD and child.kind == "training" and cand.failed is None:
            self._start_backtest(child, op, 1.0, ROLE_FOLD)
        elif child.role == ROLE_FOLD and child.kind == "backtest":
            assert child.fold is not None
            self._fold_returns[(child.candidate, child.fold)] = self._w.period_returns(op)

    def _drop(self, cand: Candidate) -> None:
        """A candidate that cannot be evaluated on every fold is out: its open work stops."""
        for child in self._children.open():
            if child.candidate == cand.index and child.role != ROLE_HOLDOUT:
                self._w.cancel_child(child.operation_id, f"candidate {cand.index + 1} failed")

    def _start_backtest(
        self, training: Child, op: Operation, multiplier: float, role: str, submit: bool = True
    ) -> Child:
        child = Child(
            "", role, training.candidate, training.fold, "backtest", cost_multiplier=multiplier
        )
        child.operation_id = self._w.create_backtest(
            op, self._machine.operation_id, multiplier, _parameters(child)
        )
        self._children.add(child)
        if submit:
            self._w.submit_backtest(child.operation_id)
        return child

    @contextmanager
    def _unless_cancelled(self, phase_label: str) -> Iterator[None]:
        """The service refuses a new child of a cycle being cancelled: that refusal means
        stop here, cancelled; any other refusal is a real conflict."""
        try:
            yield
        except ConflictError:
            if self._token.is_cancelled:
                self._stop(phase_label)
            raise

    def _stop(self, phase_label: str) -> NoReturn:
        """The cycle was cancelled: the service has cancelled every open child; wait for
        them to end (forced after the grace period), then say where the work stopped."""
        while self._children.open():
            self._children.refresh()
            self._children.wait(0.1)
        trained = sum(
            1
            for c in self._children.made
            if c.kind == "training"
            and (op := self._children.ended(c)) is not None
            and op.status is OperationStatus.COMPLETED
        )
        total = sum(1 for c in self._children.made if c.kind == "training")
        raise CancellationRequested(
            where=f"Stopped while {phase_label}: {trained} of {total} models trained"
        )

    # ------------------------------------------------------------------ choosing and scoring
    def _scores(self, folds: int) -> list[CandidateScore]:
        scores = []
        for cand in self._candidates:
            parts = [self._fold_returns.get((cand.index, k)) for k in range(folds)]
            if cand.failed is None and cand.final is not None and all(parts):
                scores.append(CandidateScore(cand.index, tuple(p for p in parts if p)))
            elif cand.failed is None:
                cand.failed = "not every fold was evaluated"
        if not scores:
            reasons = "; ".join(f"candidate {c.index + 1}: {c.failed}" for c in self._candidates)
            raise JobFailedError(f"No candidate could be evaluated on every fold ({reasons})")
        return scores

    def _score_holdout(self, chosen: Candidate) -> list[tuple[float, Operation]]:
        """The chosen candidate's final model on the holdout, once, at each cost multiple."""
        assert chosen.final is not None
        final = Child(chosen.final.operation_id, ROLE_FINAL, chosen.index)
        with self._unless_cancelled("backtesting"):
            started = [
                (m, self._start_backtest(final, chosen.final, m, ROLE_HOLDOUT, submit=False))
                for m in COST_MULTIPLIERS
            ]
        if self._machine.phase is Phase.TRAINING:
            self._machine.start_backtest(child_op_id=started[0][1].operation_id, **self._counts())
        for _, child in started:
            self._w.submit_backtest(child.operation_id)
        self._follow(until=lambda: not self._children.open(), phase_label="backtesting")
        done = []
        for multiplier, child in started:
            op = self._children.ended(child)
            assert op is not None and op.status is OperationStatus.COMPLETED
            done.append((multiplier, op))
        return done


def _parameters(child: Child) -> dict[str, object]:
    found: dict[str, object] = {"role": child.role, "candidate": child.candidate}
    if child.fold is not None:
        found["fold"] = child.fold
    if child.cost_multiplier is not None and child.role == ROLE_HOLDOUT:
        found["cost_multiplier"] = child.cost_multiplier
    return found


def _where(child: Child) -> str:
    if child.fold is not None:
        return f"of fold {child.fold + 1}"
    return "of the final model" if child.role == ROLE_FINAL else "of the holdout"
