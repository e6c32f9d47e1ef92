"""The database side of syncd: the only package of the sync half that talks SQL (a test
holds it to that: no other `syncd` module imports SQLAlchemy).

* `engine`: engines and connections, SQLite files never created by reading them;
* `transaction`: the apply lock and the one write transaction of an apply;
* `migrations`: Alembic to head, under the apply lock;
* `reads`: plan input, revisions (history; those a rollback undoes), single schedules,
  the beat lease, finished runs;
* `writes`: the revision, the schedule rows and the file manifest of one apply;
* `controller`: the state and the lock of `syncd serve`;
* `ledger`: the dispatch ledger for `syncd backfill`, through the run side's statements.

Every function takes data and a connection (or a URL); none calls back into its caller.
Where PostgreSQL and SQLite differ, the dispatch is here, in the module that needs it.
"""

from __future__ import annotations

from syncd.store.controller import controller_lock, read_controller, write_controller
from syncd.store.engine import (
    DEFAULT_LOCK_TIMEOUT,
    Connection,
    DatabaseError,
    connect,
    database_exists,
    engine_for,
    ping,
    require_database,
    sqlite_file,
)
from syncd.store.ledger import claim_run, claimed_dues, record_sent, release_claim
from syncd.store.migrations import MIGRATIONS, migrate, schema_version
from syncd.store.reads import (
    beat_lease,
    current_revision,
    drifted_names,
    finished_runs,
    has_schema,
    latest_revision_row,
    overview_rows,
    pauses,
    read_manifest,
    revision_row,
    revision_rows,
    revisions,
    revisions_after,
    schedule_names,
    schedule_row,
    schedule_rows,
    snapshot,
    table,
)
from syncd.store.runs import Dispatch, recent_dispatches, result_rows, revisions_naming
from syncd.store.transaction import APPLY_LOCK_KEY, write_transaction
from syncd.store.writes import RevisionInfo, _insert_rows, write_manifest, write_plan

__all__ = [
    "APPLY_LOCK_KEY",
    "DEFAULT_LOCK_TIMEOUT",
    "MIGRATIONS",
    "Connection",
    "DatabaseError",
    "Dispatch",
    "RevisionInfo",
    "_insert_rows",
    "beat_lease",
    "claim_run",
    "claimed_dues",
    "connect",
    "controller_lock",
    "current_revision",
    "database_exists",
    "drifted_names",
    "engine_for",
    "finished_runs",
    "has_schema",
    "latest_revision_row",
    "migrate",
    "overview_rows",
    "pauses",
    "ping",
    "read_controller",
    "read_manifest",
    "recent_dispatches",
    "record_sent",
    "release_claim",
    "require_database",
    "result_rows",
    "revision_row",
    "revision_rows",
    "revisions",
    "revisions_after",
    "revisions_naming",
    "schedule_names",
    "schedule_row",
    "schedule_rows",
    "schema_version",
    "snapshot",
    "sqlite_file",
    "table",
    "write_controller",
    "write_manifest",
    "write_plan",
    "write_transaction",
]
