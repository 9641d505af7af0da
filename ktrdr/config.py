"""One Settings object, read from KTRDR_* environment variables."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from ktrdr.errors import ConfigurationError


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ktrdr"


# --- bounds of the settings that are read as numbers or checked for form -------------------
# Seconds a thread may be asked to wait must stay far below threading.TIMEOUT_MAX (an
# infinite grace or flush interval killed those threads at their first wait); beyond these
# the setting is a typo, not a choice.
MAX_CANCEL_GRACE_SECONDS = 3_600.0
MAX_PROGRESS_FLUSH_SECONDS = 60.0
MAX_WATCH_SECONDS = 86_400.0  # a monitor's give-up time and the stall warning: one day
MAX_JOB_THREADS = 1_024
MAX_REQUEST_BYTES = 1024 * 1024 * 1024  # 1 GiB: a JSON body is held in memory whole
# The bearer token travels in an HTTP header, which carries printable ASCII only, and must
# not be guessable: at least this many characters (secrets.token_urlsafe(32) gives 43).
MIN_TOKEN_LENGTH = 16
_TOKEN_CHARACTERS = re.compile(r"[!-~]+")  # printable ASCII without the space
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]*")
TOKEN_RULE = (
    f"must be at least {MIN_TOKEN_LENGTH} printable ASCII characters with no spaces "
    "(e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)
# Settings whose value must never be shown, even in the message refusing it.
_SECRET_FIELDS = frozenset({"api_token", "anthropic_api_key", "webhook_url", "webhook_secret"})


class Settings(BaseSettings):
    # allow_inf_nan=False: "inf" or "nan" for a number is refused, never used.
    model_config = SettingsConfigDict(env_prefix="KTRDR_", extra="ignore", allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Field(default_factory=_default_data_dir)
    db_path: Path | None = None
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    api_url: str | None = None
    autostart: bool = True
    # How long a running operation may take to acknowledge a cancel before it is forced.
    cancel_grace_seconds: float = Field(default=3.0, gt=0, le=MAX_CANCEL_GRACE_SECONDS)
    # Progress updates reach SQLite at most this often per operation (reads are always live).
    progress_flush_seconds: float = Field(default=0.5, ge=0, le=MAX_PROGRESS_FLUSH_SECONDS)
    ephemeral: bool = False
    # Where trainings and backtests compute: "process" (the default: one worker process per
    # job, so the API never waits on the GIL; see benchmarks.api_latency and
    # benchmarks.monitor_latency), "thread" (in the backend process) or "dask" (tasks on a
    # Dask cluster: see dask_scheduler; needs the ``dask`` extra).
    executor: Literal["thread", "process", "dask"] = "process"
    # BLAS/OpenMP threads each training/backtest may use. By default every core but one,
    # which stays with the API so it answers while jobs compute.
    job_threads: int = Field(
        default_factory=lambda: min(MAX_JOB_THREADS, max(1, (os.cpu_count() or 1) - 1)),
        ge=1,
        le=MAX_JOB_THREADS,
    )
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
    # The local cluster's Dask dashboard, on loopback (port 8787, or another if taken; the
    # backend's log gives its link). Off by default: it has no login, so any local user could
    # watch the jobs. Showing charts needs ``bokeh``. A remote scheduler's is its own business.
    dask_dashboard: bool = False
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
    monitor_give_up_seconds: float = Field(default=180.0, gt=0, le=MAX_WATCH_SECONDS)
    # How long running work may go without a progress report before a monitor says so.
    stall_seconds: float = Field(default=30.0, gt=0, le=MAX_WATCH_SECONDS)
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
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=MAX_REQUEST_BYTES)
    max_import_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=MAX_REQUEST_BYTES)
    # --- Imports under load (ktrdr.data.import_slots) ---------------------------------------
    # CSV imports the backend runs at once: each holds its upload and its parsed bars (about
    # twice the file) in memory. One more is refused at once with 409 "too_many_imports"
    # (it does not wait, and its body is not read).
    max_concurrent_imports: int = Field(default=1, ge=1, le=16)
    # The shared secret of a backend serving beyond loopback (required there): every
    # request but /health carries it as "Authorization: Bearer ...". The CLI sends it too.
    api_token: SecretStr | None = None
    # --- The HTTP server's own limits (ktrdr.api.limits), against slow or greedy clients ----
    # Open connections at most (kept below the process's open-file limit too). At the cap a
    # new connection displaces the one that has waited longest without sending a whole
    # request head; when every connection is busy with a request, the new one gets 503.
    max_connections: int = Field(default=1000, ge=16, le=100_000)
    # A request's line and headers must all arrive within this long (counted from the
    # connection's start or the previous response, not reset by each byte), and a body may
    # pause at most this long between pieces; past either the connection is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3_600)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3_600)
    # How long an idle keep-alive connection is kept between requests.
    keep_alive_seconds: int = Field(default=5, ge=1, le=3_600)
    # The largest request head (request line and headers) in bytes; larger gets 400.
    max_header_bytes: int = Field(default=16 * 1024, ge=4 * 1024, le=1024 * 1024)
    # --- Webhooks (ktrdr.notify): a signed POST when a root operation or a --count batch ends
    # The receivers, comma-separated (at most 8). A URL may carry a credential, so it is kept
    # as a secret: logs, `ops show` and the page show its scheme://host only, and a refused
    # value is never echoed.
    webhook_url: SecretStr = SecretStr("")
    # The Standard Webhooks signing secret, "whsec_" + base64 of 24 to 64 random bytes;
    # required with webhook_url (declared after it: its check reads it).
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    # Each attempt's timeout; failed ones are retried after 5 s, 10 s, 20 s, ... (each wait
    # at most an hour, ±20 % jitter) until webhook_retry_for_seconds after the end.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    webhook_retry_first_seconds: float = Field(default=5.0, gt=0, le=3_600)
    webhook_retry_for_seconds: float = Field(default=86_400.0, gt=0, le=7 * 86_400)

    @field_validator("webhook_url")
    @classmethod
    def _usable_webhook_urls(cls, value: SecretStr) -> SecretStr:
        return SecretStr(",".join(parse_webhook_urls(value.get_secret_value())))

    @field_validator("webhook_secret")
    @classmethod
    def _usable_webhook_secret(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        text = value.get_secret_value().strip() if value is not None else ""
        if not text:
            urls = info.data.get("webhook_url")
            if isinstance(urls, SecretStr) and urls.get_secret_value():
                raise ValueError(
                    f"is required when KTRDR_WEBHOOK_URL is set: it {WEBHOOK_SECRET_RULE}"
                )
            return None
        webhook_secret_key(text)  # ValueError with the rule, never the value
        return SecretStr(text)

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        return tuple(url for url in self.webhook_url.get_secret_value().split(",") if url)

    @property
    def webhook_key(self) -> bytes | None:
        """The HMAC key of the webhook secret (None without one)."""
        secret = self.webhook_secret
        return webhook_secret_key(secret.get_secret_value()) if secret is not None else None

    @field_validator("host")
    @classmethod
    def _usable_host(cls, value: str) -> str:
        """A name or an address, IPv6 without brackets (as uvicorn binds it); ``base_url``
        adds the brackets a URL needs."""
        host = value.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if ":" in host:
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError("is neither a host name nor an IP address") from None
        elif not _HOST_NAME.fullmatch(host):
            raise ValueError("is neither a host name nor an IP address")
        return host

    @field_validator("api_token")
    @classmethod
    def _usable_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Only a token every client can send in a header and nobody can guess; an empty
        one means no token."""
        text = value.get_secret_value() if value is not None else ""
        if not text:
            return None
        if len(text) < MIN_TOKEN_LENGTH or not _TOKEN_CHARACTERS.fullmatch(text):
            raise ValueError(TOKEN_RULE)
        return value

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
        if ":" in host:  # IPv6: bracketed in a URL, its zone's "%" escaped
            host = "[" + host.replace("%", "%25") + "]"
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
            name = _variable(field)
            message = str(error["msg"]).removeprefix("Value error, ")
            if field in _SECRET_FIELDS:
                problems.append(f"{name} (value hidden): {message}")
                continue
            shown = os.environ.get(name, error.get("input"))
            problems.append(f"{name}={shown!r}: {message}")
        raise ConfigurationError(
            "Invalid setting " + "; ".join(problems),
            code="invalid_setting",
            details={"errors": problems},
        ) from None


def _variable(field: str) -> str:
    """The environment variable a field is read from (its alias, or KTRDR_<FIELD>)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"KTRDR_{field.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


# --- the forms of the webhook settings (read by ktrdr.notify through Settings) --------------
MAX_WEBHOOK_URLS = 8  # more is a pasted list gone wrong, not a choice
MAX_WEBHOOK_URL_LENGTH = 2_048
WEBHOOK_SECRET_PREFIX = "whsec_"
# The Standard Webhooks specification's advice for a secret's random bytes.
MIN_WEBHOOK_SECRET_BYTES = 24
MAX_WEBHOOK_SECRET_BYTES = 64
WEBHOOK_SECRET_RULE = (
    f"must be {WEBHOOK_SECRET_PREFIX} followed by the base64 of {MIN_WEBHOOK_SECRET_BYTES} to "
    f"{MAX_WEBHOOK_SECRET_BYTES} random bytes (e.g. from `python -c 'import base64, secrets; "
    f'print("{WEBHOOK_SECRET_PREFIX}" + base64.b64encode(secrets.token_bytes(32)).decode())\'`)'
)


def parse_webhook_urls(text: str) -> tuple[str, ...]:
    """The comma-separated receiver URLs of ``text`` (blank items ignored, repeats dropped);
    ``ValueError`` saying what is wrong and with which one, never the URL (it may carry a
    credential)."""
    urls: list[str] = []
    for position, item in enumerate(text.split(","), start=1):
        url = item.strip()
        if not url:
            continue
        problem = _webhook_url_problem(url)
        if problem is not None:
            raise ValueError(f"receiver {position} {problem}")
        if url not in urls:
            urls.append(url)
    if len(urls) > MAX_WEBHOOK_URLS:
        raise ValueError(f"at most {MAX_WEBHOOK_URLS} receivers are allowed, got {len(urls)}")
    return tuple(urls)


def _webhook_url_problem(url: str) -> str | None:
    if len(url) > MAX_WEBHOOK_URL_LENGTH:
        return f"is longer than {MAX_WEBHOOK_URL_LENGTH} characters"
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        return "contains a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    return None


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_<base64>`` secret stands for; ``ValueError`` (saying the rule,
    never the value) when it is not one."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError(WEBHOOK_SECRET_RULE)
    encoded = secret[len(WEBHOOK_SECRET_PREFIX) :]
    encoded += "=" * (-len(encoded) % 4)  # some tools print it without its padding
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(WEBHOOK_SECRET_RULE) from None
    if not MIN_WEBHOOK_SECRET_BYTES <= len(key) <= MAX_WEBHOOK_SECRET_BYTES:
        raise ValueError(WEBHOOK_SECRET_RULE)
    return key
