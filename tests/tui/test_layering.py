"""calc_tui imports calc_server in exactly one place: the embedded server for --serve."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import calc_tui

PACKAGE = Path(calc_tui.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_serve_imports_calc_server() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(m.split(".")[0] == "calc_server" for m in imported_modules(path))
    }
    assert importers == {"serve.py"}


def test_the_client_loads_without_the_server() -> None:
    code = (
        "import sys, calc_tui.__main__, calc_tui.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'calc_server'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
