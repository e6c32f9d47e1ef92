"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from celeryapp.models import TABLE_NAME, UTCDateTime


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# utf8mb4 and exact comparison on MySQL/MariaDB whatever the database defaults
# (celeryapp.models.MYSQL_TABLE_OPTIONS); other dialects ignore mysql_* options.
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "syncd_beat_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("expires_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_time", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_syncd_beat_lease")),
        **MYSQL_TABLE,
    )
    op.create_table(
        "syncd_dispatch_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("schedule_name", sa.String(length=64), nullable=False),
        sa.Column("due_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("claimed_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syncd_dispatch_ledger")),
        sa.UniqueConstraint(
            "schedule_name",
            "due_time",
            name=op.f("uq_syncd_dispatch_ledger_schedule_name_due_time"),
        ),
        **MYSQL_TABLE,
    )
    with op.batch_alter_table("syncd_dispatch_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_syncd_dispatch_ledger_claimed_time", ["claimed_time"], unique=False
        )

    op.create_table(
        "syncd_revision",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=True),
        sa.Column("changed_names", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syncd_revision")),
        **MYSQL_TABLE,
    )
    op.create_table(
        "syncd_source",
        # 1024 characters; 768 on MySQL/MariaDB, whose keys hold 3072 bytes of utf8mb4.
        sa.Column(
            "path",
            sa.String(length=1024).with_variant(sa.String(length=768), "mariadb", "mysql"),
            nullable=False,
        ),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_syncd_source")),
        **MYSQL_TABLE,
    )
    op.create_table(
        TABLE_NAME,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=256), nullable=False),
        sa.Column("args", sa.JSON(), nullable=True),
        sa.Column("kwargs", sa.JSON(), nullable=True),
        sa.Column("queue", sa.String(length=256), nullable=True),
        sa.Column("exchange", sa.String(length=256), nullable=True),
        sa.Column("routing_key", sa.String(length=256), nullable=True),
        sa.Column("start_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expire_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expire_seconds", sa.Integer(), nullable=True),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("interval_every", sa.Integer(), nullable=True),
        sa.Column("interval_period", sa.String(length=256), nullable=True),
        sa.Column("crontab", sa.String(length=64), nullable=True),
        sa.Column("one_off", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("total_run_count", sa.Integer(), nullable=False),
        sa.Column("last_run_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("created_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("catchup", sa.String(length=16), nullable=False),
        sa.Column("catchup_window", sa.Integer(), nullable=True),
        sa.Column("overlap", sa.String(length=16), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.Column("row_hash", sa.String(length=64), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("schedule_changed_time", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE_NAME}")),
        sa.UniqueConstraint("name", name=op.f(f"uq_{TABLE_NAME}_name")),
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    op.drop_table(TABLE_NAME)
    op.drop_table("syncd_source")
    op.drop_table("syncd_revision")
    with op.batch_alter_table("syncd_dispatch_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_syncd_dispatch_ledger_claimed_time")

    op.drop_table("syncd_dispatch_ledger")
    op.drop_table("syncd_beat_lease")
