"""Alembic migrations and the models agree, on the database under test."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpers import new_database
from yiwang.app import load_models
from yiwang.core import db, migrate
from yiwang.core.db import Base
from yiwang.core.migrate import include_object


def test_models_match_migrations(engine):
    load_models()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object}),
            Base.metadata,
        )
    assert diff == []


@pytest.fixture
def migrated_with_lake_catalog(tmp_path):
    """A fresh database at heads that also holds PyIceberg's SqlCatalog tables, as a real installation does."""
    from pyiceberg.catalog.sql import SqlCatalogBaseTable

    database = new_database(tmp_path)
    engine = db.make_engine(database.url)
    db.upgrade(engine)
    SqlCatalogBaseTable.metadata.create_all(engine)
    yield database, engine
    engine.dispose()
    database.drop()


def _removed_tables(diff) -> set[str]:
    return {d[1].name for d in diff if isinstance(d, tuple) and d[0] == "remove_table"}


def test_autogenerate_never_proposes_dropping_the_lake_catalog(migrated_with_lake_catalog):
    """Without the filter autogenerate would drop the only pointers to the lake's current state."""
    _, engine = migrated_with_lake_catalog
    load_models()
    with engine.connect() as conn:
        unfiltered = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        filtered = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object}),
            Base.metadata,
        )
    assert {"iceberg_tables", "iceberg_namespace_properties"} <= _removed_tables(unfiltered)  # really there
    assert _removed_tables(filtered) == set()


def test_env_py_applies_the_same_filter(migrated_with_lake_catalog):
    """Autogenerate run through env.py (as ``alembic revision --autogenerate`` does) drops no table."""
    database, _ = migrated_with_lake_catalog
    proposed = {}

    def capture(context, revision, directives):
        proposed["diff"] = directives[0].upgrade_ops.as_diffs()
        directives[:] = []  # write no revision file

    command.revision(migrate.alembic_config(database.url), autogenerate=True, process_revision_directives=capture)
    assert "diff" in proposed  # autogenerate did run
    assert _removed_tables(proposed["diff"]) == set()
