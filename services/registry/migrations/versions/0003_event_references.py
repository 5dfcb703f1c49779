"""event references: a row names its event as ``source/id``

Event ids are unique per source only (CloudEvents: source + id), so a bare id no longer
names one event, and two departments' events of one id would collide in a table keyed by
it. Each event column widens to hold ``source/id``. Existing rows keep their bare ids,
which were unique chain-wide when written; proofs of them are still found by id.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EVENT_COLUMNS = {
    "registry_land_transactions": False,
    "registry_documents": False,
    "registry_departments": True,
    "registry_access_log": False,
    "registry_erasures": False,
    "registry_void_events": False,
}
"""table → whether its event column is nullable."""
DEPARTMENT_COMMENT = "the department.registered event; NULL in rows from before 0002"


def _resize(length_from: int, length_to: int) -> None:
    for table, nullable in EVENT_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "event_id",
                existing_type=sa.String(length=length_from),
                type_=sa.String(length=length_to),
                existing_nullable=nullable,
                existing_comment=DEPARTMENT_COMMENT if table == "registry_departments" else None,
            )


def upgrade() -> None:
    _resize(64, 128)


def downgrade() -> None:
    _resize(128, 64)
