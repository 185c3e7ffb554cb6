"""Fixtures for the governance engine tests: small synthetic files written per session."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest

from yiwang.governance.bench.synth import population_rules, write_population_csv

sys.path.insert(0, os.path.dirname(__file__))  # engine_oracle: the plain reference the engine is tested against

TODAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="session")
def population(tmp_path_factory):
    """A 6,000-row GB18030 population file with its manifest of injected bad rows."""
    path = tmp_path_factory.mktemp("synth") / "population.csv"
    return write_population_csv(path, 6000, seed=7, chunk_rows=2500, today=TODAY)


@pytest.fixture(scope="session")
def rules():
    return population_rules()
