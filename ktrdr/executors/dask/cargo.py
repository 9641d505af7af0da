"""What travels with a cluster job and what comes back: no shared filesystem is assumed.

Before a job leaves the backend, its ``market`` (a data-dir path in ``MarketData``) is
replaced by a ``MarketSnapshot`` holding, in memory, the series the job reads, loaded
through the backend's own MarketData, so an imported series travels exactly as a bundled
one. Its output directories (``models_dir``, ``results_dir``) are pointed at a temporary
directory on the worker there (``ktrdr.executors.dask.task``); the files written under them come
back as bytes and are stored here under the backend's directories, and every path in the
job's summary that named the worker's directory is rewritten to name the stored copy.

The jobs themselves are unchanged: this works on any dataclass job with those fields.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData, SeriesInfo
from ktrdr.errors import JobFailedError, NotFoundError
from ktrdr.operations.execution import Completed, JobOutcome

# The fields of a job that name a directory it writes into.
OUTPUT_DIR_FIELDS = ("models_dir", "results_dir")


class MarketSnapshot(MarketData):
    """A ``MarketData`` whose series are held in memory: ``load`` slices and checks them
    exactly as the backend's would (it is the same method over the same bars)."""

    def __init__(self, series: Mapping[tuple[str, str], Bars]) -> None:
        super().__init__(Path("."))
        self._held = dict(series)

    def __reduce__(self) -> tuple[Any, ...]:
        return (MarketSnapshot, (self._held,))

    def list_series(self) -> list[SeriesInfo]:
        return [SeriesInfo.of(bars, "imported") for bars in self._held.values()]

    def _series(self, symbol: str, timeframe: str) -> Bars:
        bars = self._held.get((symbol.upper(), timeframe))
        if bars is None:
            held = ", ".join(f"{name} {tf}" for name, tf in self._held)
            raise NotFoundError(
                f"{symbol} {timeframe} was not sent with this job (it holds: {held})",
                details={"symbol": symbol, "timeframe": timeframe},
            )
        return bars


@dataclasses.dataclass(frozen=True)
class PackedJob:
    """A job ready to ship, and where its outputs go on this side."""

    job: Any  # the job dataclass, with a MarketSnapshot for its market
    output_dirs: dict[str, Path]

    @property
    def output_fields(self) -> tuple[str, ...]:
        return tuple(self.output_dirs)


def pack(job: Any) -> PackedJob:
    """``job`` with its bars in memory; its output directories remembered (see module)."""
    if not dataclasses.is_dataclass(job) or isinstance(job, type):
        raise JobFailedError(f"{type(job).__name__} is not a dataclass job: it cannot travel")
    names = {f.name for f in dataclasses.fields(job)}
    outputs = {name: Path(getattr(job, name)) for name in OUTPUT_DIR_FIELDS if name in names}
    market = getattr(job, "market", None)
    if isinstance(market, MarketData) and not isinstance(market, MarketSnapshot):
        symbol, timeframe = _series_read_by(job)
        snapshot = MarketSnapshot({(symbol, timeframe): market.load(symbol, timeframe)})
        job = dataclasses.replace(job, market=snapshot)
    return PackedJob(job, outputs)


def _series_read_by(job: Any) -> tuple[str, str]:
    """The series a job loads: its own ``symbol``/``timeframe`` (a backtest) or its
    strategy's (a training)."""
    symbol, timeframe = getattr(job, "symbol", None), getattr(job, "timeframe", None)
    if symbol is None or timeframe is None:
        data = job.strategy.data
        symbol, timeframe = data.symbol, data.timeframe
    return str(symbol).upper(), str(timeframe)


def store_outputs(
    outcome: JobOutcome,
    output_dirs: Mapping[str, Path],
    workdirs: Mapping[str, str],
    files: Mapping[str, Mapping[str, bytes]],
) -> JobOutcome:
    """Write the returned files under the backend's directories (each file atomically, so
    a reader never sees half of one) and rewrite the summary's paths to them."""
    for name, tree in files.items():
        root = output_dirs[name]
        for relative, content in sorted(tree.items()):
            _write_atomically(root / _safe_relative(relative), content)
    if not isinstance(outcome, Completed):
        return outcome
    moves = {workdirs[name]: str(output_dirs[name]) for name in output_dirs if name in workdirs}
    return Completed(_rewrite_paths(dict(outcome.summary), moves))


def _safe_relative(relative: str) -> Path:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise JobFailedError(f"a worker returned a file outside its output directory: {relative}")
    return Path(*path.parts)


def _write_atomically(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.incoming")
    try:
        staging.write_bytes(content)
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def _rewrite_paths(value: Any, moves: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in moves.items():
            if value == old or value.startswith(old + os.sep):
                return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {key: _rewrite_paths(item, moves) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite_paths(item, moves) for item in value]
    return value
