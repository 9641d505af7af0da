"""The vocabulary the backend serves its front-ends: Python's tables word for word, over a
real backend, and no copy of any of its words left in the page's JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import httpx

import ktrdr.records.research as research_records
from ktrdr.agents.design.assessment import Verdict
from ktrdr.agents.phases.table import (
    ACTIVE_PHASES,
    ORDERED_PHASES,
    PHASE_PROGRESS,
    PHASE_STEP,
    Phase,
)
from ktrdr.records.kinds import KIND_LABEL, OperationStatus, OperationType
from tests.support.live_backend import LiveBackend

WEB = Path(__file__).resolve().parents[2] / "ktrdr" / "api" / "web"
ROLE_PREFIX = "ROLE_"


def python_roles() -> dict[str, str]:
    """Every ``ROLE_*`` constant of the records module, so a role added there is expected too."""
    return {
        name.removeprefix(ROLE_PREFIX): value
        for name, value in vars(research_records).items()
        if name.startswith(ROLE_PREFIX) and isinstance(value, str)
    }


def served(backend: LiveBackend) -> dict[str, Any]:
    reply = httpx.get(f"{backend.url}/api/v1/meta/vocabulary", timeout=10)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


def test_the_served_phases_are_the_phase_table_in_order(backend: LiveBackend) -> None:
    phases = served(backend)["phases"]
    values = [p["value"] for p in phases]
    assert sorted(values) == sorted(p.value for p in Phase)  # each phase once
    assert values[: len(ORDERED_PHASES)] == [p.value for p in ORDERED_PHASES]
    for term in phases:
        phase = Phase(term["value"])
        assert term["name"] == phase.name
        assert term["percentage"] == PHASE_PROGRESS.get(phase), phase
        assert term["step"] == PHASE_STEP[phase], phase
        assert term["active"] is (phase in ACTIVE_PHASES), phase
        assert term["terminal"] is phase.is_terminal, phase
    # The page's timeline walks the active phases in the order served.
    assert [p["value"] for p in phases if p["active"]] == [p.value for p in ACTIVE_PHASES]


def test_the_served_statuses_kinds_roles_and_verdicts_are_python_s(
    backend: LiveBackend,
) -> None:
    words = served(backend)
    assert words["statuses"] == [
        {"name": s.name, "value": s.value, "terminal": s.is_terminal} for s in OperationStatus
    ]
    assert set(KIND_LABEL) == set(OperationType)  # every kind has its label
    assert words["kinds"] == [
        {
            "name": k.name,
            "value": k.value,
            "label": KIND_LABEL[k],
            "noun": KIND_LABEL[k].lower(),
        }
        for k in OperationType
    ]
    roles = python_roles()
    assert roles, "no ROLE_ constants found: has research_records moved?"
    assert {r["name"]: r["value"] for r in words["roles"]} == roles
    assert len(words["roles"]) == len(roles)
    assert words["verdicts"] == list(get_args(Verdict))


def test_the_vocabulary_is_in_the_openapi_document(backend: LiveBackend) -> None:
    spec = httpx.get(f"{backend.url}/openapi.json", timeout=10).json()
    assert "get" in spec["paths"]["/api/v1/meta/vocabulary"]


# --- no copy in the page ---------------------------------------------------------------------


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The '...' or "..." literal opening at ``start``: its text and the index after it."""
    quote, i, out = text[start], start + 1, []
    while i < len(text) and text[i] != quote:
        if text[i] == "\\":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def _template_text(source: str, start: int) -> tuple[str, int, bool]:
    """A template's own text from ``start`` up to its closing backtick or its next ``${``:
    the text, the index after that mark, and whether a substitution opened."""
    i = start
    while i < len(source):
        if source[i] == "\\":
            i += 2
        elif source[i] == "`":
            return source[start:i], i + 1, False
        elif source.startswith("${", i):
            return source[start:i], i + 2, True
        else:
            i += 1
    raise ValueError("unterminated template literal")


def js_literals(source: str) -> list[str]:
    """The string literals of a JavaScript source: quoted strings, and template literals
    with no substitution (the code inside a ``${...}`` is scanned like any other). Comments
    are skipped; regular expression literals are not told apart, which the page's few
    regexes (none with a quote or a backtick) do not need."""
    found: list[str] = []
    opened: list[int] = []  # the brace depth at each ``${`` still open
    depth, i = 0, 0
    while i < len(source):
        ch = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = len(source) if end < 0 else end
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif ch in "'\"":
            literal, i = _quoted(source, i)
            found.append(literal)
        elif ch == "`" or (ch == "}" and opened and depth == opened[-1] + 1):
            whole = ch == "`"  # a template's start; else the text after a substitution
            if not whole:
                depth = opened.pop()
            text, i, substitution = _template_text(source, i + 1)
            if substitution:
                opened.append(depth)
                depth += 1
            elif whole:
                found.append(text)
        else:
            depth += (ch == "{") - (ch == "}")
            i += 1
    return found


def test_the_literal_finder_finds_copies_and_skips_comments() -> None:
    source = (
        'const T = ["completed", \'failed\', `cancelled`]; // "running" in a comment\n'
        "/* 'pending' */ const url = `/x?type=${\"training\"}&s=${k}`; const r = `agent_research`;"
        '\nconst s = "it\'s \\"quoted\\"";'
    )
    found = js_literals(source)
    assert found[:3] == ["completed", "failed", "cancelled"]
    assert "training" in found and "agent_research" in found
    assert "running" not in found and "pending" not in found
    assert 'it\'s "quoted"' in found


def vocabulary_words() -> dict[str, str]:
    """Every word the backend serves, with what it is."""
    words = {p.value: "phase" for p in Phase}
    words |= {s.value: "status" for s in OperationStatus}
    words |= {k.value: "kind" for k in OperationType}
    words |= dict.fromkeys(python_roles().values(), "role")
    words |= dict.fromkeys(get_args(Verdict), "verdict")
    return words


def test_no_javascript_file_keeps_a_copy_of_the_vocabulary() -> None:
    words = vocabulary_words()
    files = sorted(WEB.glob("*.js"))
    assert any(f.name == "vocabulary.js" for f in files), "the page's vocabulary module is gone"
    copies = [
        f"{path.name}: {literal!r} ({words[literal]})"
        for path in files
        for literal in js_literals(path.read_text(encoding="utf-8"))
        if literal in words
    ]
    assert not copies, "read these from vocabulary.js instead:\n" + "\n".join(copies)


def test_the_shell_loads_the_vocabulary_before_the_views() -> None:
    shell = (WEB / "index.html").read_text(encoding="utf-8")
    preloads = [line for line in shell.splitlines() if 'rel="modulepreload"' in line]
    assert preloads and "/static/vocabulary.js" in preloads[0]
