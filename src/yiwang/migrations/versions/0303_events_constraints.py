"""events: CHECK constraints on the closed value sets (statuses, source, channel, steps, warning light,
priority, rating 1-5, task role/status); indexes on the foreign keys that had none and for the unread
notification count

Revision ID: 0303_events_constraints
Revises: 0302_events_near_index
Create Date: 2026-12-08 10:00:00
"""
from alembic import op


revision = '0303_events_constraints'
down_revision = '0302_events_near_index'
branch_labels = None
depends_on = None

STATUSES = ("accepted", "registered", "dispatched", "handling", "verifying", "verified", "backlog",
            "closed", "rated", "invalid", "merged")


def _one_of(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# table -> [(constraint name, condition)]; names follow core.db's naming convention (ck_<table>_<name>)
CHECKS = {
    'events_cases': [
        ('ck_events_cases_status', _one_of('status', STATUSES)),
        ('ck_events_cases_source', _one_of('source', ('passive', 'active', 'automatic'))),
        ('ck_events_cases_channel', _one_of('channel', ('portal', 'hotline', 'open311', 'app', 'grid', 'inspector',
                                                        'iot', 'video', 'indicator', 'api'))),
        ('ck_events_cases_category_by', _one_of('category_by', ('reporter', 'triage', 'dispatcher'))),
        ('ck_events_cases_located_by', _one_of('located_by', ('point', 'address', 'text', 'dispatcher'))),
        ('ck_events_cases_triage_status', _one_of('triage_status', ('pending', 'done'))),
        ('ck_events_cases_step', _one_of('step', ('dispatch', 'respond', 'handle', 'verify'))),
        ('ck_events_cases_warn_level', _one_of('warn_level', ('green', 'yellow', 'red'))),
        ('ck_events_cases_priority', 'priority BETWEEN 1 AND 4'),
        ('ck_events_cases_rating', 'rating BETWEEN 1 AND 5'),
    ],
    'events_tasks': [
        ('ck_events_tasks_role', _one_of('role', ('lead', 'assist'))),
        ('ck_events_tasks_status', _one_of('status', ('pending', 'accepted', 'done', 'returned', 'cancelled'))),
        ('ck_events_tasks_ext_status', _one_of('ext_status', ('requested', 'approved', 'rejected'))),
    ],
    'events_actions': [
        ('ck_events_actions_from_status', _one_of('from_status', STATUSES)),
        ('ck_events_actions_to_status', _one_of('to_status', STATUSES)),
    ],
}
INDEXES = [
    ('ix_events_cases_proposed_department_id', 'events_cases', ['proposed_department_id']),
    ('ix_events_actions_department_id', 'events_actions', ['department_id']),
    ('ix_events_attachments_action_id', 'events_attachments', ['action_id']),
    ('ix_events_dispatch_rules_department_id', 'events_dispatch_rules', ['department_id']),
    ('ix_events_notifications_case_id', 'events_notifications', ['case_id']),
    ('ix_events_notifications_user_unread', 'events_notifications', ['user_id', 'read_at']),
    ('ix_events_notifications_department_unread', 'events_notifications', ['department_id', 'read_at']),
    ('ix_events_notifications_role_unread', 'events_notifications', ['role', 'read_at']),
]
# replaced by the (user_id, read_at) and (department_id, read_at) indexes, which also serve those foreign keys
REPLACED = [
    ('ix_events_notifications_user_id', 'events_notifications', ['user_id']),
    ('ix_events_notifications_department_id', 'events_notifications', ['department_id']),
]


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(op.f(name), condition)
    for name, table, columns in INDEXES:
        op.create_index(op.f(name), table, columns, unique=False)
    for name, table, _columns in REPLACED:
        op.drop_index(op.f(name), table_name=table)


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.create_index(op.f(name), table, columns, unique=False)
    for name, table, _columns in INDEXES:
        op.drop_index(op.f(name), table_name=table)
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _condition in checks:
                batch_op.drop_constraint(op.f(name), type_='check')
