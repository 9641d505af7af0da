"""No environment variable is read around Settings in the CLI and the client. (Which library
may be imported where is tests/unit/test_import_rules.py's job.)"""

from __future__ import annotations

import ast
from pathlib import Path

import ktrdr

PACKAGE = Path(ktrdr.__file__).parent
# Passes the whole environment on to the backend process it spawns (reads no variable).
ENVIRONMENT_PASSED_ON = {"cli/backend.py"}


def modules() -> dict[str, ast.Module]:
    found = {}
    for folder in ("cli", "client"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            found[path.relative_to(PACKAGE).as_posix()] = ast.parse(path.read_text())
    return found


def imported_roots(tree: ast.Module) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def reads_environment(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ("environ", "getenv") for alias in node.names):
                return True
    return False


def test_typer_never_in_the_client() -> None:
    users = {name for name, tree in modules().items() if "typer" in imported_roots(tree)}
    assert users and not any(name.startswith("client/") for name in users), users


def test_environment_only_through_settings() -> None:
    readers = {name for name, tree in modules().items() if reads_environment(tree)}
    assert readers <= ENVIRONMENT_PASSED_ON, readers
