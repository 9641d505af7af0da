"""The CLI reads its environment through Settings: KTRDR_DEBUG at the last line of defence
(which must survive invalid settings), and the backend it starts gets its KTRDR_* values
from the Settings the command resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktrdr.cli import app as app_module
from ktrdr.cli.backend import backend_environment
from ktrdr.config import Settings


def crashing_app() -> None:
    raise RuntimeError("boom")


def run_main(capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    with pytest.raises(SystemExit) as info:
        app_module.main()
    return info.value.code, capsys.readouterr().err


def test_an_unexpected_error_is_one_line_unless_debugging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(app_module, "app", crashing_app)
    monkeypatch.delenv("KTRDR_DEBUG", raising=False)
    code, err = run_main(capsys)
    assert code == 1
    assert err.startswith("Error: unexpected RuntimeError: boom (run again with KTRDR_DEBUG=1")
    assert err.count("\n") == 1
    monkeypatch.setenv("KTRDR_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        app_module.main()


@pytest.mark.parametrize(
    "env",
    [
        {"KTRDR_DEBUG": "1", "KTRDR_PORT": "not-a-port"},  # debug asked, other settings bad
        {"KTRDR_DEBUG": "perhaps"},  # the debug switch itself is bad
    ],
)
def test_invalid_settings_never_break_the_last_line_of_defence(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(app_module, "app", crashing_app)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, err = run_main(capsys)
    assert code == 1
    assert err.startswith("Error: unexpected RuntimeError: boom") and err.count("\n") == 1


def test_the_started_backend_binds_and_stores_where_the_settings_say(tmp_path: Path) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=8123,
        data_dir=tmp_path / "data",
        db_path=tmp_path / "elsewhere.db",
        log_format="json",
    )
    inherited = {
        "PATH": "/usr/bin",
        "ANTHROPIC_API_KEY": "sk-test",
        "KTRDR_PORT": "9999",  # overridden (e.g. by --port) in the resolved settings
        "KTRDR_API_URL": "http://somewhere:1",  # the child is the backend, not a client
    }
    env = backend_environment(settings, inherited)
    assert env["PATH"] == "/usr/bin" and env["ANTHROPIC_API_KEY"] == "sk-test"
    assert env["KTRDR_HOST"] == "127.0.0.1" and env["KTRDR_PORT"] == "8123"
    assert env["KTRDR_DATA_DIR"] == str(tmp_path / "data")
    assert env["KTRDR_DB_PATH"] == str(tmp_path / "elsewhere.db")
    assert env["KTRDR_LOG_FORMAT"] == "json"
    assert "KTRDR_API_URL" not in env
    assert inherited["KTRDR_PORT"] == "9999"  # the caller's mapping is left alone
