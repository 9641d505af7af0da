"""The follower's pure ``step``, driven over random runs of answers on a fake clock.

A run is what a backend could answer: maybe an outage first, then the first tree, then any
mix of news (trees with higher versions, new phases, children coming and going, stalled or
lively work), trees repeated as a state-only backend repeats them, 304s and outages, and
maybe an end (a finished tree, or the operation gone). Time moves as a long-poll makes it
move: a pause before each request, a 304 held for its whole wait, the clocks ticking every
``tick_interval`` while a request is held. Whatever the run, a follow ends once with one
final event, never asks for an older version, doubles its wait while nothing changes and
shortens it on news, backs off through an outage and gives up after the configured time,
and reports each change once. The async ``Follower`` loop yields exactly what ``step`` says.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.client.errors import BackendUnavailableError, NotFoundApiError
from ktrdr.client.follow import Follower
from ktrdr.client.follow_step import (
    ENDINGS,
    Answer,
    Ask,
    EventKind,
    FollowSettings,
    FollowState,
    Gone,
    NotModified,
    Shown,
    TreeAnswer,
    Unreachable,
    begin,
    step,
    tick,
)
from ktrdr.contract.operations import OperationPublic, TreePublic
from tests.support.snapshots import T0, cycle, snapshot

PHASES = ("designing", "training", "backtesting", "assessing")
KIDS = ("t0", "t1", "t2", "t3")
# Events that come in pairs: what begins, then what ends it.
PAIRED = (
    *(EventKind.STALLED, EventKind.STALL_CLEARED),
    *(EventKind.CONNECTION_LOST, EventKind.CONNECTION_RESTORED),
    *(EventKind.CHILD_APPEARED, EventKind.CHILD_GONE),
)


@dataclass(frozen=True)
class TreeSpec:
    """A tree but for its version (the run numbers them, always upwards)."""

    phase: str
    active: str | None
    kids: tuple[tuple[str, str, int], ...]  # (id, status, version)
    elapsed: float  # server seconds since the cycle started
    silent_for: float  # server seconds since its last progress report
    complete: bool
    status: str = "running"

    def build(self, version: int) -> TreePublic:
        phase = self.phase if self.status == "running" else self.status
        parent = cycle(phase, version, status=self.status, child=self.active)
        parent = parent.model_copy(
            update={
                "elapsed_seconds": self.elapsed,
                "last_progress_at": T0 + timedelta(seconds=self.elapsed - self.silent_for),
            }
        )
        kids: list[OperationPublic] = [
            snapshot(op_id, op_type="training", status=status, version=v).model_copy(
                update={"parent_operation_id": "cycle"}
            )
            for op_id, status, v in self.kids
        ]
        return TreePublic(
            version=version, complete=self.complete, changes=[], operations=[parent, *kids]
        )


@st.composite
def tree_specs(draw: st.DrawFn, status: str = "running") -> TreeSpec:
    elapsed = draw(st.floats(min_value=0, max_value=300))
    kids = draw(
        st.lists(
            st.tuples(
                st.sampled_from(KIDS),
                st.sampled_from(["running", "pending", "completed", "failed"]),
                st.integers(min_value=1, max_value=5),
            ),
            max_size=4,
            unique_by=lambda kid: kid[0],
        )
    )
    return TreeSpec(
        phase=draw(st.sampled_from(PHASES)),
        active=draw(st.none() | st.sampled_from(KIDS)),
        kids=tuple(kids),
        elapsed=elapsed,
        silent_for=draw(st.floats(min_value=0, max_value=elapsed)),
        complete=draw(st.booleans()),
        status=status,
    )


# One move: ("tree", spec, version step, seconds), ("same", seconds), ("304",),
# ("down", seconds), ("gone",) or ("end", spec, version step, seconds).
Move = tuple[object, ...]
SECONDS = st.floats(min_value=0, max_value=30)
DOWN = st.tuples(st.just("down"), SECONDS)
NEWS = st.tuples(st.just("tree"), tree_specs(), st.integers(1, 3), SECONDS)
MIDDLE = st.one_of(NEWS, st.tuples(st.just("same"), SECONDS), st.just(("304",)), DOWN)
TERMINAL = st.sampled_from(["completed", "failed", "cancelled"]).flatmap(tree_specs)
ENDING = st.none() | st.just(("gone",)) | st.tuples(st.just("end"), TERMINAL, st.just(1), SECONDS)


@st.composite
def runs(draw: st.DrawFn) -> list[Move]:
    # Before the first answer a backend can be down, but not answer 304: any tree is news
    # to a reader that has seen none.
    before = draw(st.lists(DOWN, max_size=3))
    first = draw(NEWS)
    middle = draw(st.lists(MIDDLE, max_size=25))
    ending = draw(ENDING)
    return [*before, first, *middle, *([ending] if ending else [])]


@st.composite
def follow_settings(draw: st.DrawFn) -> FollowSettings:
    min_wait = draw(st.floats(min_value=0.5, max_value=4))
    return FollowSettings(
        poll_interval=draw(st.floats(min_value=0.1, max_value=1)),
        max_backoff=draw(st.floats(min_value=1, max_value=10)),
        give_up_after=draw(st.floats(min_value=1, max_value=60)),
        tick_interval=draw(st.floats(min_value=0.5, max_value=5)),
        min_wait=min_wait,
        max_wait=min_wait * draw(st.sampled_from([1, 2, 3, 8, 15])),
        stall_seconds=draw(st.floats(min_value=1, max_value=100)),
    )


class RunOver(Exception):  # the scripted backend has no answer left
    pass


@dataclass
class Answered:
    """One answer of a run: when it came, what the ticks before it and it showed, and what
    the follower asked next."""

    move: str
    answer: Answer
    at: float
    ticks: list[tuple[float, Shown]]
    shown: Shown | None
    ask: Ask | None
    after: FollowState


@dataclass
class Run:
    answered: list[Answered] = field(default_factory=list)
    asks: list[Ask] = field(default_factory=list)

    def shows(self) -> list[tuple[float, Shown, Answered | None]]:
        """Everything shown, in order: when, what, and which answer showed it (None: a tick)."""
        out: list[tuple[float, Shown, Answered | None]] = []
        for a in self.answered:
            out += [(at, shown, None) for at, shown in a.ticks]
            if a.shown is not None:
                out.append((a.at, a.shown, a))
        return out


def drive(moves: list[Move], settings: FollowSettings, *, ticking: bool = True) -> Run:
    """Feed ``moves`` to ``step`` until the follow ends; the clock is the run's own."""
    state, ask = begin("cycle", settings)
    run = Run(asks=[ask])
    now, version, last_tree = 0.0, 0, None
    for move in moves:
        now += ask.pause or 0.0
        answer, held = _answer(move, ask, version, last_tree)
        if isinstance(answer, TreeAnswer):
            version, last_tree = answer.tree.version, answer.tree
        sent, ticks = now, []
        while ticking and now + settings.tick_interval < sent + held:
            now += settings.tick_interval
            state, shown = tick(state, now)
            if shown is not None:
                ticks.append((now, shown))
        now = sent + held
        state, shown, next_ask = step(state, answer, now)
        run.answered.append(Answered(str(move[0]), answer, now, ticks, shown, next_ask, state))
        if next_ask is None:
            with pytest.raises(ValueError, match="ended"):
                step(state, NotModified(), now)
            break
        ask = next_ask
        run.asks.append(ask)
    return run


def _answer(
    move: Move, ask: Ask, version: int, last_tree: TreePublic | None
) -> tuple[Answer, float]:
    """The answer a move gives, and how long it took."""
    if (kind := move[0]) in ("tree", "end"):
        spec, up, took = move[1], move[2], move[3]
        assert isinstance(spec, TreeSpec) and isinstance(up, int) and isinstance(took, float)
        return TreeAnswer(spec.build(version + up)), took
    if kind == "same" and last_tree is not None:
        assert isinstance(move[1], float)
        return TreeAnswer(last_tree), move[1]
    if kind == "down":
        assert isinstance(move[1], float)
        return Unreachable("connection refused"), move[1]
    if kind == "gone":
        return Gone(), 0.0
    return NotModified(), ask.wait


def ends_once_with_one_final_event(run: Run, moves: list[Move]) -> None:
    final = run.answered[-1]
    kinds = [[e.kind for e in shown[1]] for _, shown, _ in run.shows()]
    if final.ask is not None:  # still following: nothing ended it
        assert moves[-1][0] not in ("end", "gone")
        assert not any(ENDINGS & set(k) for k in kinds)
        assert len(run.answered) == len(moves) and not final.after.view.done
        return
    assert final.shown is not None and final.after.ended and final.shown[0].done
    assert [k for k in kinds[-1] if k in ENDINGS] == kinds[-1][-1:]
    assert not any(ENDINGS & set(k) for k in kinds[:-1])
    ending = kinds[-1][-1]
    if isinstance(final.answer, TreeAnswer):
        assert final.answer.tree.operations[0].is_terminal and ending is EventKind.FINISHED
    elif isinstance(final.answer, Gone):
        assert ending is EventKind.OPERATION_LOST and final.shown[0].lost
    else:
        assert ending is EventKind.GAVE_UP and final.shown[0].gave_up


def follows_the_versions(run: Run) -> None:
    """Asks never go back, always from the last version seen; a newer one always shows."""
    sinces = [ask.since for ask in run.asks]
    assert sinces == sorted(sinces) and sinces[0] == 0
    seen = 0
    for answered in run.answered:
        if isinstance(answered.answer, TreeAnswer):
            newer = answered.answer.tree.version > seen
            assert answered.shown is not None or not newer
            seen = answered.answer.tree.version
        if answered.ask is not None:
            assert answered.ask.since == seen


def waits_double_while_quiet(run: Run, settings: FollowSettings) -> None:
    assert run.asks[0].wait == settings.min_wait
    quiet = 0  # 304s in a row
    for answered in run.answered:
        quiet = quiet + 1 if isinstance(answered.answer, NotModified) else 0
        if answered.ask is not None:
            expected = min(settings.min_wait * 2**quiet, settings.max_wait)
            assert answered.ask.wait == expected
            assert settings.min_wait <= answered.ask.wait <= settings.max_wait


def outages_back_off_then_give_up(run: Run, settings: FollowSettings) -> None:
    attempts, down_since = 0, None
    for answered in run.answered:
        shown = answered.shown
        kinds = [e.kind for e in shown[1]] if shown else []
        if not isinstance(answered.answer, Unreachable):
            if attempts and not isinstance(answered.answer, Gone):
                assert shown is not None and shown[0].connection.ok
                assert EventKind.CONNECTION_RESTORED in kinds
            attempts, down_since = 0, None
            continue
        attempts += 1
        down_since = answered.at if down_since is None else down_since
        assert shown is not None
        connection = shown[0].connection
        assert not connection.ok and connection.attempts == attempts
        assert connection.down_for == answered.at - down_since
        assert (EventKind.CONNECTION_LOST in kinds) == (attempts == 1)
        if connection.down_for >= settings.give_up_after:
            assert answered.ask is None and kinds[-1] is EventKind.GAVE_UP
        else:
            backoff = min(settings.poll_interval * 2 ** (attempts - 1), settings.max_backoff)
            assert answered.ask is not None and answered.ask.pause == backoff
            assert connection.next_delay == backoff
            assert answered.ask.wait == settings.min_wait


def each_change_is_reported_once(run: Run, settings: FollowSettings) -> None:
    shows = run.shows()
    events = [e for _, (_, evs), _ in shows for e in evs]
    trees = [a for a in run.answered if isinstance(a.answer, TreeAnswer)]
    started = [e for e in events if e.kind is EventKind.STARTED]
    assert len(started) == (1 if trees else 0)
    # Each pair of opposite events alternates, the first of the pair first: a stall, an
    # outage or a child's presence is reported once when it begins and once when it ends.
    on: dict[tuple[int, str], bool] = defaultdict(bool)
    phase = None
    for _, (view, evs), _ in shows:
        assert view.stalled_for is None or view.stalled_for >= settings.stall_seconds
        for event in evs:
            if event.kind in PAIRED:
                index = PAIRED.index(event.kind)
                begins, pair = index % 2 == 0, index // 2
                # Children pair up one by one; the others are about the whole follow.
                key = (pair, event.detail if pair == 2 else "")
                assert on[key] is not begins, (event, evs)
                on[key] = begins
            if event.kind is EventKind.PHASE_CHANGED:
                assert event.detail != phase
        phase = view.phase
    # The same tree again is no news: no event about the tree, and no frame again before
    # a tick has passed.
    last_shown = float("-inf")
    for at, (_, evs), answered in shows:
        repeat = answered is not None and answered.move == "same"
        if repeat:
            about_time = {EventKind.STALLED, EventKind.STALL_CLEARED}
            assert {e.kind for e in evs} <= {*about_time, EventKind.CONNECTION_RESTORED}, evs
        if not evs and (repeat or answered is None or isinstance(answered.answer, NotModified)):
            # (less a hair: a fake clock that adds ticks up rounds)
            assert at - last_shown >= settings.tick_interval - 1e-9
        last_shown = at


@given(runs(), follow_settings())
def test_any_run_of_answers_keeps_the_followers_promises(
    moves: list[Move], settings: FollowSettings
) -> None:
    run = drive(moves, settings)
    ends_once_with_one_final_event(run, moves)
    follows_the_versions(run)
    waits_double_while_quiet(run, settings)
    outages_back_off_then_give_up(run, settings)
    each_change_is_reported_once(run, settings)


def test_with_the_defaults_the_held_wait_grows_from_2_to_30_seconds() -> None:
    spec = TreeSpec("training", None, (), 10.0, 0.0, complete=True)
    run = drive([("tree", spec, 1, 0.1), *[("304",)] * 6, ("tree", spec, 1, 0.1)], FollowSettings())
    assert [ask.wait for ask in run.asks] == [2, 2, 4, 8, 16, 30, 30, 30, 2]
    # The follower's own defaults are these.
    assert Follower(lambda *_: asyncio.sleep(0, None)).settings == FollowSettings()


@given(runs(), follow_settings())
def test_the_follower_loop_yields_what_step_says(
    moves: list[Move], settings: FollowSettings
) -> None:
    run = drive(moves, settings, ticking=False)
    script = [(a.answer, a.at) for a in run.answered]
    now = 0.0
    requests: list[tuple[int, float]] = []
    sleeps: list[float] = []

    async def fetch(op_id: str, since: int, wait: float) -> TreePublic | None:
        nonlocal now
        assert op_id == "cycle"
        requests.append((since, wait))
        if not script:
            raise RunOver  # the run has no more answers: the follower was still asking
        answer, now = script.pop(0)  # the answer comes when the run says it does
        if isinstance(answer, Unreachable):
            raise BackendUnavailableError(answer.message)
        if isinstance(answer, Gone):
            raise NotFoundApiError(404, "operation_not_found", "gone")
        return answer.tree if isinstance(answer, TreeAnswer) else None

    async def sleep(seconds: float) -> None:
        nonlocal now
        sleeps.append(seconds)
        now += seconds

    async def follow() -> list[Shown]:
        yielded: list[Shown] = []
        follower = Follower(fetch, clock=lambda: now, sleep=sleep, **asdict(settings))
        try:
            async for shown in follower.follow("cycle"):
                yielded.append(shown)
        except RunOver:
            assert run.answered[-1].ask is not None  # the run did not end the follow
        return yielded

    yielded = asyncio.run(follow())
    assert yielded == [shown for _, shown, _ in run.shows()]
    assert requests == [(ask.since, ask.wait) for ask in run.asks]
    assert sleeps == [ask.pause for ask in run.asks if ask.pause is not None]
