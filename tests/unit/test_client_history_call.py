"""The client asks for a thinned learning curve only when told to."""

from __future__ import annotations

from ktrdr.client import calls


def test_history_call_sends_only_the_parameters_given() -> None:
    assert calls.training_history("op_x", None).params == {}
    assert calls.training_history("op_x", 5).params == {"since": 5}
    assert calls.training_history("op_x", None, 200).params == {"max_points": 200}
    assert calls.training_history("op_x", 0, 200).params == {"since": 0, "max_points": 200}
