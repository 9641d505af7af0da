"""Reports from a remote worker can arrive late, twice or out of order (a batched event
topic, a result that repeats the last report, a job retried on another worker). Whatever
the order, the service shows the most advanced report delivered so far: its percentage
never goes down, and its step and figures are that report's, never an older one's; every
report still counts as a change (a sign of life), and completion makes it exactly 100."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ktrdr.operations.service import RUNNING_PROGRESS_CAP, OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from tests.support.progress import report

# A job's reports in the order it made them: strictly increasing percentages, one epoch each.
REPORTS = st.lists(
    st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=12, unique=True
).map(sorted)


@given(percentages=REPORTS, data=st.data())
def test_the_most_advanced_delivered_report_is_shown(
    percentages: list[float], data: st.DataObject
) -> None:
    # What arrives: any of the reports, each any number of times, in any order.
    delivered = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(percentages) - 1), max_size=30)
    )
    service = OperationsService(InMemoryOperationStore())
    op_id = service.create(OperationType.TRAINING).operation_id
    service.start(op_id)
    version = service.get(op_id).version
    best: int | None = None
    for index in delivered:
        report(
            service,
            op_id,
            percentages[index],
            f"Epoch {index + 1}",
            items_processed=index + 1,
            items_total=len(percentages),
            context={"epoch": index + 1},
        )
        # Among equal percentages the later delivery wins; here they are unique.
        if best is None or percentages[index] > percentages[best]:
            best = index
        op = service.get(op_id)
        assert op.version == version + 1, "every report is a change"
        version = op.version
        assert op.progress.percentage == min(percentages[best], RUNNING_PROGRESS_CAP)
        assert op.progress.current_step == f"Epoch {best + 1}"
        assert op.progress.items_processed == best + 1
        assert op.progress.context == {"epoch": best + 1}
    done = service.complete(op_id, {})
    assert done.status is OperationStatus.COMPLETED
    assert done.progress.percentage == 100
    service.close()


def test_a_late_report_just_under_100_after_100_keeps_the_newer_step() -> None:
    """100 % "Epoch 11/11" then a late 99.95 % "Epoch 10/11": the stored percentage is
    capped at 99.9 while running, so the guard must compare with the highest *reported*
    percentage, or the older step replaces the newer one."""
    service = OperationsService(InMemoryOperationStore())
    op_id = service.create(OperationType.TRAINING).operation_id
    service.start(op_id)
    report(service, op_id, 100.0, "Epoch 11/11", items_processed=11, items_total=11)
    report(service, op_id, 99.95, "Epoch 10/11", items_processed=10, items_total=11)
    op = service.get(op_id)
    assert op.progress.percentage == RUNNING_PROGRESS_CAP
    assert op.progress.current_step == "Epoch 11/11"
    assert op.progress.items_processed == 11
    # An equal report still counts as the newest (a repeated last report may carry a
    # newer step at the same percentage).
    report(service, op_id, 100.0, "Saving the model", items_processed=11, items_total=11)
    assert service.get(op_id).progress.current_step == "Saving the model"
    assert service.complete(op_id, {}).progress.percentage == 100
    service.close()
