"""audit ledger: time-range searches read (ts, id) from one index, newest first, without sorting the range

Revision ID: 0004_audit_ts_index
Revises: 0003_foundation_constraints
Create Date: 2026-12-07 22:45:00
"""
from alembic import op


revision = '0004_audit_ts_index'
down_revision = '0003_foundation_constraints'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_audit_entries_ts_id', 'audit_entries', ['ts', 'id'], unique=False)
    op.drop_index('ix_audit_entries_ts', table_name='audit_entries')


def downgrade() -> None:
    op.create_index('ix_audit_entries_ts', 'audit_entries', ['ts'], unique=False)
    op.drop_index('ix_audit_entries_ts_id', table_name='audit_entries')
