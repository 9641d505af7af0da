from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.live_backend import LiveBackend

settings.register_profile("default", max_examples=200, stateful_step_count=20, deadline=None)
# CI: the default budget, drawn from a seed that .ci/run derives from the commit
# (``--hypothesis-seed``, printed in the run's header): each commit explores new examples,
# and a red build replays exactly with the seed it printed. No example database: every
# CI run starts clean.
settings.register_profile(
    "ci", max_examples=200, stateful_step_count=20, deadline=None, database=None, print_blob=True
)
settings.register_profile("thorough", max_examples=2000, stateful_step_count=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.getoption("hypothesis_seed", default=None)
    replay = (
        f"; replay: HYPOTHESIS_PROFILE={settings.get_current_profile_name()} "
        f"PYTEST_ADDOPTS='--hypothesis-seed={seed}' python3 -m pytest"
        if seed is not None
        else ""
    )
    return f"hypothesis profile: {settings.get_current_profile_name()}, seed: {seed}{replay}"


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever touches the user's data dir, default port or a real API key."""
    monkeypatch.setenv("KTRDR_DATA_DIR", str(tmp_path / "ktrdr-data"))
    monkeypatch.setenv("KTRDR_AUTOSTART", "0")
    monkeypatch.delenv("KTRDR_API_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    # In-process tests must never post to a developer's own webhook receiver.
    monkeypatch.delenv("KTRDR_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("KTRDR_WEBHOOK_SECRET", raising=False)


BackendFactory = Callable[..., LiveBackend]


@pytest.fixture
def backend_factory(tmp_path: Path) -> Iterator[BackendFactory]:
    started: list[LiveBackend] = []

    def make(*, ephemeral: bool = False, start: bool = True) -> LiveBackend:
        """``start=False`` leaves it stopped, e.g. to seed its data dir offline first."""
        backend = LiveBackend(tmp_path / f"backend{len(started)}", ephemeral=ephemeral)
        backend.root.mkdir(parents=True, exist_ok=True)
        started.append(backend)
        return backend.start() if start else backend

    yield make
    for backend in started:
        backend.kill()


@pytest.fixture
def backend(backend_factory: BackendFactory) -> LiveBackend:
    return backend_factory()
