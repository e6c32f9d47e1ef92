"""scopes: the owning scope of each row, the scope of each revision, the manifest by scope

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from celeryapp import limits
from celeryapp.models import MYSQL_KEY_CHARS, TABLE_NAME

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _manifest(*key: str) -> None:
    columns: list[sa.schema.SchemaItem] = [
        sa.Column(
            "path",
            sa.String(1024).with_variant(sa.String(MYSQL_KEY_CHARS), "mariadb", "mysql"),
            nullable=False,
        ),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
    ]
    if "scope" in key:
        columns.insert(0, sa.Column("scope", sa.String(limits.SCOPE_LENGTH), nullable=False))
    op.create_table(
        "syncd_source",
        *columns,
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_syncd_source")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def upgrade() -> None:
    # Nullable, no default: every existing row and revision is the default scope's.
    with op.batch_alter_table(TABLE_NAME, schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(limits.SCOPE_LENGTH), nullable=True))
    with op.batch_alter_table("syncd_revision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(limits.SCOPE_LENGTH), nullable=True))
    # The manifest is a cache of what the last apply parsed: it is rebuilt, not migrated
    # (the next plan parses every file once and writes it again).
    op.drop_table("syncd_source")
    _manifest("scope", "path")


def downgrade() -> None:
    op.drop_table("syncd_source")
    _manifest("path")
    with op.batch_alter_table("syncd_revision", schema=None) as batch_op:
        batch_op.drop_column("scope")
    with op.batch_alter_table(TABLE_NAME, schema=None) as batch_op:
        batch_op.drop_column("scope")
