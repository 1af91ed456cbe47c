"""The packages depend on each other in one direction only.

protocol (the wire) and calc_local (this machine's policy) sit at the bottom and import nothing
of ours; calc_server and calc_client build on them; calc_tui on calc_client, with one module
that embeds a server. Each package's modules are imported in a fresh interpreter and
``sys.modules`` is inspected, so an import hidden anywhere (a module added later, a transitive
import) is caught. Modules are found on disk, without importing them here, so new ones are
checked automatically.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EMBEDDING_MODULE = "calc_tui.serve"
"""The one calc_tui module allowed to import calc_server: it embeds a server for ``--serve``."""

# Runs in the child: import the modules one by one and report, for each, the top-level packages
# it newly brought in, so a failure names the module that pulled the forbidden one in.
_PROBE = """
import importlib, json, sys
def tops():
    return {name.partition(".")[0] for name in sys.modules}
before = tops()
seen = set(before)
report = {}
for module in json.loads(sys.argv[1]):
    importlib.import_module(module)
    now = tops()
    report[module] = sorted(now - seen)
    seen |= now
print(json.dumps({"baseline": sorted(before), "new": report}))
"""


@dataclass(frozen=True)
class Probe:
    """What importing some modules in a fresh interpreter brought into ``sys.modules``."""

    baseline: frozenset[str]
    new: dict[str, list[str]]

    def brought_in(self) -> set[str]:
        """Top-level packages the imports added beyond interpreter start-up."""
        return {top for tops in self.new.values() for top in tops}

    def culprits(self, top: str) -> list[str]:
        """The module whose import first pulled ``top`` in."""
        return [module for module, tops in self.new.items() if top in tops]


def probe(modules: list[str], root: Path = ROOT) -> Probe:
    """Import ``modules`` in order in a fresh ``sys.executable`` (run in ``root``)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return Probe(frozenset(data["baseline"]), data["new"])


def modules_of(package: str, root: Path = ROOT) -> list[str]:
    """Every module and subpackage of ``package``, found on disk without importing any."""
    found = [package]

    def walk(directory: Path, prefix: str) -> None:
        for info in sorted(pkgutil.iter_modules([str(directory)]), key=lambda m: m.name):
            name = f"{prefix}.{info.name}"
            found.append(name)
            if info.ispkg:
                walk(directory / info.name, name)

    walk(root / package, package)
    return found


@dataclass(frozen=True)
class Rule:
    """``package`` (all its modules but ``exempt``) must never import any of ``forbidden``."""

    package: str
    forbidden: frozenset[str]
    exempt: frozenset[str] = frozenset()


OURS = frozenset({"protocol", "calc_local", "calc_server", "calc_client", "calc_tui"})

RULES = [
    Rule("protocol", frozenset({"aiohttp", "textual", "platformdirs"}) | (OURS - {"protocol"})),
    Rule("calc_local", frozenset({"aiohttp", "textual", "msgspec"}) | (OURS - {"calc_local"})),
    Rule("calc_server", frozenset({"textual", "calc_tui", "calc_client"})),
    Rule("calc_client", frozenset({"textual", "calc_server", "calc_tui"})),
    Rule("calc_tui", frozenset({"calc_server"}), exempt=frozenset({EMBEDDING_MODULE})),
]


def violations(rule: Rule, root: Path = ROOT) -> dict[str, list[str]]:
    """Each forbidden package that ``rule.package`` brings in, with the modules to blame."""
    result = probe([m for m in modules_of(rule.package, root) if m not in rule.exempt], root)
    return {top: result.culprits(top) for top in sorted(rule.forbidden & result.brought_in())}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.package)
def test_package_never_imports_forbidden_packages(rule: Rule) -> None:
    found = violations(rule)
    assert found == {}, f"{rule.package} imports what it must not (by module): {found}"


def test_protocol_imports_only_msgspec_and_the_standard_library() -> None:
    """Importing msgspec first sets apart what msgspec needs itself (typing_extensions)."""
    result = probe(["msgspec", *modules_of("protocol")])
    allowed = set(sys.stdlib_module_names) | {"protocol", *result.new["msgspec"]}
    by_protocol = {
        top for module, tops in result.new.items() if module != "msgspec" for top in tops
    }
    assert by_protocol - allowed == set()


OS_MODULES = frozenset(
    {"os", "pathlib", "tempfile", "stat", "shutil", "socket", "ipaddress", "platform"}
)
"""Standard-library modules of the filesystem and the OS: none belongs in the wire contract."""


def imported_by(path: Path) -> set[str]:
    """Every module named in ``path``'s import statements, read from its source."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_protocol_imports_nothing_of_the_filesystem_or_the_os() -> None:
    """``os`` is loaded at interpreter start-up, so the probe cannot see it: read the source."""
    found = {
        path.name: sorted(top & OS_MODULES)
        for path in (ROOT / "protocol").rglob("*.py")
        if (top := {name.partition(".")[0] for name in imported_by(path)}) & OS_MODULES
    }
    assert found == {}


def test_only_the_embedding_module_imports_calc_server() -> None:
    """The exemption is needed where it is granted, and nowhere else."""
    package = ROOT / "calc_tui"
    importers = {
        "calc_tui." + path.relative_to(package).with_suffix("").as_posix().replace("/", ".")
        for path in package.rglob("*.py")
        if any(name.partition(".")[0] == "calc_server" for name in imported_by(path))
    }
    assert importers == {EMBEDDING_MODULE}


def test_modules_are_found_on_disk() -> None:
    assert {"protocol", "protocol.codec", "protocol.messages", "protocol.schema"} <= set(
        modules_of("protocol")
    )
    assert {"calc_server.app", "calc_server.connection", "calc_server.__main__"} <= set(
        modules_of("calc_server")
    )
    assert {"calc_client.link", "calc_client.reconnect"} <= set(modules_of("calc_client"))
    assert "calc_tui.widgets" in modules_of("calc_tui")
    assert {"calc_local.tokenfile", "calc_local.defaults"} <= set(modules_of("calc_local"))


def test_the_probe_sees_transitive_imports() -> None:
    """A check that could never fail proves nothing: importing calc_server does bring aiohttp."""
    result = probe(["protocol", "calc_server.app"])
    assert "aiohttp" not in result.new["protocol"]
    assert result.culprits("aiohttp") == ["calc_server.app"]
    assert "aiohttp" not in result.baseline


def test_a_violation_is_caught_and_blamed_and_only_the_exempt_module_may_commit_it(
    tmp_path: Path,
) -> None:
    """A throwaway package: a nested module imports a forbidden package, another is exempt."""
    package = tmp_path / "layered"
    (package / "widgets").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text("import json\n")
    (package / "serve.py").write_text("import aiohttp.web\n")
    (package / "widgets" / "__init__.py").write_text("")
    (package / "widgets" / "bad.py").write_text("import layered.serve\n")
    rule = Rule("layered", frozenset({"aiohttp"}), exempt=frozenset({"layered.serve"}))

    assert modules_of("layered", tmp_path) == [
        "layered",
        "layered.app",
        "layered.serve",
        "layered.widgets",
        "layered.widgets.bad",
    ]
    assert violations(rule, tmp_path) == {"aiohttp": ["layered.widgets.bad"]}

    (package / "widgets" / "bad.py").write_text("import layered.app\n")
    assert violations(rule, tmp_path) == {}
