"""`ktrdr ops list` piped (as a subprocess's output is): wide enough that no row wraps,
with type and time columns, and a page that starts inside a family shows the parent it
cut off. The real command against a real backend and a real research cycle."""

from __future__ import annotations

import json
import subprocess

from tests.support.live_backend import LiveBackend, run_ktrdr


def _run(backend: LiveBackend, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=300)


def test_a_page_of_children_shows_their_parent_and_piped_rows_stay_whole(
    backend: LiveBackend,
) -> None:
    cycle = _run(backend, "agent", "trigger", "-f", "--json")
    assert cycle.returncode == 0, cycle.stderr
    cycle_id = json.loads(cycle.stdout)["operation_id"]
    everything = json.loads(_run(backend, "ops", "list", "--limit", "1000", "--json").stdout)
    children = [op["operation_id"] for op in everything if op["parent_operation_id"] == cycle_id]
    assert len(children) >= 2 and everything[-1]["operation_id"] == cycle_id  # oldest: last

    # The newest two rows are children; their parent is on a later page.
    listed = _run(backend, "ops", "list", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "op_" in line]
    assert len(rows) == 3, listed.stdout  # the parent, then its two children, one line each
    assert rows[0].lstrip().startswith(cycle_id) and "(on another page)" in rows[0]
    assert all(row.lstrip().startswith("└─ op_") for row in rows[1:])
    assert {row.split()[1] for row in rows[1:]} <= set(children)
    header = listed.stdout.splitlines()[0]
    for column in ("Type", "Status", "Created (UTC)", "Started"):
        assert column in header
    assert "agent_research" in rows[0]
    assert max(len(line) for line in listed.stdout.splitlines()) > 80  # not wrapped at 80

    # JSON stays the page itself: no parent is added to it.
    paged = json.loads(_run(backend, "ops", "list", "--limit", "2", "--json").stdout)
    assert [op["operation_id"] for op in paged] == [op["operation_id"] for op in everything[:2]]
