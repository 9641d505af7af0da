"""Over the API a strategy is a name: a shipped example or a file in the data dir's
strategies folder. Nothing else on the server can be read through it, and every refusal is
the same message, so it cannot be used to learn which files exist."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ktrdr.contract.requests import TrainingStartRequest
from ktrdr.errors import InvalidRequestError, StrategyValidationError
from ktrdr.jobs.strategy_files import (
    MAX_NAMED_STRATEGY_BYTES,
    no_such_strategy,
    read_named_strategy,
    read_strategy,
)
from ktrdr.jobs.training import build_strategy
from ktrdr.strategies.loader import dump_strategy, load_strategy

GENERIC = no_such_strategy().message


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "data" / "strategies"
    made.mkdir(parents=True)
    return made


def write_strategy(path: Path, name: str) -> None:
    config = load_strategy("trend_momentum").model_copy(update={"name": name})
    path.write_text(dump_strategy(config), encoding="utf-8")


def refused(name: str, folder: Path | None) -> str:
    with pytest.raises(InvalidRequestError) as caught:
        read_named_strategy(name, folder)
    assert caught.value.details == {"field": "strategy"}
    return caught.value.message


def test_a_shipped_example_and_a_file_in_the_folder_are_found(folder: Path) -> None:
    assert read_named_strategy("rsi_mean_reversion", folder) == read_strategy("rsi_mean_reversion")
    write_strategy(folder / "mine.yaml", "mine")
    assert read_named_strategy("mine", folder)["name"] == "mine"
    assert read_named_strategy("mine.yaml", folder)["name"] == "mine"
    (folder / "other.json").write_text(
        load_strategy("trend_momentum").model_copy(update={"name": "other"}).model_dump_json()
    )
    assert read_named_strategy("other", folder)["name"] == "other"


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",
        "../x",
        "..",
        ".",
        ".hidden",
        "a/b",
        "a\\b",
        "",
        "x" * 65,
        "mine\n",
        "a\x00b",
        "missing",
        "missing.yaml",
    ],
)
def test_anything_but_a_name_of_a_strategy_is_one_generic_refusal(name: str, folder: Path) -> None:
    write_strategy(folder / "mine.yaml", "mine")
    assert refused(name, folder) == GENERIC


def test_the_refusal_names_neither_the_path_nor_its_content(tmp_path: Path, folder: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    (folder / "out.yaml").symlink_to(secret)
    message = refused("out", folder)
    assert message == GENERIC
    assert "secret" not in message and "password" not in message and str(tmp_path) not in message


def test_a_link_inside_the_folder_is_followed_but_one_leading_out_is_not(
    tmp_path: Path, folder: Path
) -> None:
    write_strategy(folder / "real.yaml", "real")
    (folder / "alias.yaml").symlink_to(folder / "real.yaml")
    assert read_named_strategy("alias", folder)["name"] == "real"
    outside = tmp_path / "outside.yaml"
    write_strategy(outside, "outside")
    (folder / "escape.yaml").symlink_to(outside)
    (folder / "relative.yaml").symlink_to(Path("..") / ".." / "outside.yaml")
    assert refused("escape", folder) == GENERIC
    assert refused("relative", folder) == GENERIC
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    assert refused("loop", folder) == GENERIC


def test_a_fifo_or_a_folder_is_refused_without_hanging(folder: Path) -> None:
    os.mkfifo(folder / "pipe.yaml")
    (folder / "dir.yaml").mkdir()
    answers: list[str] = []

    def attempt() -> None:
        answers.append(refused("pipe", folder))
        answers.append(refused("pipe.yaml", folder))
        answers.append(refused("dir", folder))

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert answers == [GENERIC] * 3


def test_a_device_is_refused(folder: Path) -> None:
    (folder / "zero.yaml").symlink_to("/dev/zero")
    assert refused("zero", folder) == GENERIC


def test_a_file_over_the_limit_is_refused_by_name_only(folder: Path) -> None:
    (folder / "big.yaml").write_bytes(b"#" * (MAX_NAMED_STRATEGY_BYTES + 1))
    with pytest.raises(StrategyValidationError, match="more than a strategy file may hold") as c:
        read_named_strategy("big", folder)
    assert str(folder) not in c.value.message and "'big.yaml'" in c.value.message


def test_without_a_folder_only_examples_are_names(folder: Path) -> None:
    write_strategy(folder / "mine.yaml", "mine")
    assert refused("mine", None) == GENERIC
    assert read_named_strategy("trend_momentum", None)["name"] == "trend_momentum"


def test_build_strategy_never_reads_a_path(tmp_path: Path, folder: Path) -> None:
    path = tmp_path / "mine.yaml"
    write_strategy(path, "mine")
    with pytest.raises(InvalidRequestError, match="no such strategy"):
        build_strategy(TrainingStartRequest(strategy=str(path)), folder)
    # ... while the CLI's door still reads the user's own file
    assert (
        build_strategy(TrainingStartRequest(strategy_config=read_strategy(str(path)))).name
        == "mine"
    )
