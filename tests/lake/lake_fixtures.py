"""Fixtures of a committed lake installation, used by both tests/lake and tests/governance.

Each conftest imports them, so each of the two folders gets its own session-wide installation.
"""

from __future__ import annotations

import lake_helpers
import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def lake_install(tmp_path_factory):
    settings, database = lake_helpers.install(tmp_path_factory.mktemp("lakehome"))
    yield settings
    from yiwang import lake

    lake.close_all()
    database.drop()


@pytest.fixture(scope="session")
def lake_factory(lake_install):
    from yiwang.core.db import make_engine, make_sessionmaker

    engine = make_engine(lake_install.db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def lake_app(lake_install, lake_factory):
    from yiwang.app import create_app

    return create_app(lake_install, session_factory=lake_factory)


@pytest.fixture
def lake_client(lake_app):
    with TestClient(lake_app) as c:
        yield c


@pytest.fixture
def signed_in(lake_app, lake_install):
    """``signed_in("officer")`` → a client of the lake installation signed in as that demo user."""
    from helpers import login

    opened = []

    def _login(username: str) -> TestClient:
        c = TestClient(lake_app)
        c.__enter__()
        opened.append(c)
        return login(c, username, lake_install.demo_password)

    yield _login
    for c in opened:
        c.__exit__(None, None, None)
