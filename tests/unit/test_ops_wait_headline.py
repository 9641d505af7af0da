"""`ktrdr ops wait` names the give-up time the user set when the backend stops answering
(the last try ends a few seconds after it: "25 s", not "29s")."""

from __future__ import annotations

from ktrdr.cli.ops_wait import Ended
from ktrdr.client.follow_step import Connection, ViewState


def gave_up(down_for: float) -> ViewState:
    connection = Connection(ok=False, attempts=6, down_for=down_for)
    return ViewState(operation_id="op_x", connection=connection, gave_up=True, done=True)


def test_the_headline_names_the_give_up_time_not_the_last_tries_end() -> None:
    assert Ended(gave_up(29.4), 25.0).headline == "the backend stopped answering (25 s)"
    assert Ended(gave_up(12.0), 25.0).headline == "the backend stopped answering (12 s)"
    assert Ended(gave_up(29.4)).headline == "the backend stopped answering (29 s)"
