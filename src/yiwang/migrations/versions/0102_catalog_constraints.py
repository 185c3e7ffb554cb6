"""catalog: CHECK constraints on status, share/open types, update cycle, class level, search layer; index on
catalog_classes.department_id

Revision ID: 0102_catalog_constraints
Revises: 0101_catalog
Create Date: 2026-12-08 10:00:00
"""
from alembic import op


revision = '0102_catalog_constraints'
down_revision = '0101_catalog'
branch_labels = None
depends_on = None

LISTED = [
    ('share_type', "share_type IN ('unconditional', 'conditional', 'none')"),
    ('open_type', "open_type IN ('open', 'conditional', 'closed')"),
    ('update_cycle', "update_cycle IN ('realtime', 'hourly', 'daily', 'weekly', 'monthly', 'quarterly', "
                     "'half_yearly', 'yearly', 'irregular')"),
]
# table -> [(constraint name, condition)]; names follow core.db's naming convention (ck_<table>_<name>)
CHECKS = {
    'catalog_classes': [('ck_catalog_classes_level', 'level BETWEEN 1 AND 4')],
    'catalog_entries': [('ck_catalog_entries_status', "status IN ('draft', 'submitted', 'rejected', 'published')")]
                       + [(f'ck_catalog_entries_{name}', cond) for name, cond in LISTED],
    'catalog_versions': [(f'ck_catalog_versions_{name}', cond) for name, cond in LISTED],
    'catalog_search_terms': [('ck_catalog_search_terms_layer', "layer IN ('working', 'published')")],
}


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(op.f(name), condition)
    op.create_index(op.f('ix_catalog_classes_department_id'), 'catalog_classes', ['department_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_catalog_classes_department_id'), table_name='catalog_classes')
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _condition in checks:
                batch_op.drop_constraint(op.f(name), type_='check')
