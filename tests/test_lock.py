"""The lock files: they cover pyproject.toml's ranges, agree with each other, and are what is installed.

A fresh install takes the newest releases the ranges allow unless it installs a lock; these tests
fail when a range and the lock drift apart (run `make lock`) or when the environment the suite
runs in is not the locked one (run `make install-test`).
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _pins(name: str) -> dict[str, list[tuple[str, Marker | None]]]:
    pins: dict[str, list[tuple[str, Marker | None]]] = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        m = PIN.match(line)
        if m:
            package = canonicalize_name(m.group(1).split("[")[0])
            pins.setdefault(package, []).append((m.group(2), Marker(m.group(3)) if m.group(3) else None))
    return pins


def _applies(marker: Marker | None) -> bool:
    return marker is None or marker.evaluate()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(*extras: str) -> list[Requirement]:
    project = _project()
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(("lock", "extras"), [("app.lock", ()), ("test.lock", ("test", "bench"))])
def test_lock_pins_every_declared_dependency_within_its_range(lock, extras):
    pins = _pins(lock)
    for req in _requirements(*extras):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in pyproject.toml but not pinned in {lock}: run `make lock`"
        for version, marker in pins[name]:
            if _applies(marker):
                assert req.specifier.contains(version, prereleases=True), (
                    f"{lock} pins {req.name}=={version}, outside pyproject.toml's {req.specifier}: run `make lock`"
                )


def test_platform_lock_agrees_with_test_lock():
    app, test = _pins("app.lock"), _pins("test.lock")
    for name, versions in app.items():
        if name in test:
            assert {v for v, m in versions if _applies(m)} == {v for v, m in test[name] if _applies(m)}, name


def test_installed_releases_are_the_locked_ones():
    wrong = []
    for name, versions in _pins("test.lock").items():
        for version, marker in versions:
            if not _applies(marker):
                continue
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = None
            if installed != version:
                wrong.append(f"{name}: locked {version}, installed {installed}")
    assert not wrong, "the suite is not running on the locked set (run `make install-test`):\n" + "\n".join(wrong)


def test_compiled_kernels_load_with_the_locked_numpy():
    """numba supports a narrow numpy range, and the engine has no path without its kernels."""
    from yiwang.governance.engine import kernels

    assert kernels.enabled(), "numba did not import beside the installed numpy"
