"""The one Ctrl+C frame every follow (one operation, a board of cycles, `ops wait`) runs in:
the view is up while the block runs and down after it; a cancellation the user chose ends
the block quietly, any other cancellation is raised."""

from __future__ import annotations

import asyncio

import pytest

from ktrdr.cli.monitor import sigint_routed


class View:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


async def _cancelled_inside(chosen: bool, view: View) -> str:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    with sigint_routed(loop, lambda: None, lambda: chosen, view=view):
        loop.call_soon(task.cancel)
        await asyncio.sleep(5)
    return "ended quietly"


def test_a_cancellation_the_user_chose_ends_the_block_quietly_and_the_view_comes_down() -> None:
    view = View()
    assert asyncio.run(_cancelled_inside(True, view)) == "ended quietly"
    assert view.calls == ["start", "stop"]


def test_any_other_cancellation_is_raised_after_the_view_comes_down() -> None:
    view = View()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(_cancelled_inside(False, view))
    assert view.calls == ["start", "stop"]
