"""Trained models on disk: ``<models_dir>/<strategy name>/<sequence>-<UTC timestamp>/``.

A strategy's models are ordered by their sequence number, the next after the highest one
in the strategy's directory when the model is saved, never by the timestamp: a clock set
back must not make an older model the newest. Directories from before the sequence (named
by their timestamp alone) count as sequence 0, ordered among themselves by name.

Each model directory holds ``model.joblib`` (classifier + scaler), ``strategy.yaml`` (the
full strategy, so a model can rebuild its own features) and ``meta.json``. A model is
written under a hidden temporary name and renamed when complete, so readers never see a
half-written one. Loading is confined to ``models_dir`` because unpickling runs code.
"""

from __future__ import annotations

import errno
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import numpy.typing as npt

from ktrdr.data.bars import Bars
from ktrdr.errors import InvalidRequestError, JobFailedError
from ktrdr.indicators import compute_features
from ktrdr.strategies.loader import dump_strategy, parse_strategy
from ktrdr.strategies.models import StrategyConfig

if TYPE_CHECKING:  # scikit-learn loads when a model is trained or read, not with the backend
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
from ktrdr.training.dataset import BUY, SELL

MODEL_FILE = "model.joblib"
STRATEGY_FILE = "strategy.yaml"
META_FILE = "meta.json"
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"  # for a reader's eye only: the sequence orders
# "<sequence>-<stamp>"; a legacy name is the stamp alone, which has no "-".
_SEQUENCED_NAME = re.compile(r"^(\d+)-")
# Two trainings of one strategy saved at once may both pick the same next sequence; the
# loser of the rename takes the next one. More tries than that means something else is
# wrong with the directory.
_NAMING_TRIES = 32
_STRATEGY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")

PositionArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class TrainedModel:
    path: Path
    strategy: StrategyConfig
    classifier: MLPClassifier
    scaler: StandardScaler
    feature_names: list[str]
    meta: dict[str, Any]

    def predict_positions(self, bars: Bars) -> PositionArray:
        """One position per bar: BUY -> +1, SELL -> -1 (0 when long/flat), HOLD -> 0.

        Warm-up rows (before the features are defined) get 0. Include enough history before
        the period of interest for the indicators to warm up.
        """
        features = compute_features(self.strategy, bars)
        if features.names != self.feature_names:
            raise JobFailedError(
                f"model {self.path.name} was trained on features {self.feature_names}, "
                f"but its strategy now produces {features.names}",
                details={"model": str(self.path)},
            )
        positions = np.zeros(len(bars), dtype=np.int64)
        rows = features.values[features.valid_from :]
        if rows.shape[0] == 0:
            return positions
        classes = np.asarray(self.classifier.predict(self.scaler.transform(rows)))
        short = 0 if self.strategy.backtest.mode == "long_flat" else -1
        decided = np.where(classes == BUY, 1, np.where(classes == SELL, short, 0))
        positions[features.valid_from :] = decided
        return positions


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    created_at: str
    sequence: int = 0  # the order of saving within the strategy (see the module docstring)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "path": str(self.path), "created_at": self.created_at}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def save_model(
    models_dir: Path,
    strategy: StrategyConfig,
    classifier: MLPClassifier,
    scaler: StandardScaler,
    feature_names: list[str],
    meta: dict[str, Any],
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> Path:
    """Write a new model directory and return its path; ``meta`` is merged into meta.json.
    ``clock`` dates the model (its name's stamp, meta's ``created_at``), never orders it."""
    now = clock()
    strategy_dir = models_dir / strategy.name
    strategy_dir.mkdir(parents=True, exist_ok=True)
    # A unique staging name: two saves in the same microsecond (or a clock set back onto
    # an earlier save's stamp) must not share one.
    staging = Path(tempfile.mkdtemp(prefix=".", suffix=".tmp", dir=strategy_dir))
    try:
        _write_model_files(staging, strategy, classifier, scaler, feature_names, meta, now)
        return _publish(staging, strategy_dir, now.strftime(_STAMP_FORMAT))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # never leave a partial model behind
        raise


def _publish(staging: Path, strategy_dir: Path, stamp: str) -> Path:
    """Rename the complete ``staging`` to the strategy's next sequence number."""
    for _ in range(_NAMING_TRIES):
        final = strategy_dir / f"{_next_sequence(strategy_dir):06d}-{stamp}"
        try:
            staging.rename(final)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            continue  # another save took this number first: take the next one
        return final
    raise JobFailedError(
        f"could not name a new model in {strategy_dir}: {_NAMING_TRIES} sequence numbers "
        "were taken while it was being saved",
        details={"strategy_dir": str(strategy_dir)},
    )


def _next_sequence(strategy_dir: Path) -> int:
    # Every visible directory counts, complete or not, so a number is never given twice.
    taken = [_sequence_of(p) for p in strategy_dir.iterdir() if _visible_dir(p)]
    return max(taken, default=0) + 1


def _sequence_of(path: Path) -> int:
    found = _SEQUENCED_NAME.match(path.name)
    return int(found[1]) if found else 0


def _write_model_files(
    staging: Path,
    strategy: StrategyConfig,
    classifier: MLPClassifier,
    scaler: StandardScaler,
    feature_names: list[str],
    meta: dict[str, Any],
    now: datetime,
) -> None:
    joblib.dump(
        {"classifier": classifier, "scaler": scaler, "feature_names": feature_names},
        staging / MODEL_FILE,
    )
    (staging / STRATEGY_FILE).write_text(dump_strategy(strategy), encoding="utf-8")
    full_meta = {
        "strategy": strategy.name,
        "symbol": strategy.data.symbol,
        "timeframe": strategy.data.timeframe,
        "created_at": now.isoformat(),
        "feature_names": feature_names,
        **meta,
    }
    (staging / META_FILE).write_text(json.dumps(full_meta, indent=2), encoding="utf-8")


def list_models(models_dir: Path) -> list[ModelInfo]:
    """Every complete model, grouped by strategy name, oldest first within a strategy."""
    if not models_dir.is_dir():
        return []
    found: list[ModelInfo] = []
    for strategy_dir in sorted(p for p in models_dir.iterdir() if _visible_dir(p)):
        for version in _versions(strategy_dir):
            created_at = _read_meta(version).get("created_at", version.name)
            found.append(
                ModelInfo(strategy_dir.name, version, str(created_at), _sequence_of(version))
            )
    return found


def load_model(path_or_name: str | Path, models_dir: Path) -> TrainedModel:
    """Load a model directory, or the newest model of a strategy name, from ``models_dir``."""
    path = _resolve(path_or_name, models_dir)
    payload = joblib.load(path / MODEL_FILE)
    classifier = payload.get("classifier") if isinstance(payload, dict) else None
    scaler = payload.get("scaler") if isinstance(payload, dict) else None
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    if not isinstance(classifier, MLPClassifier) or not isinstance(scaler, StandardScaler):
        raise JobFailedError(
            f"{path / MODEL_FILE} is not a ktrdr model", details={"path": str(path)}
        )
    strategy_file = path / STRATEGY_FILE
    strategy = parse_strategy(strategy_file.read_text(encoding="utf-8"), str(strategy_file))
    return TrainedModel(
        path=path,
        strategy=strategy,
        classifier=classifier,
        scaler=scaler,
        feature_names=[str(name) for name in payload["feature_names"]],
        meta=_read_meta(path),
    )


def _resolve(path_or_name: str | Path, models_dir: Path) -> Path:
    root = models_dir.resolve()
    given = Path(path_or_name)
    candidates = [given] if given.is_absolute() else [root / given, given]
    for candidate in candidates:
        resolved = candidate.resolve()
        if _is_model_dir(resolved):
            if not resolved.is_relative_to(root):
                raise InvalidRequestError(
                    f"model {str(path_or_name)!r} is outside the models directory {root}",
                    details={"models_dir": str(root)},
                )
            return resolved
    name = str(path_or_name)
    if _STRATEGY_NAME.fullmatch(name):
        versions = _versions(root / name)
        if versions:
            return versions[-1]
    available = sorted({info.name for info in list_models(root)})
    listing = ", ".join(available) if available else "none yet"
    raise InvalidRequestError(
        f"no model {name!r} in {root} (available: {listing})",
        details={"model": name, "available": available},
    )


def _versions(strategy_dir: Path) -> list[Path]:
    if not strategy_dir.is_dir():
        return []
    models = (p for p in strategy_dir.iterdir() if _visible_dir(p) and _is_model_dir(p))
    return sorted(models, key=lambda p: (_sequence_of(p), p.name))


def _visible_dir(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".")


def _is_model_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in (MODEL_FILE, STRATEGY_FILE, META_FILE))


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}
