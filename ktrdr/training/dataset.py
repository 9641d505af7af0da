"""From a strategy and its training bars to scaled, labelled, chronologically split arrays.

Rules that keep the validation score honest:
- the split is by time (the validation set is the most recent stretch), never shuffled;
- the last ``horizon`` training rows are dropped: their labels look forward into the
  validation stretch, so keeping them would leak validation prices into training;
- the scaler is fitted on the training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import JobFailedError
from ktrdr.indicators import compute_features
from ktrdr.strategies.models import StrategyConfig

if TYPE_CHECKING:  # scikit-learn loads at the first dataset built, not with the backend
    from sklearn.preprocessing import StandardScaler

LabelArray = npt.NDArray[np.int64]

SELL, HOLD, BUY = 0, 1, 2
CLASSES = (SELL, HOLD, BUY)
MIN_TRAIN_ROWS = 50


def make_labels(close: FloatArray, horizon: int, threshold: float) -> LabelArray:
    """Class per bar from the forward return ``close[t + horizon] / close[t] - 1``.

    Above ``threshold`` is BUY (2), below ``-threshold`` is SELL (0), otherwise HOLD (1).
    The last ``horizon`` bars have no future to look at, so the result is ``horizon``
    shorter than ``close``: ``labels[t]`` belongs to bar ``t``.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if close.size <= horizon:
        return np.zeros(0, dtype=np.int64)
    forward = close[horizon:] / close[:-horizon] - 1.0
    labels = np.full(forward.shape, HOLD, dtype=np.int64)
    labels[forward > threshold] = BUY
    labels[forward < -threshold] = SELL
    return labels


@dataclass(frozen=True, eq=False)
class Dataset:
    feature_names: list[str]
    x_train: FloatArray  # scaled
    y_train: LabelArray
    x_val: FloatArray  # scaled with the training statistics
    y_val: LabelArray
    scaler: StandardScaler
    train_rows: tuple[int, int]  # [start, stop) bar indices
    val_rows: tuple[int, int]
    train_range: tuple[str, str]  # first and last bar timestamps (ISO)
    val_range: tuple[str, str]


def build_dataset(strategy: StrategyConfig, bars: Bars) -> Dataset:
    """Features from ``compute_features``, labels from ``strategy.labels``, split by time.

    Raises ``JobFailedError`` when fewer than ``MIN_TRAIN_ROWS`` training rows remain.
    """
    features = compute_features(strategy, bars)
    horizon = strategy.labels.horizon
    labels = make_labels(bars.close, horizon, strategy.labels.threshold)
    first, stop = features.valid_from, len(bars) - horizon
    usable = max(stop - first, 0)
    val_count = max(1, round(usable * strategy.data.validation_fraction))
    val_start = stop - val_count
    train_stop = val_start - horizon  # purge: see the module docstring
    train_count = train_stop - first
    if train_count < MIN_TRAIN_ROWS:
        raise JobFailedError(
            f"too few training rows for {strategy.name!r}: {max(train_count, 0)} after "
            f"indicator warm-up ({first} bars), the {horizon}-bar label horizon and the "
            f"validation split, need at least {MIN_TRAIN_ROWS} "
            f"({len(bars)} {bars.symbol} {bars.timeframe} bars given; use a longer range)",
            details={
                "train_rows": max(train_count, 0),
                "min_train_rows": MIN_TRAIN_ROWS,
                "bars": len(bars),
                "warm_up_bars": first,
            },
        )

    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    x_train = scaler.fit_transform(features.values[first:train_stop])
    x_val = scaler.transform(features.values[val_start:stop])
    return Dataset(
        feature_names=list(features.names),
        x_train=np.asarray(x_train, dtype=np.float64),
        y_train=labels[first:train_stop],
        x_val=np.asarray(x_val, dtype=np.float64),
        y_val=labels[val_start:stop],
        scaler=scaler,
        train_rows=(first, train_stop),
        val_rows=(val_start, stop),
        train_range=_range(bars, first, train_stop),
        val_range=_range(bars, val_start, stop),
    )


def _range(bars: Bars, start: int, stop: int) -> tuple[str, str]:
    stamps = np.datetime_as_string(bars.timestamps[[start, stop - 1]], unit="s")
    return str(stamps[0]), str(stamps[1])
