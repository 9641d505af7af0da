"""The layering rules, read from the source: which package may import which library, and
no import cycle between ktrdr's packages.

Every module under ``ktrdr/`` is parsed (not imported) and every ``import`` statement is
collected, including those inside functions (a lazy import is still a dependency). Imports
under ``if TYPE_CHECKING:`` count for the library rules but not for cycles: they never run.
A string that is exactly the path of a ktrdr module (``"ktrdr.jobs.process_preload"``, or
``"ktrdr.api.app:create_app"``) is an import by name, as importlib, a fork server's preload
or uvicorn make it: it counts for the rules too (a hidden arrow is still an arrow), but not
for cycles, since nothing says when, or whether, the name is imported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

import ktrdr

PACKAGE_ROOT = Path(ktrdr.__file__).resolve().parent


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "ktrdr.strategies.loader"
    target: str  # what it imports, e.g. "ktrdr.indicators.features" or "httpx"
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``
    by_name: bool = False  # a string naming the module, not an import statement


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below ``node``, with whether it sits under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield stmt, True
                yield from _walk(stmt, True)
            for stmt in child.orelse:
                yield stmt, type_only
                yield from _walk(stmt, type_only)
            continue
        yield child, type_only
        yield from _walk(child, type_only)


# The whole string is a dotted path from ``ktrdr``, optionally with ``:attribute``.
_MODULE_STRING = re.compile(r"(ktrdr(?:\.[A-Za-z_]\w*)+)(?::[A-Za-z_][\w.]*)?")


def module_named_by(text: str) -> str | None:
    """The ktrdr module a string names, or None (prose, a file name like "ktrdr.db")."""
    match = _MODULE_STRING.fullmatch(text)
    if match is None or _module_path(match.group(1)) is None:
        return None
    return match.group(1)


def imports_in(source: str, module: str, is_package: bool = False) -> list[Import]:
    """The imports in one module's source text (relative ones resolved against ``module``),
    and the modules its string literals name."""
    found: list[Import] = []
    for node, type_only in _walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = module_named_by(node.value)
            if named is not None:
                found.append(Import(module, named, node.lineno, type_only, by_name=True))
        elif isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno, type_only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(Import(module, target, node.lineno, type_only))
            # ``from ktrdr.api import deps`` imports the module ktrdr.api.deps.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if _module_path(candidate) is not None:
                    found.append(Import(module, candidate, node.lineno, type_only))
    return found


def _module_path(name: str) -> Path | None:
    if not name.startswith("ktrdr"):
        return None
    base = PACKAGE_ROOT.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def all_imports() -> tuple[Import, ...]:
    files = sorted(PACKAGE_ROOT.rglob("*.py"))
    assert files, f"no modules found under {PACKAGE_ROOT}"
    return tuple(
        item
        for path in files
        for item in imports_in(
            path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
        )
    )


def package_of(module: str) -> str:
    """The package a module belongs to for the cycle rule: ``ktrdr.<first level>``."""
    return ".".join(module.split(".")[:2])


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# --- library rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRule:
    """Modules under ``where`` must not import ``banned``, except those under ``except_in``."""

    where: str
    banned: str
    except_in: tuple[str, ...] = ()
    why: str = ""
    # Set while other work in progress is making the rule true: the test then passes or
    # fails without failing the suite (xfail, not strict). Clear it when that work lands.
    pending: str = ""

    def violations(self, imports: Iterable[Import] | None = None) -> list[Import]:
        """The imports (by default the whole tree's) that break this rule."""
        return [
            item
            for item in (all_imports() if imports is None else imports)
            if _within(item.module, self.where)
            and _within(item.target, self.banned)
            and not any(_within(item.module, allowed) for allowed in self.except_in)
        ]


# The domain: the rules of operations, research and trading, below every other layer.
DOMAIN = (
    "ktrdr.operations",
    "ktrdr.agents",
    "ktrdr.training",
    "ktrdr.backtesting",
    "ktrdr.data",
    "ktrdr.indicators",
    "ktrdr.strategies",
    "ktrdr.research",
)

# The adapters: they implement the domain's ports (the store, the executor).
ADAPTERS = ("ktrdr.storage", "ktrdr.executors")

RULES: list[ImportRule] = [
    ImportRule("ktrdr", "fastapi", ("ktrdr.api",), "the API is the only web edge"),
    ImportRule("ktrdr", "starlette", ("ktrdr.api",), "the API is the only web edge"),
    ImportRule("ktrdr", "uvicorn", ("ktrdr.api",), "the API is the only web edge"),
    ImportRule("ktrdr", "typer", ("ktrdr.cli",), "the CLI is the only command-line edge"),
    ImportRule(
        "ktrdr",
        "rich",
        ("ktrdr.cli.views", "ktrdr.cli.charts"),
        "rich lives in the CLI's rendering modules only",
    ),
    ImportRule("ktrdr", "PIL", ("ktrdr.cli.charts",), "only the CLI's PNG writer draws pixels"),
    ImportRule(
        "ktrdr",
        "httpx",
        ("ktrdr.client", "ktrdr.notify.http_sender"),
        "the client is the only HTTP caller of a backend; webhooks' one sender calls receivers",
    ),
    *(
        ImportRule(domain, edge, (), "the domain knows no edge")
        for domain in (*DOMAIN, *ADAPTERS, "ktrdr.records", "ktrdr.jobs")
        for edge in ("ktrdr.api", "ktrdr.cli", "ktrdr.client")
    ),
    *(
        ImportRule(lower, "ktrdr.jobs", (), "the jobs layer drives the layers below it")
        for lower in (*DOMAIN, *ADAPTERS, "ktrdr.records", "ktrdr.contract")
    ),
    ImportRule(
        "ktrdr",
        "ktrdr.bootstrap",
        ("ktrdr.api", "ktrdr.cli", "ktrdr.__main__"),
        "only the entrypoints build the object graph",
    ),
    ImportRule("ktrdr.client", "ktrdr.cli", (), "the client knows no terminal"),
    ImportRule(
        "ktrdr.client",
        "ktrdr.api",
        (),
        "the client needs the wire contract, not the server",
    ),
    ImportRule(
        "ktrdr.cli",
        "ktrdr.api",
        ("ktrdr.cli.commands.server",),
        "the CLI reads the wire contract; only `server start` runs the API",
    ),
    *(
        ImportRule("ktrdr.contract", edge, (), "the contract belongs to neither side")
        for edge in ("ktrdr.api", "ktrdr.cli", "ktrdr.client")
    ),
    ImportRule(
        "ktrdr.contract",
        "ktrdr.operations",
        (),
        "the contract reads the records (ktrdr.records), not the domain that makes them",
    ),
    ImportRule(
        "ktrdr.operations",
        "ktrdr.storage",
        (),
        "the domain owns the store's port; the adapters implement it",
    ),
    ImportRule(
        "ktrdr.operations",
        "ktrdr.executors",
        (),
        "the domain owns the executor's port; the executors implement it",
    ),
    # Webhooks listen to the service from beside it: the service never knows them.
    ImportRule(
        "ktrdr.operations",
        "ktrdr.notify",
        (),
        "the notifier listens to the service; the service knows no notifier",
    ),
    ImportRule(
        "ktrdr.notify",
        "ktrdr.storage",
        (),
        "the notifier owns the deliveries store's port; ktrdr.storage implements it",
    ),
    *(
        ImportRule("ktrdr.notify", edge, (), "the notifier knows no edge")
        for edge in ("ktrdr.api", "ktrdr.cli", "ktrdr.client", "ktrdr.jobs")
    ),
]

# What the records may stand on: they sit below the domain and the contract alike.
RECORDS_FLOOR = ("ktrdr.records", "ktrdr.errors")


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            rule,
            id=f"{rule.where}-no-{rule.banned}-except-{'+'.join(rule.except_in) or 'none'}",
            marks=[pytest.mark.xfail(reason=rule.pending, strict=False)] if rule.pending else [],
        )
        for rule in RULES
    ],
)
def test_library_stays_at_its_edge(rule: ImportRule) -> None:
    found = rule.violations()
    where = "\n".join(f"  {item.module}:{item.line} imports {item.target}" for item in found)
    assert not found, f"{rule.banned} outside {rule.except_in} ({rule.why}):\n{where}"


def records_violations(imports: Iterable[Import] | None = None) -> list[Import]:
    """The imports of ``ktrdr.records`` that reach anything of ktrdr but its floor."""
    return [
        item
        for item in (all_imports() if imports is None else imports)
        if _within(item.module, "ktrdr.records")
        and _within(item.target, "ktrdr")
        and not any(_within(item.target, allowed) for allowed in RECORDS_FLOOR)
    ]


def test_records_stand_on_errors_alone() -> None:
    assert any(_within(i.module, "ktrdr.records") for i in all_imports())  # the tree was read
    found = records_violations()
    where = "\n".join(f"  {item.module}:{item.line} imports {item.target}" for item in found)
    assert not found, f"ktrdr.records imports beyond {RECORDS_FLOOR}:\n{where}"
    planted = imports_in("from ktrdr.operations.service import X\n", "ktrdr.records.planted")
    assert [i.target for i in records_violations(planted)] == ["ktrdr.operations.service"]


# --- no cycles between packages ------------------------------------------------------------


def package_graph(imports: Iterable[Import] | None = None) -> dict[str, dict[str, Import]]:
    """package -> {package it imports: one import that shows it}, ktrdr packages only."""
    graph: dict[str, dict[str, Import]] = {}
    for item in all_imports() if imports is None else imports:
        if item.type_only or item.by_name or not item.target.startswith("ktrdr."):
            continue
        source, target = package_of(item.module), package_of(item.target)
        graph.setdefault(source, {})
        if source != target and source != "ktrdr" and target != "ktrdr":
            graph[source].setdefault(target, item)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Every strongly connected group of two or more packages (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_cycle_finder_finds_a_cycle() -> None:
    def edge(a: str, b: str) -> Import:
        return Import(a + ".m", b + ".m", 1, False)

    graph = {
        "a": {"b": edge("a", "b")},
        "b": {"c": edge("b", "c")},
        "c": {"a": edge("c", "a")},
        "d": {"a": edge("d", "a")},
    }
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": edge("a", "b")}, "b": {}}) == []


def test_the_walk_sees_lazy_relative_and_type_only_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import models\n"
        "from ..data.bars import Bars\n"
        "if TYPE_CHECKING:\n"
        "    from ktrdr.api import deps\n"
        "def later() -> None:\n"
        "    import httpx\n"
    )
    found = {i.target: i for i in imports_in(source, "ktrdr.strategies.loader")}
    assert found["ktrdr.strategies.models"].type_only is False
    assert found["ktrdr.data.bars"].line == 3
    assert found["ktrdr.api.deps"].type_only is True
    assert (found["httpx"].line, found["httpx"].type_only) == (7, False)
    assert len({i.module for i in all_imports()}) > 40  # the real tree was read


def test_no_import_cycle_between_ktrdr_packages() -> None:
    graph = package_graph()
    found = cycles(graph)
    lines = []
    for group in found:
        for source in group:
            for target, item in sorted(graph[source].items()):
                if target in group:
                    lines.append(f"  {item.module}:{item.line} imports {item.target}")
    assert not found, "import cycles between packages " + str(found) + ":\n" + "\n".join(lines)


def test_a_module_named_in_a_string_counts_for_the_rules_not_for_cycles() -> None:
    planted = (
        'PRELOAD = ["ktrdr.api.app"]\n'
        'TARGET = "ktrdr.api.app:create_app"\n'
        'DATABASE = "ktrdr.db"\n'  # a file name: no such module
        'LOGGER = "ktrdr.api.requests"\n'  # no such module either
        'PROSE = "see ktrdr.api.app"\n'  # not a bare path
    )
    found = imports_in(planted, "ktrdr.operations.planted")
    assert [(i.target, i.line, i.by_name) for i in found] == [
        ("ktrdr.api.app", 1, True),
        ("ktrdr.api.app", 2, True),
    ]
    rule = next(r for r in RULES if (r.where, r.banned) == ("ktrdr.operations", "ktrdr.api"))
    assert [i.line for i in rule.violations(found)] == [1, 2]
    assert package_graph(found) == {}
    statement = imports_in("import ktrdr.api.app\n", "ktrdr.operations.planted")
    assert set(package_graph(statement)["ktrdr.operations"]) == {"ktrdr.api"}


def test_the_tree_is_read_for_modules_named_in_strings() -> None:
    by_name = {(i.module, i.target) for i in all_imports() if i.by_name}
    # The fork server's preload is named by the composition root, not by the executor.
    assert ("ktrdr.bootstrap", "ktrdr.jobs.process_preload") in by_name
