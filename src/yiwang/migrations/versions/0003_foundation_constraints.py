"""foundation: CHECK constraints on org's closed value sets; index on org_departments.region_code

Revision ID: 0003_foundation_constraints
Revises: 0002_audit_ledger
Create Date: 2026-12-08 10:00:00
"""
from alembic import op


revision = '0003_foundation_constraints'
down_revision = '0002_audit_ledger'
branch_labels = None
depends_on = None

# table -> [(constraint name, condition)]; the names follow core.db's naming convention (ck_<table>_<name>)
CHECKS = {
    'org_regions': [('ck_org_regions_level', "level IN ('city', 'town', 'village', 'grid')")],
    'org_departments': [('ck_org_departments_kind', "kind IN ('organ', 'institution', 'enterprise')")],
    'org_users': [('ck_org_users_kind', "kind IN ('staff', 'citizen', 'enterprise')")],
    'org_api_tokens': [('ck_org_api_tokens_kind', "kind IN ('access', 'named')")],
}


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(op.f(name), condition)
    op.create_index(op.f('ix_org_departments_region_code'), 'org_departments', ['region_code'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_org_departments_region_code'), table_name='org_departments')
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _condition in checks:
                batch_op.drop_constraint(op.f(name), type_='check')
