"""The layers (docs/architecture.md): security > accounts > console, imports only downwards.

`lint-imports` enforces the contract in pyproject.toml (and runs in `make lint` and CI); these
tests run it too, check that the contract is the real one and not emptied, and check the
rule again on grimp's import graph, which counts every import, those inside functions
included: no upward import and no cycle between the packages outside the project glue.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("console", "accounts", "security")  # lowest first
# Django's project glue, which puts the layers together and may import any of them
# (issue 10, "Done when"): settings, URL configurations, WSGI/ASGI, app configs, admin
# registrations and migrations.
GLUE_MODULES = frozenset({"settings", "urls", "wsgi", "asgi", "apps", "admin"})


def _is_glue(module: str) -> bool:
    parts = module.split(".")
    return "migrations" in parts or parts[-1] in GLUE_MODULES or parts[-1].startswith("urls_")


def _rank(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*LAYERS, cache_dir=None)


def upward_imports(graph: grimp.ImportGraph) -> list[str]:
    """Return every import of a higher layer by a module that is not glue, with its line."""
    found = []
    for importer in sorted(graph.modules):
        if _is_glue(importer):
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            if _rank(imported) > _rank(importer):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    found.append(f"{importer}:{detail['line_number']} {detail['line_contents']}")
    return found


def package_cycles(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    """Return the pairs of packages that import each other outside the glue."""
    edges = {
        (importer.split(".")[0], imported.split(".")[0])
        for importer in graph.modules
        if not _is_glue(importer)
        for imported in graph.find_modules_directly_imported_by(importer)
    }
    return sorted((a, b) for a, b in edges if a < b and (b, a) in edges)


def test_it_reads_every_package(graph):
    # An empty or mistyped graph would find nothing wrong: each layer holds its modules.
    for module in ("console.middleware", "accounts.policy", "security.audit"):
        assert module in graph.modules


def test_it_finds_no_upward_import(graph):
    assert upward_imports(graph) == []


def test_it_finds_no_cycle_between_the_packages(graph):
    assert package_cycles(graph) == []


def test_it_counts_imports_inside_functions(graph):
    # security/apps.py imports its receivers inside AppConfig.ready: the graph must see it,
    # or an upward import hidden in a function would pass unseen.
    assert graph.direct_import_exists(importer="security.apps", imported="security.staff")


def test_it_catches_an_upward_import_inside_a_function():
    graph = grimp.build_graph(*LAYERS, cache_dir=None)  # its own: this one is changed
    graph.add_import(
        importer="console.htmx",
        imported="security.audit",
        line_number=12,
        line_contents="from security import audit",
    )
    assert "console.htmx:12 from security import audit" in upward_imports(graph)
    assert ("console", "security") in package_cycles(graph)


def test_it_keeps_the_contract_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert set(config["root_packages"]) == set(LAYERS)
    (contract,) = config["contracts"]
    assert contract["type"] == "layers"
    assert contract["layers"] == list(reversed(LAYERS))
    # Only glue may be let off, and only for the imports it puts together.
    for rule in contract.get("ignore_imports", []):
        importer, _, imported = (part.strip() for part in rule.partition("->"))
        assert _is_glue(importer), rule
        assert _rank(imported) > _rank(importer), rule


def test_it_passes_lint_imports():
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout
