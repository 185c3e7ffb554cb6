"""events: public by decision (issue 14, item 2): ``events_actions.public`` (a note staff made visible to the
reporter and the public), ``events_attachments.public_id`` (unguessable, unique; backfilled for existing photos)
and ``events_attachments.publishable``; both flags default to false, so nothing already stored becomes public

Revision ID: 0304_events_public
Revises: 0303_events_constraints
Create Date: 2026-12-10 10:00:00
"""
import secrets

import sqlalchemy as sa
from alembic import op


revision = '0304_events_public'
down_revision = '0303_events_constraints'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('events_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('publishable', sa.Boolean(), server_default=sa.false(), nullable=False))
    # the same generator as the model's default (events.models.new_public_id): 128 random bits per photo
    conn = op.get_bind()
    photos = sa.table('events_attachments', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    ids = [row[0] for row in conn.execute(sa.select(photos.c.id).where(photos.c.public_id.is_(None)))]
    for att_id in ids:
        conn.execute(photos.update().where(photos.c.id == att_id).values(public_id=secrets.token_urlsafe(16)))
    with op.batch_alter_table('events_attachments', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(op.f('uq_events_attachments_public_id'), ['public_id'])


def downgrade() -> None:
    with op.batch_alter_table('events_attachments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_events_attachments_public_id'), type_='unique')
        batch_op.drop_column('publishable')
        batch_op.drop_column('public_id')
    with op.batch_alter_table('events_actions', schema=None) as batch_op:
        batch_op.drop_column('public')
