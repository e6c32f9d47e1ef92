"""dispatch ledger publish marks; worker executions without Redis

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from celeryapp.models import UTCDateTime


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# utf8mb4 and exact comparison on MySQL/MariaDB whatever the database defaults
# (celeryapp.models.MYSQL_TABLE_OPTIONS); other dialects ignore mysql_* options.
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    with op.batch_alter_table("syncd_dispatch_ledger", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("published_time", UTCDateTime(timezone=True), nullable=True)
        )
    # Claims made before this migration were published by the beat that made them (it
    # published in the same tick); marking them keeps a new leader from resending them.
    op.execute(
        "UPDATE syncd_dispatch_ledger SET published_time = claimed_time "
        "WHERE published_time IS NULL"
    )
    with op.batch_alter_table("syncd_dispatch_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_syncd_dispatch_ledger_unpublished",
            ["claimed_time"],
            unique=False,
            postgresql_where=sa.text("published_time IS NULL"),
            sqlite_where=sa.text("published_time IS NULL"),
        )
    op.create_table(
        "syncd_execution",
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("started_time", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_syncd_execution")),
        **MYSQL_TABLE,
    )
    with op.batch_alter_table("syncd_execution", schema=None) as batch_op:
        batch_op.create_index("ix_syncd_execution_started_time", ["started_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("syncd_execution", schema=None) as batch_op:
        batch_op.drop_index("ix_syncd_execution_started_time")
    op.drop_table("syncd_execution")
    with op.batch_alter_table("syncd_dispatch_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_syncd_dispatch_ledger_unpublished")
        batch_op.drop_column("published_time")
