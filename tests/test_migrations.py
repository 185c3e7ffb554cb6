"""Alembic migrations and the models agree, on the database under test."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from yiwang.app import load_models
from yiwang.core.db import Base


def test_models_match_migrations(engine):
    load_models()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    # Iceberg's SqlCatalog keeps its own tables next to ours; they are not ours to migrate.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("iceberg_"))]
    assert diff == []
