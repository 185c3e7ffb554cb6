"""governance: CHECK constraints (mode, status, origin, fix status, lineage event type); foreign keys to
catalog entries, departments, users and loads (never cascading: RESTRICT, or SET NULL for the acting user);
indexes for those keys and for list_loads (newest first)

Revision ID: 0202_governance_constraints
Revises: 0201_governance
Create Date: 2026-12-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0202_governance_constraints'
down_revision = '0201_governance'
branch_labels = None
# catalog_entries.name is referenced; on SQLite the catalog tables are rebuilt by 0102 first
depends_on = '0102_catalog_constraints'

CHECKS = {
    'governance_loads': [
        ('ck_governance_loads_mode', "mode IN ('replace', 'append', 'upsert')"),
        ('ck_governance_loads_status', "status IN ('queued', 'running', 'committed', 'failed')"),
        ('ck_governance_loads_origin', "origin IN ('cli', 'upload', 'pull', 'resubmit', 'reference')"),
    ],
    'governance_quarantine_fixes': [
        ('ck_governance_quarantine_fixes_status', "status IN ('fixed', 'resubmitted', 'resolved', 'discarded')"),
    ],
    'governance_lineage_events': [
        ('ck_governance_lineage_events_event_type',
         "event_type IN ('START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER')"),
    ],
}
# table -> [(name, column, referred table, referred column, ON DELETE)]
FOREIGN_KEYS = {
    'governance_loads': [
        ('fk_governance_loads_resource_catalog_entries', 'resource', 'catalog_entries', 'name', 'RESTRICT'),
        ('fk_governance_loads_department_id_org_departments', 'department_id', 'org_departments', 'id', 'RESTRICT'),
        ('fk_governance_loads_actor_id_org_users', 'actor_id', 'org_users', 'id', 'SET NULL'),
        ('fk_governance_loads_resubmit_of_governance_loads', 'resubmit_of', 'governance_loads', 'id', 'RESTRICT'),
    ],
    'governance_quarantine_fixes': [
        ('fk_governance_quarantine_fixes_load_id_governance_loads', 'load_id', 'governance_loads', 'id',
         'RESTRICT'),
        ('fk_governance_quarantine_fixes_resource_catalog_entries', 'resource', 'catalog_entries', 'name',
         'RESTRICT'),
        ('fk_governance_quarantine_fixes_resubmit_load_id_governance_loads', 'resubmit_load_id',
         'governance_loads', 'id', 'RESTRICT'),
    ],
    'governance_lineage_events': [
        ('fk_governance_lineage_events_department_id_org_departments', 'department_id', 'org_departments', 'id',
         'RESTRICT'),
    ],
}
INDEXES: list[tuple[str, str, list[str | sa.TextClause]]] = [
    ('ix_governance_loads_actor_id', 'governance_loads', ['actor_id']),
    ('ix_governance_loads_resubmit_of', 'governance_loads', ['resubmit_of']),
    ('ix_governance_loads_created', 'governance_loads', [sa.text('created_at DESC'), 'id']),
    ('ix_governance_loads_department_created', 'governance_loads', ['department_id', sa.text('created_at DESC'), 'id']),
    ('ix_governance_quarantine_fixes_resubmit_load_id', 'governance_quarantine_fixes', ['resubmit_load_id']),
    ('ix_governance_lineage_events_department_id', 'governance_lineage_events', ['department_id']),
]


def upgrade() -> None:
    for table in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in CHECKS[table]:
                batch_op.create_check_constraint(op.f(name), condition)
            for name, column, referred, referred_column, ondelete in FOREIGN_KEYS[table]:
                batch_op.create_foreign_key(op.f(name), referred, [column], [referred_column], ondelete=ondelete)
    for name, table, columns in INDEXES:
        op.create_index(op.f(name), table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(op.f(name), table_name=table)
    for table in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, *_rest in FOREIGN_KEYS[table]:
                batch_op.drop_constraint(op.f(name), type_='foreignkey')
            for name, _condition in CHECKS[table]:
                batch_op.drop_constraint(op.f(name), type_='check')
