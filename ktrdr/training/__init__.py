"""Model training: labelled datasets, the epoch-by-epoch engine, and the model store."""

from ktrdr.training.dataset import Dataset, build_dataset, make_labels
from ktrdr.training.engine import train_strategy
from ktrdr.training.model_store import (
    ModelInfo,
    TrainedModel,
    list_models,
    load_model,
    save_model,
)

__all__ = [
    "Dataset",
    "ModelInfo",
    "TrainedModel",
    "build_dataset",
    "list_models",
    "load_model",
    "make_labels",
    "save_model",
    "train_strategy",
]
