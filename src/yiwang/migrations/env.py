"""Alembic environment: runs on the connection handed over by ``yiwang.core.migrate.upgrade``.

Each domain keeps its migrations on its own branch (``branch_labels=("<domain>",)``,
depending on the foundation), so domains can evolve in parallel; ``upgrade heads``
applies them all. Every run goes through ``yiwang.core.migrate.migrating()`` (one run at a time; on
SQLite, table rebuilds cascade no deletes), and autogenerate leaves the lake catalog's
``iceberg_*`` tables alone (``yiwang.core.migrate.include_object``).
"""

from alembic import context

from yiwang.app import load_models
from yiwang.core.db import Base, make_engine
from yiwang.core.migrate import include_object, migrating

load_models()
target_metadata = Base.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # Alembic's own command line: the same protected path as ``db.upgrade``
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no database: set sqlalchemy.url in the Alembic configuration")
        engine = make_engine(url)
        try:
            with migrating(engine) as conn:
                _run_with(conn)
        finally:
            engine.dispose()
        return
    _run_with(connection)


def _run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
