"""Alembic migrations of the syncd tables.

HEAD is the newest revision; `syncd.store.migrate` skips Alembic entirely when the database
is already there (tests/integration/test_migrations.py checks HEAD against the scripts).
"""

from __future__ import annotations

HEAD = "0009"
