"""commit author and subject on revisions; the controller's shared state (syncd serve)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from celeryapp.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# utf8mb4 and exact comparison on MySQL/MariaDB whatever the database defaults
# (celeryapp.models.MYSQL_TABLE_OPTIONS); other dialects ignore mysql_* options.
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    with op.batch_alter_table("syncd_revision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("git_author", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("git_subject", sa.String(length=1024), nullable=True))
    op.create_table(
        "syncd_controller",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("repo", sa.String(length=1024), nullable=False),
        sa.Column("branch", sa.String(length=256), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("remote_head", sa.String(length=64), nullable=True),
        sa.Column("fetched_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("fetch_error", sa.Text(), nullable=True),
        sa.Column("live_commit", sa.String(length=64), nullable=True),
        sa.Column("live_revision", sa.BigInteger(), nullable=True),
        sa.Column("live_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempt_commit", sa.String(length=64), nullable=True),
        sa.Column("attempt_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempt_result", sa.String(length=16), nullable=True),
        sa.Column("attempt_errors", sa.JSON(), nullable=True),
        sa.Column("attempt_summary", sa.JSON(), nullable=True),
        sa.Column("requested_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("counters", sa.JSON(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("holder", sa.String(length=256), nullable=True),
        sa.Column("updated_time", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_syncd_controller")),
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    op.drop_table("syncd_controller")
    with op.batch_alter_table("syncd_revision", schema=None) as batch_op:
        batch_op.drop_column("git_subject")
        batch_op.drop_column("git_author")
