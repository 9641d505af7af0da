"""What ``POST /backtests/start`` says about a model it cannot use, on the real app under a real
server: no server path, at most a few model names, the same answer whether or not
something exists at a path outside the models directory, and where to look instead."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktrdr.excerpt import excerpt
from tests.support.served import Served, served_in_process
from tests.support.waiting import wait_until

TRAINED = "rsi_mean_reversion"
COPIES = [f"copy_{n:02d}" for n in range(8)]  # more names than a refusal may list


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """A backend with one trained model, stored again under several more strategy names
    (real model files), and a copy of it outside the models directory."""
    root = tmp_path_factory.mktemp("model-errors")
    with served_in_process(root / "data") as backend:
        with httpx.Client(base_url=backend.api, timeout=60) as http:
            started = http.post("/training/start", json={"strategy": TRAINED, "epochs": 1})
            operation_id = started.json()["data"]["operation_id"]
            assert wait_until(
                lambda: backend.service.get(operation_id).is_terminal, timeout=120, interval=0.1
            )
        models = root / "data" / "models"
        [version] = [p for p in (models / TRAINED).iterdir() if not p.name.startswith(".")]
        for name in COPIES:
            shutil.copytree(version, models / name / version.name)
        shutil.copytree(version, root / "outside" / "model")
        yield backend, root


def refusal(http: httpx.Client, model: str) -> dict[str, Any]:
    response = http.post("/backtests/start", json={"model": model})
    assert response.status_code == 422, response.text[:500]
    return dict(response.json()["error"])


def test_an_unknown_model_is_named_with_a_few_models_and_no_path(
    served: tuple[Served, Path],
) -> None:
    """Item 15: no models directory, at most a few names, and `ktrdr model list` to see all."""
    backend, root = served
    with httpx.Client(base_url=backend.api, timeout=60) as http:
        error = refusal(http, "nope")
    text = str(error)
    assert str(root) not in text and "/models" not in text
    assert "'nope'" in error["message"] and "ktrdr model list" in error["message"]
    shown = [name for name in [TRAINED, *COPIES] if name in error["message"]]
    assert 1 <= len(shown) <= 5, error["message"]
    assert error["details"]["field"] == "model"
    assert len(error["details"]["some_models"]) == len(shown)
    assert error["details"]["models"] == len(COPIES) + 1


def test_a_path_outside_the_models_directory_reveals_nothing(
    served: tuple[Served, Path],
) -> None:
    """Item 15: a real model outside the store and a path to nothing get the same answer."""
    backend, root = served
    outside = root / "outside"
    with httpx.Client(base_url=backend.api, timeout=60) as http:
        answers = []
        for target in (outside / "model", outside / "missing", Path("/etc"), Path("../outside")):
            error = refusal(http, str(target))
            echoed = excerpt(str(target))  # the caller's own words, quoted back (shortened)
            assert echoed in error["message"]
            assert str(root) not in error["message"].replace(echoed, "")
            answers.append(error["message"].replace(echoed, "<model>"))
            answers.append(str(error["details"]).replace(echoed, "<model>"))
    assert len(set(answers[0::2])) == 1 and len(set(answers[1::2])) == 1, answers


def test_a_stored_model_still_starts(served: tuple[Served, Path]) -> None:
    """Item 15: the path-free refusals leave the names (and the store's own paths) working."""
    backend, root = served
    with httpx.Client(base_url=backend.api, timeout=60) as http:
        for model in (TRAINED, COPIES[3]):
            started = http.post("/backtests/start", json={"model": model})
            assert started.status_code == 202, started.text
    [version] = (root / "data" / "models" / COPIES[0]).iterdir()
    with httpx.Client(base_url=backend.api, timeout=60) as http:
        assert http.post("/backtests/start", json={"model": str(version)}).status_code == 202
