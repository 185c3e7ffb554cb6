"""audit ledger: the head row exists from the start (a first concurrent append cannot race to create it)

Revision ID: 0002_audit_ledger
Revises: 0001_foundation
Create Date: 2026-12-07 21:10:00
"""
from alembic import op


revision = '0002_audit_ledger'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    # an installation that already appended keeps its head; an empty one gets the genesis head
    op.execute(
        "INSERT INTO audit_head (id, last_id, last_hash) "
        f"SELECT 1, 0, '{GENESIS_HASH}' WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1)"
    )


def downgrade() -> None:
    pass  # the head row is the ledger's anchor: never removed
