"""`ktrdr server ...`: run, inspect and stop the backend."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ktrdr.cli.options import JsonOutput
from ktrdr.cli.output import friendly_errors, print_json, terminal_safe

if TYPE_CHECKING:
    from ktrdr.contract.operations import HealthPublic

app = typer.Typer(help="Run and manage the ktrdr backend.", no_args_is_help=True)


@app.command("start")
def start(
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background, log to the data dir.")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Bind address (KTRDR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KTRDR_PORT).")] = None,
    ephemeral: Annotated[
        bool, typer.Option("--ephemeral", help="Keep operations in memory only.")
    ] = False,
) -> None:
    """Start the backend (foreground unless --detach)."""
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if ephemeral:
        overrides["ephemeral"] = True
    from ktrdr.config import load_settings

    with friendly_errors():
        settings = load_settings(**overrides)
        from ktrdr.cli.backend import BackendFiles, probe, start_detached

        existing = probe(settings.base_url, timeout=0.5, token=settings.token)
        if existing is not None:
            sys.stderr.write(
                f"A ktrdr backend already answers at {settings.base_url} (pid {existing.pid})\n"
            )
            raise typer.Exit(1)
        if detach:
            health = start_detached(settings)
            log = BackendFiles.for_settings(settings).log
            sys.stdout.write(
                f"ktrdr backend started at {settings.base_url} (pid {health.pid}, log {log})\n"
            )
            return
        from ktrdr.api.server import serve

        serve(settings)


@app.command("status")
def status(json_out: JsonOutput = False) -> None:
    """Say whether a backend answers, and where (with its API token, what it runs)."""
    from ktrdr.cli.backend import probe
    from ktrdr.config import load_settings

    with friendly_errors():
        settings = load_settings()
    health = probe(settings.base_url, token=settings.token)
    if json_out:
        print_json(
            {
                "url": settings.base_url,
                "running": health is not None,
                "health": health.model_dump(mode="json") if health else None,
            }
        )
    elif health is None:
        sys.stdout.write(f"No ktrdr backend answers at {settings.base_url}\n")
    else:
        sys.stdout.write(terminal_safe(_describe(health, settings.base_url)) + "\n")
        if health.cluster_problem:
            sys.stdout.write(terminal_safe(f"  cluster: {health.cluster_problem}") + "\n")
    if health is None:
        raise typer.Exit(1)


def _describe(health: HealthPublic, url: str) -> str:
    if health.detail == "liveness":
        return (
            f"ktrdr backend {health.version} at {url}: {health.status} "
            "(its details need this backend's API token in KTRDR_API_TOKEN)"
        )
    executor = health.executor
    if health.scheduler is not None:
        executor = f"dask at {health.scheduler} ({health.cluster_status}"
        if health.cluster_status == "connected":
            executor += f", {health.workers} worker(s), {health.free_slots} free slot(s)"
        executor += ")"
    return (
        f"ktrdr backend {health.version} at {url}: pid {health.pid}, "
        f"store {health.store}, executor {executor}, "
        f"{health.active_operations} running operation(s)"
    )


@app.command("stop")
def stop() -> None:
    """Stop the local backend started with --detach (or by autostart)."""
    from ktrdr.cli.backend import stop as stop_backend
    from ktrdr.config import load_settings

    with friendly_errors():
        settings = load_settings()
    if settings.api_url:
        sys.stderr.write("Error: KTRDR_API_URL points at a remote backend; not stopping it\n")
        raise typer.Exit(2)
    with friendly_errors():
        stopped = stop_backend(settings)
    if stopped is None:
        sys.stdout.write(
            f"No local ktrdr backend was running at {settings.base_url} "
            f"(data dir {settings.data_dir})\n"
        )
    else:
        sys.stdout.write(
            terminal_safe(
                f"Stopped the ktrdr backend at {stopped.url} (pid {stopped.pid}, "
                f"data {stopped.data})"
            )
            + "\n"
        )
