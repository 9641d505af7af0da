"""One Settings object, read from KTRDR_* environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ktrdr.errors import ConfigurationError


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ktrdr"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KTRDR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Field(default_factory=_default_data_dir)
    db_path: Path | None = None
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    api_url: str | None = None
    autostart: bool = True
    # How long a running operation may take to acknowledge a cancel before it is forced.
    cancel_grace_seconds: float = Field(default=3.0, gt=0)
    # Progress updates reach SQLite at most this often per operation (reads are always live).
    progress_flush_seconds: float = Field(default=0.5, ge=0)
    ephemeral: bool = False
    # Where trainings and backtests compute: "process" (the default: one worker process per
    # job, so the API never waits on the GIL; see benchmarks.api_latency and
    # benchmarks.monitor_latency), "thread" (in the backend process) or "dask" (tasks on a
    # Dask cluster: see dask_scheduler; needs the ``dask`` extra).
    executor: Literal["thread", "process", "dask"] = "process"
    # BLAS/OpenMP threads each training/backtest may use. By default every core but one,
    # which stays with the API so it answers while jobs compute.
    job_threads: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 1) - 1), ge=1)
    # How many trainings/backtests run at once; more wait their turn.
    workers: int = Field(default=2, ge=1, le=64)
    # The Dask cluster of the "dask" executor: "tcp://HOST:PORT" (or tls://) of a running
    # scheduler, or "local" / "local:N" for a LocalCluster of N worker processes (default:
    # ``workers``) started inside the backend.
    dask_scheduler: str = "local"
    # TLS towards the scheduler (all three, or none: then Dask's own config applies). A
    # scheduler runs whatever a client sends it, so without TLS it belongs on a private
    # network only.
    dask_tls_ca_file: Path | None = None
    dask_tls_cert: Path | None = None
    dask_tls_key: Path | None = None
    # How many research cycles may be open at once; one more trigger is refused (409).
    max_active_cycles: int = Field(default=1, ge=1, le=64)
    # What a research cycle evaluates when its trigger does not say: this many candidate
    # designs, each on this many walk-forward folds (0: the classic cycle, one design on one
    # train/test split), with training stopped after this many epochs without a better
    # validation loss (0: every epoch runs).
    research_candidates: int = Field(default=4, ge=1, le=64)
    research_folds: int = Field(default=4, ge=0, le=20)
    research_patience: int = Field(default=10, ge=0, le=100_000)
    # How long a monitor retries a backend that stopped answering before it gives up.
    monitor_give_up_seconds: float = Field(default=180.0, gt=0)
    # How long running work may go without a progress report before a monitor says so.
    stall_seconds: float = Field(default=30.0, gt=0)
    # Tracebacks instead of one-line errors in the CLI (KTRDR_DEBUG=1).
    debug: bool = False
    # The conventional NO_COLOR switch (https://no-color.org): any non-empty value turns
    # live bars and colours off.
    no_color: str = Field(default="", validation_alias=AliasChoices("NO_COLOR"))
    # The optional Claude designer. The key is a SecretStr: it prints as '**********'.
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL")
    )
    llm_model_haiku: str | None = None
    llm_model_sonnet: str | None = None
    llm_model_opus: str | None = None
    # Host names the backend answers to besides its own address (loopback and the bind
    # host), comma-separated: "box.lan" (with the backend's port) or "box.lan:8443" (behind
    # a proxy); "*" accepts any Host header, which gives up the DNS-rebinding defence.
    allowed_hosts: str = ""
    # Request body limits in bytes: every JSON request, and the CSV import whose file
    # content travels inside its JSON body.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # The shared secret of a backend serving beyond loopback (required there): every
    # request but /health carries it as "Authorization: Bearer ...". The CLI sends it too.
    api_token: SecretStr | None = None

    @property
    def token(self) -> str | None:
        """The API token's text (an empty KTRDR_API_TOKEN counts as none)."""
        return self.api_token.get_secret_value() or None if self.api_token else None

    @property
    def database_path(self) -> Path:
        return self.db_path if self.db_path is not None else self.data_dir / "ktrdr.db"

    @property
    def base_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def backtests_dir(self) -> Path:
        return self.data_dir / "backtests"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (plus ``overrides``); a bad value is a
    ``ConfigurationError`` naming the variable, never a pydantic traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"KTRDR_{field.upper()}"
            shown = os.environ.get(name, error.get("input"))
            problems.append(f"{name}={shown!r}: {error['msg']}")
        raise ConfigurationError(
            "Invalid setting " + "; ".join(problems),
            code="invalid_setting",
            details={"errors": problems},
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
