"""events: covering index for the duplicate search (class, latitude, longitude, time, status)

Revision ID: 0302_events_near_index
Revises: 0301_events
Create Date: 2026-11-28 23:20:00
"""
from alembic import op


revision = '0302_events_near_index'
down_revision = '0301_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_cases_near', 'events_cases', ['category_code', 'lat', 'lng', 'created_at', 'status'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_cases_near', table_name='events_cases')
