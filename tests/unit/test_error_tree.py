"""One error tree: what the client raises for a backend's answer is also the domain's error of
the same meaning, so callers catch a missing or clashing thing the same way either side."""

from __future__ import annotations

import pytest

from ktrdr.client.errors import ApiError, ClientError, api_error
from ktrdr.errors import (
    ConflictError,
    InvalidRequestError,
    KtrdrError,
    NotFoundError,
)


@pytest.mark.parametrize(
    ("status", "kind", "not_kind"),
    [
        (404, NotFoundError, ConflictError),
        (409, ConflictError, NotFoundError),
    ],
)
def test_a_not_found_or_conflict_answer_is_the_domains_error_too(
    status: int, kind: type[KtrdrError], not_kind: type[KtrdrError]
) -> None:
    error = api_error(status, "operation_not_found", "gone", {"operation_id": "op_x"})
    assert isinstance(error, ApiError) and isinstance(error, ClientError)
    assert isinstance(error, kind) and not isinstance(error, not_kind)
    # The envelope's code and details win over the classes' defaults.
    assert (error.status_code, error.code, error.message) == (status, "operation_not_found", "gone")
    assert error.details == {"operation_id": "op_x"}
    with pytest.raises(kind):
        raise error


@pytest.mark.parametrize("status", [400, 422, 500, 503])
def test_other_answers_stay_plain_api_errors(status: int) -> None:
    error = api_error(status, "invalid_request", "no", {})
    assert type(error) is ApiError
    assert not isinstance(error, NotFoundError | ConflictError | InvalidRequestError)
