"""The schedule table and its companions (SQLAlchemy 2; PostgreSQL via psycopg 3, MySQL or
MariaDB via pymysql, or SQLite).

`sys_task_scheduler` keeps fba's columns (so existing tooling and admin pages still read it)
and adds what GitOps needs: ownership (`managed`), per-schedule timezone and catch-up policy,
the hashes that make plans incremental and drift detectable, and the revision that last
changed each row so the beat can reload only what changed.

The table name comes from SYNCD_TABLE_NAME (default `sys_task_scheduler`); it is read once,
when this module is imported, because SQLAlchemy binds a mapped class to one table.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from celeryapp import limits
from celeryapp.settings import Settings

TABLE_NAME = Settings.from_env_or_exit().table_name

# SQLAlchemy's names of the MySQL family: `mysql+pymysql://` connected to MariaDB is
# "mysql", `mariadb+pymysql://` is "mariadb"; both speak the same SQL here.
MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})

# InnoDB keys hold at most 3072 bytes, and utf8mb4 counts 4 bytes a character: a
# VARCHAR(1024) key is 4096 bytes. The file manifest's path is a key; on MySQL it is
# this long, and a longer path is simply not cached (syncd.store.writes.write_manifest).
MYSQL_KEY_CHARS = 700  # with the 64-character scope, (scope, path) fits 3072 key bytes
MANIFEST_PATH_LENGTH = 1024
# Every table is utf8mb4 with a binary collation on MySQL/MariaDB, whatever the database's
# defaults: four bytes a character, and names compared exactly as PostgreSQL and SQLite
# compare them (the default utf8mb4_general_ci would make "Nightly" a duplicate of
# "nightly"). Other dialects ignore mysql_* options.
MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}

# Named constraints, so Alembic migrations are deterministic on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite (and MySQL) drop the offset; fba re-attached the *local* zone on read, which is
    ambiguous in a fall-back hour (W14). We store UTC and hand back UTC: the zone a schedule
    is evaluated in is a column of its own, never inferred from a timestamp.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # MySQL's DATETIME keeps whole seconds unless asked for microseconds: the ledger's
        # due times and claim stamps need them (a claim is read back by its stamp).
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(self.impl_instance)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; attach a time zone")
        value = value.astimezone(UTC)
        # Only PostgreSQL stores the offset; the others get the UTC wall time.
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc_result(value)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        # psycopg hands datetimes over itself (DateTime has no processor of its own there):
        # one call per value instead of TypeDecorator's two (a beat load reads millions).
        impl = self.load_dialect_impl(dialect).result_processor(dialect, coltype)
        return _utc_result if impl is None else super().result_processor(dialect, coltype)


def _utc_result(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_JSON_DECODER = json.JSONDecoder()
_JSON_SCAN = json.scanner.make_scanner(cast(Any, _JSON_DECODER))  # what decode() runs


def json_column_loads(data: str | bytes | memoryview) -> Any:
    """The engines' json_deserializer. psycopg hands JSON columns over as bytes, and
    json.loads(bytes) first sniffs the encoding in Python: a third of the cost of reading
    args and kwargs of every row (every plan, every beat load). PostgreSQL sends UTF-8."""
    text = data if isinstance(data, str) else str(data, "utf-8")
    # decode() is scan_once at the first non-blank plus two whitespace matches; a value
    # that starts at 0 and fills the text is what decode returns (anything else: decode,
    # which also raises its error). Half the cost of a beat load's args and kwargs.
    try:
        value, end = _JSON_SCAN(text, 0)
    except StopIteration:
        return _JSON_DECODER.decode(text)
    return value if end == len(text) else _JSON_DECODER.decode(text)


def server_engine_options(url: str) -> dict[str, Any]:
    """create_engine's options for a server database (PostgreSQL, MySQL, MariaDB).

    MySQL/MariaDB run in READ COMMITTED, PostgreSQL's default, instead of their REPEATABLE
    READ: a statement sees what committed before it (a claim read back, the schema version
    read again once the apply lock is held), and INSERTs into the ledger take no gap locks
    that make two beats' claims deadlock.
    """
    options: dict[str, Any] = {"pool_pre_ping": True, "json_deserializer": json_column_loads}
    if url.startswith(("mysql", "mariadb")):
        options["isolation_level"] = "READ COMMITTED"
    return options


def manifest_path_type() -> TypeEngine[str]:
    """The manifest's key column: 1024 characters, MYSQL_KEY_CHARS on MySQL/MariaDB."""
    return String(MANIFEST_PATH_LENGTH).with_variant(
        String(MYSQL_KEY_CHARS), *sorted(MYSQL_DIALECTS)
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}  # noqa: RUF012


class TaskSchedule(Base):
    """One periodic task. Columns up to `remark` are fba's; the rest are syncd's."""

    __tablename__ = TABLE_NAME
    __table_args__ = (UniqueConstraint("name"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    name: Mapped[str] = mapped_column(String(limits.NAME_LENGTH))
    task: Mapped[str] = mapped_column(String(limits.TASK_LENGTH))
    # Real JSON arrays/objects, never a JSON string inside a JSON column (fba W9).
    args: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    kwargs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    queue: Mapped[str | None] = mapped_column(String(limits.QUEUE_LENGTH))
    exchange: Mapped[str | None] = mapped_column(String(limits.QUEUE_LENGTH))
    routing_key: Mapped[str | None] = mapped_column(String(limits.QUEUE_LENGTH))
    start_time: Mapped[datetime | None]
    expire_time: Mapped[datetime | None]
    expire_seconds: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[int] = mapped_column(Integer)
    # Intervals are stored in whole seconds: interval_period is always 'seconds'.
    interval_every: Mapped[int | None] = mapped_column(Integer)
    interval_period: Mapped[str | None] = mapped_column(String(256))
    crontab: Mapped[str | None] = mapped_column(String(limits.CRON_LENGTH))
    one_off: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    total_run_count: Mapped[int] = mapped_column(Integer, default=0)
    # The last *due time* dispatched (not the wall-clock moment of dispatch).
    last_run_time: Mapped[datetime | None]
    remark: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime] = mapped_column(default=utcnow)
    updated_time: Mapped[datetime | None] = mapped_column(onupdate=utcnow)

    # --- syncd ---
    timezone: Mapped[str | None] = mapped_column(String(limits.TIMEZONE_LENGTH))
    catchup: Mapped[str] = mapped_column(String(16), default="latest")
    catchup_window: Mapped[int | None] = mapped_column(Integer)  # seconds
    overlap: Mapped[str] = mapped_column(String(16), default="allow")
    # Seconds; each due time is published at due + a fixed per-name offset below it
    # (celeryapp.jitter). None: no jitter.
    jitter: Mapped[int | None] = mapped_column(Integer)
    # Celery message priority 0-9 (celeryapp.codec); None: the broker's default.
    priority: Mapped[int | None] = mapped_column(Integer)
    # Message headers the schedule adds to syncd's own (celeryapp.codec, dueplan.message).
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Rows created by syncd are managed; rows made by other means are never touched.
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The scope whose apply owns this managed row (syncd.scopes); NULL: the default scope.
    # An apply prunes only its own scope's rows; the beat loads every row whatever it is.
    scope: Mapped[str | None] = mapped_column(String(limits.SCOPE_LENGTH))
    # Where the schedule is declared, "PATH:LINE", refreshed silently when it moves.
    source: Mapped[str | None] = mapped_column(String(1024))
    # Hash of the source file's bytes plus everything its validation depends on.
    source_hash: Mapped[str | None] = mapped_column(String(64))
    # Hash of this row's schedule columns as written by the last apply; a mismatch is drift.
    row_hash: Mapped[str | None] = mapped_column(String(64))
    # The revision whose apply last created or changed this row.
    revision: Mapped[int | None] = mapped_column(BigInteger)
    # When the timing last changed: due times before it are not missed runs, and intervals
    # without start_time are anchored here.
    schedule_changed_time: Mapped[datetime | None]
    # CRC-32 of the UTF-8 name (celeryapp.shards.shard_key), written with the row, so a
    # sharded beat's load asks the database for its shards' rows (`shard_key % N`). NULL
    # (a row written by other means): the beat hashes the name itself.
    shard_key: Mapped[int | None] = mapped_column(BigInteger)


class Revision(Base):
    """One apply that changed something: the audit trail and the beat's change signal."""

    __tablename__ = "syncd_revision"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    created_time: Mapped[datetime] = mapped_column(default=utcnow)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    # The commit's author ("Name <email>") and subject line, when `syncd serve` applied it.
    git_author: Mapped[str | None] = mapped_column(String(512))
    git_subject: Mapped[str | None] = mapped_column(String(1024))
    actor: Mapped[str | None] = mapped_column(String(256))
    # Names created, updated or deleted by this revision: the beat reloads exactly these.
    changed_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    changes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # What made the revision: None for an apply; "rollback", "pause" or "resume" otherwise.
    # Only applies and rollbacks change schedule rows; a pause names the rows the beat must
    # reload, which is how it sees the pause within one tick.
    kind: Mapped[str | None] = mapped_column(String(16))
    # Said by whoever made it: "rollback to revision 7", the reason of a pause.
    note: Mapped[str | None] = mapped_column(Text)
    # The scope of the apply that made it (NULL: the default scope, or not an apply).
    scope: Mapped[str | None] = mapped_column(String(limits.SCOPE_LENGTH))


class Pause(Base):
    """A schedule paused at run time (`syncd pause`): operational state, not drift.

    Kept apart from the schedule table so an apply never touches it and the row hash never
    sees it. A pause with `until_time` ends by itself then; without one it lasts until
    `syncd resume`. The row stays after a schedule is deleted from git, so re-adding the
    schedule does not silently resume it.
    """

    __tablename__ = "syncd_pause"
    __table_args__ = MYSQL_TABLE_OPTIONS

    name: Mapped[str] = mapped_column(String(limits.NAME_LENGTH), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(256))
    paused_time: Mapped[datetime] = mapped_column(default=utcnow)
    until_time: Mapped[datetime | None]


class ControllerState(Base):
    """What `syncd serve` knows about its source, shared by every replica: the remote
    head it last saw, the commit live in the table, and the last attempt with its errors.

    One row per source (repository, branch, path), keyed by a hash of the three, so
    replicas tracking the same source report one status, and `syncd status` reads it
    without asking any of them.
    """

    __tablename__ = "syncd_controller"
    __table_args__ = MYSQL_TABLE_OPTIONS

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    repo: Mapped[str] = mapped_column(String(1024))  # the URL, credentials redacted
    branch: Mapped[str] = mapped_column(String(256))
    path: Mapped[str] = mapped_column(String(1024))
    remote_head: Mapped[str | None] = mapped_column(String(64))
    fetched_time: Mapped[datetime | None]
    fetch_error: Mapped[str | None] = mapped_column(Text)
    live_commit: Mapped[str | None] = mapped_column(String(64))
    live_revision: Mapped[int | None] = mapped_column(BigInteger)
    live_time: Mapped[datetime | None]
    attempt_commit: Mapped[str | None] = mapped_column(String(64))
    attempt_time: Mapped[datetime | None]
    # applying | applied | invalid | refused | denied | error
    attempt_result: Mapped[str | None] = mapped_column(String(16))
    attempt_errors: Mapped[list[str] | None] = mapped_column(JSON)
    attempt_summary: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # A sync asked for (webhook) while another replica held the controller lock: the
    # holder runs once more when it sees a request newer than its fetch.
    requested_time: Mapped[datetime | None]
    counters: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # How the replica that last synced runs (interval, guards, deny windows, self-heal).
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    holder: Mapped[str | None] = mapped_column(String(256))
    updated_time: Mapped[datetime | None]


class DispatchLedger(Base):
    """Each (schedule, due time) claimed by a beat before publishing: the once-only guard."""

    __tablename__ = "syncd_dispatch_ledger"
    __table_args__ = (
        UniqueConstraint("schedule_name", "due_time"),
        Index("ix_syncd_dispatch_ledger_claimed_time", "claimed_time"),
        # Claims not yet published are few (in flight, or lost by a crash): a new leader
        # finds them without scanning days of ledger.
        Index(
            "ix_syncd_dispatch_ledger_unpublished",
            "claimed_time",
            postgresql_where=text("published_time IS NULL"),
            sqlite_where=text("published_time IS NULL"),
        ),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    schedule_name: Mapped[str] = mapped_column(String(limits.NAME_LENGTH))
    due_time: Mapped[datetime]
    task_id: Mapped[str] = mapped_column(String(128))
    claimed_time: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    # Set once the message is on the broker. A claim without it is a run a beat may have
    # lost (crashed between claim and publish): the next leader republishes it.
    published_time: Mapped[datetime | None] = mapped_column(default=None)


class Execution(Base):
    """Beat task ids a worker has started, when there is no Redis: the once-only key."""

    __tablename__ = "syncd_execution"
    __table_args__ = (Index("ix_syncd_execution_started_time", "started_time"), MYSQL_TABLE_OPTIONS)

    task_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_time: Mapped[datetime] = mapped_column(default=utcnow)


class BeatLease(Base):
    """The beat lock when no Redis URL is set: one row per lock name, fenced by a token."""

    __tablename__ = "syncd_beat_lease"
    __table_args__ = MYSQL_TABLE_OPTIONS

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_time: Mapped[datetime | None]
    heartbeat_time: Mapped[datetime | None]


class SourceManifest(Base):
    """What the last apply read from each file: its hash and the names it declared.

    A plan skips a file (no parse, no validation) only when its hash matches *and* every
    name it declared is still a managed, undrifted row, so a row deleted by hand is noticed.
    Keyed by scope and path: two repositories' `schedules/jobs.yaml` are two files. The
    default scope is the empty string here (a key column cannot be NULL).
    """

    __tablename__ = "syncd_source"
    __table_args__ = MYSQL_TABLE_OPTIONS

    scope: Mapped[str] = mapped_column(String(limits.SCOPE_LENGTH), primary_key=True)
    path: Mapped[str] = mapped_column(manifest_path_type(), primary_key=True)
    source_hash: Mapped[str] = mapped_column(String(64))
    names: Mapped[list[str]] = mapped_column(JSON, default=list)
