"""named API tokens: the one switch ``personal.read`` becomes a permission per kind of record

``personal.read`` opened a user's phone, ID number and e-mail, case reporters and the lake's raw,
clean and quarantine zones alike. It is now ``org.personal.read``, ``events.reporter.read`` and
``lake.personal.read``; a token scoped to ``personal.read`` gets the three (a token never holds more
than its user's roles grant, so each user keeps exactly what the roles now allow). A token scoped to
``events.report`` also gets ``events.report_grid`` (grid workers' reports keep their source).
Roles and grants live in the code (``*/roles.py``), not in the database.

Revision ID: 0005_permission_split
Revises: 0004_audit_ts_index
Create Date: 2026-12-09 10:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0005_permission_split'
down_revision = '0004_audit_ts_index'
branch_labels = None
depends_on = None

SPLIT = {"personal.read": ("events.reporter.read", "lake.personal.read", "org.personal.read"),
         "events.report": ("events.report", "events.report_grid")}
MERGED = {"events.reporter.read": "personal.read", "lake.personal.read": "personal.read",
          "org.personal.read": "personal.read", "events.report_grid": None}

tokens = sa.table("org_api_tokens", sa.column("id", sa.Integer), sa.column("scopes", sa.Text))


def _rewrite(mapping) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(tokens.c.id, tokens.c.scopes)).all()
    for token_id, scopes in rows:
        old = (scopes or "").split()
        new = []
        for scope in old:
            if scope not in mapping:
                new.append(scope)
                continue
            replacement = mapping[scope]
            new.extend((replacement,) if isinstance(replacement, str) else (replacement or ()))
        new = sorted(set(new))
        if new != sorted(set(old)):
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(scopes=" ".join(new)))


def upgrade() -> None:
    _rewrite(SPLIT)


def downgrade() -> None:
    _rewrite(MERGED)
