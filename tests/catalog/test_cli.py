"""``yiwang catalog apply / show / list``: exit codes and messages naming file, line and field."""

import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from yiwang import catalog
from yiwang.catalog import cli
from yiwang.core.errors import NotFound
from yiwang.core.security import SYSTEM_ACTOR


@pytest.fixture
def run(db_factory, monkeypatch):
    """Run a ``yiwang catalog`` command in-process against the test database (rolled back after)."""
    monkeypatch.setattr(cli, "_factory", lambda: db_factory)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.app, list(args))


def _write(tmp_path, name, *docs):
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(list(docs), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_apply_creates_then_reports_unchanged(run, tmp_path, spec, db):
    path = _write(tmp_path, "vol.yaml", spec())
    result = run("apply", str(path), "--department", "public_security", "--submit")
    assert result.exit_code == 0, result.output
    assert "community_volunteers: created, submitted (revision 1)" in result.output
    assert catalog.get_resource(db, actor=SYSTEM_ACTOR, name="community_volunteers", working=True).status == "submitted"
    assert "unchanged" in run("apply", str(path)).output


def test_bad_file_exits_2_naming_file_line_and_field(run, tmp_path, spec, db):
    doc = spec(update_cycle="sometimes")
    doc["items"][0]["colour"] = "red"
    path = _write(tmp_path, "bad.yaml", doc)
    result = run("apply", str(path))
    assert result.exit_code == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    colour = next(i for i, line in enumerate(lines, 1) if "colour" in line)
    assert f"{path}:{colour}: items[0] (姓名).colour: 未知字段" in result.output
    assert "update_cycle: 应为" in result.output and "未写入任何内容" in result.output
    with pytest.raises(NotFound):
        catalog.get_resource(db, actor=SYSTEM_ACTOR, name="community_volunteers", working=True)


def test_another_departments_entry_and_dry_run(run, tmp_path, spec, db):
    shown = run("show", "population")
    assert shown.exit_code == 0 and "公民身份号码" in shown.output
    path = tmp_path / "population.yaml"
    path.write_text(shown.output, encoding="utf-8")
    refused = run("apply", str(path), "--department", "market_regulation")
    assert refused.exit_code == 2 and f"{path}:1: population" in refused.output
    assert "昆山市公安局" in refused.output
    assert "unchanged" in run("apply", str(path), "--department", "public_security").output  # show → apply round trip
    dry = run("apply", str(_write(tmp_path, "vol.yaml", spec())), "--dry-run")
    assert dry.exit_code == 0 and "[dry run]" in dry.output
    assert "community_volunteers" not in run("list", "--q", "志愿者").output
    assert "population" in run("list", "--q", "人口").output


def test_the_real_command_refuses_a_broken_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nitems:\n  - {name: 姓名\n", encoding="utf-8")
    env = {**os.environ, "YIWANG_HOME": str(tmp_path / "home"), "YIWANG_LOG_LEVEL": "WARNING"}
    for target, needle in ((broken, f"{broken}:4"), (tmp_path / "missing.yaml", "文件不存在")):
        r = subprocess.run(
            [sys.executable, "-m", "yiwang.cli", "catalog", "apply", str(target)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2 and needle in r.stderr, r.stderr
