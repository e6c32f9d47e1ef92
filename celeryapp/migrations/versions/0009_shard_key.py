"""shard_key: the stable hash of each schedule's name its shard is taken from

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from celeryapp.models import MYSQL_DIALECTS, TABLE_NAME
from celeryapp.shards import shard_key

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 10_000


def upgrade() -> None:
    with op.batch_alter_table(TABLE_NAME, schema=None) as batch_op:
        batch_op.add_column(sa.Column("shard_key", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    table = sa.table(TABLE_NAME, sa.column("id"), sa.column("name"), sa.column("shard_key"))
    if conn.dialect.name in MYSQL_DIALECTS:
        # The server's CRC32 of a utf8mb4 column is zlib's CRC-32 of its UTF-8 bytes
        # (tests/integration/test_migrations.py compares the two).
        conn.execute(table.update().values(shard_key=sa.func.crc32(table.c.name)))
        return
    # PostgreSQL and SQLite have no CRC-32: the names are hashed here, a batch at a time.
    stmt = (
        table.update()
        .where(table.c.id == sa.bindparam("b_id"))
        .values(shard_key=sa.bindparam("b_key"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c.name)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        conn.execute(stmt, [{"b_id": row_id, "b_key": shard_key(name)} for row_id, name in rows])
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table(TABLE_NAME, schema=None) as batch_op:
        batch_op.drop_column("shard_key")
