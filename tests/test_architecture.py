"""ARCHITECTURE.md's dependency rules, checked on every run."""

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

import yiwang

ROOT = Path(__file__).resolve().parents[1]
NOT_DOMAINS = {"core", "migrations", "locale", "app", "cli", "clibench"}


def _packages() -> set[str]:
    return {m.name for m in pkgutil.iter_modules(yiwang.__path__)}


def test_import_linter_contracts_hold():
    r = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_core_contract_lists_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == "core imports no domain")
    forbidden = {m.removeprefix("yiwang.") for m in contract["forbidden_modules"]}
    missing = _packages() - forbidden - {"core", "migrations", "locale"}
    assert not missing, f"add these to the 'core imports no domain' contract: {sorted(missing)}"


def test_domains_import_each_other_only_through_init():
    """Another domain's models/api/views/service are private; use its __init__ (public face)."""
    graph = grimp.build_graph("yiwang")
    domains = _packages() - NOT_DOMAINS
    bad = []
    for importer in graph.modules:
        parts = importer.split(".")
        if len(parts) < 2 or parts[1] not in domains:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            target = imported.split(".")
            if len(target) >= 3 and target[1] in domains and target[1] != parts[1]:
                bad.append(f"{importer} -> {imported}")
    assert not bad, "import another domain through its package only:\n" + "\n".join(sorted(bad))


def test_domains_use_only_the_public_names_of_core_db():
    """``core.db.__all__`` is the whole database API of a service: one way to read, one way to write."""
    import ast

    from yiwang.core import db

    allowed = set(db.__all__)
    outside: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "yiwang").rglob("*.py"):
        if path.relative_to(ROOT / "src" / "yiwang").parts[0] == "core":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: set[str] = set()
        aliases = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "yiwang.core"
            for a in node.names
            if a.name == "db"
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "yiwang.core.db":
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                names.add(node.attr)
        if names - allowed:
            outside[str(path.relative_to(ROOT))] = names - allowed
    assert not outside, f"names outside core.db.__all__: {outside}"
