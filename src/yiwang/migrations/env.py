"""Alembic environment: runs on the connection handed over by ``yiwang.core.db.upgrade``.

Each domain keeps its migrations on its own branch (``branch_labels=("<domain>",)``,
depending on the foundation), so domains can evolve in parallel; ``upgrade heads``
applies them all.
"""

from alembic import context
from sqlalchemy import create_engine

from yiwang.app import load_models
from yiwang.core.db import Base

load_models()
target_metadata = Base.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run_with(conn)
        return
    _run_with(connection)


def _run_with(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()
