"""runtime pauses (syncd_pause); what made a revision (kind, note)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from celeryapp import limits
from celeryapp.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# utf8mb4 and exact comparison on MySQL/MariaDB whatever the database defaults
# (celeryapp.models.MYSQL_TABLE_OPTIONS); other dialects ignore mysql_* options.
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "syncd_pause",
        sa.Column("name", sa.String(limits.NAME_LENGTH), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=True),
        sa.Column("paused_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("until_time", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_syncd_pause")),
        **MYSQL_TABLE,
    )
    # Nullable: every existing revision was an apply, which is what NULL means.
    with op.batch_alter_table("syncd_revision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("syncd_revision", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("kind")
    op.drop_table("syncd_pause")
