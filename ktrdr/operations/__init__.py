"""The domain of long work: operations, their store, service, progress and cancellation."""

from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.models import (
    Operation,
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
)
from ktrdr.operations.progress import NullProgressReporter, ProgressReporter
from ktrdr.operations.service import OperationsService

__all__ = [
    "CancellationRequested",
    "CancellationToken",
    "NullProgressReporter",
    "Operation",
    "OperationMetadata",
    "OperationProgress",
    "OperationStatus",
    "OperationType",
    "OperationsService",
    "ProgressReporter",
]
