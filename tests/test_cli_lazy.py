"""The ``yiwang`` command mounts the domains lazily: ``--help`` lists them without importing them,
and every registered command still mounts and answers ``--help`` (issue 14 item 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from yiwang import cli
from yiwang.app import DOMAINS
from yiwang.core import commands
from yiwang.core.security import SYSTEM_ACTOR

HEAVY = (
    "click",
    "sqlalchemy",
    "pydantic",
    "fastapi",
    "starlette",
    "polars",
    "pyarrow",
    "pandas",
    "numpy",
    "numba",
    "sklearn",
    "scipy",
    "duckdb",
    "pyiceberg",
    "structlog",
    "jinja2",
    "alembic",
)

LOADED_AFTER_HELP = """
import json, sys
sys.argv = ["yiwang", "--help"]
from yiwang import cli
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
sys.stderr.write(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_group_and_imports_no_domain_nor_heavy_library():
    proc = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER_HELP],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), proc.stderr
    for name in [*cli.DOMAIN_COMMANDS, *cli.TOP_COMMANDS, "up", "seed", "db", "audit", "bench"]:
        assert f" {name} " in proc.stdout, f"{name} missing from yiwang --help"
    for _module, help_text in [*cli.DOMAIN_COMMANDS.values(), *cli.TOP_COMMANDS.values()]:
        assert help_text.split()[0] in proc.stdout
    loaded = set(report["modules"])
    domains = {m for m in loaded for d in DOMAINS if m == f"yiwang.{d}" or m.startswith(f"yiwang.{d}.")}
    assert not domains, f"yiwang --help imported {sorted(domains)}"
    heavy = {m for m in loaded if m.split(".")[0] in HEAVY}
    assert not heavy, f"yiwang --help imported {sorted(heavy)[:20]}"


@pytest.mark.parametrize("name", [*cli.DOMAIN_COMMANDS, *cli.TOP_COMMANDS])
def test_every_registered_command_mounts_with_the_declared_help(name):
    command = cli.load_command(name)
    assert isinstance(command, typer.core.TyperCommand | typer.core.TyperGroup) and command.name == name
    declared = {**cli.DOMAIN_COMMANDS, **cli.TOP_COMMANDS}[name][1]
    own = " ".join((command.help or "").split())
    assert own.startswith(declared.rstrip(".")), f"{name}: the table says {declared!r}, the command {own!r}"
    runner = CliRunner()
    r = runner.invoke(cli.app, [name, "--help"])
    assert r.exit_code == 0, r.output
    for sub in getattr(command, "commands", {}):  # and each command of a group
        r = runner.invoke(cli.app, [name, sub, "--help"])
        assert r.exit_code == 0, f"yiwang {name} {sub} --help: {r.output}"
        nested = command.commands[sub]
        for leaf in getattr(nested, "commands", {}):
            r = runner.invoke(cli.app, [name, sub, leaf, "--help"])
            assert r.exit_code == 0, f"yiwang {name} {sub} {leaf} --help: {r.output}"


def test_unknown_command_suggests_a_lazy_one():
    r = CliRunner().invoke(cli.app, ["inges"])
    assert r.exit_code == 2 and "ingest" in r.output


def test_benches_resolve():
    import importlib

    for name, target in cli.BENCHES.items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name


def test_actor_named_is_shared():
    found = object()
    assert commands.actor_named(None, None, lambda s, u: found) is SYSTEM_ACTOR
    assert commands.actor_named(None, "leader", lambda s, u: found if u == "leader" else None) is found
    with pytest.raises(typer.Exit) as exc:
        commands.actor_named(None, "nobody", lambda s, u: None)
    assert exc.value.exit_code == 2


def test_domain_commands_take_the_shared_user_option():
    """``--user`` is declared once, in core; the commands that take it use that declaration."""
    import inspect

    for name in ("lake", "governance"):
        module = __import__(cli.DOMAIN_COMMANDS[name][0], fromlist=["app"])
        assert "def actor_named" not in inspect.getsource(module)
    for name in ("lake", "ingest"):
        command = cli.load_command(name)
        leaves = command.commands.values() if hasattr(command, "commands") else [command]
        users = [p for c in leaves for p in c.params if "--user" in getattr(p, "opts", [])]
        assert users and all(p.help == "Run as this account (default: the platform)." for p in users)


def test_db_current_prints_the_revisions(tmp_path):
    env = {
        **os.environ,
        "YIWANG_HOME": str(tmp_path / "home"),
        "YIWANG_DATABASE_URL": f"sqlite:///{tmp_path}/y.db",
        "YIWANG_PROFILE": "demo",
        "YIWANG_LOG_LEVEL": "WARNING",
    }
    missing = subprocess.run(
        [sys.executable, "-m", "yiwang.cli", "db", "current"], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2 and "No database" in missing.stderr
    up = subprocess.run(
        [sys.executable, "-m", "yiwang.cli", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=300
    )
    assert up.returncode == 0, up.stderr
    current = subprocess.run(
        [sys.executable, "-m", "yiwang.cli", "db", "current"], env=env, capture_output=True, text=True, timeout=60
    )
    assert current.returncode == 0, current.stderr
    revisions = current.stdout.split()
    assert revisions and all(r in up.stderr for r in revisions)
