"""Defaults that a command's `--help` shows, kept apart from the modules that do the work.

`syncd --help` and `syncd validate` import every command's options; were a default to live
in its work module (backfill, trigger, listing), every start-up would import that module and,
through it, the beat's due-time code. The work modules read their defaults from here too,
so each value is written once."""

from __future__ import annotations

# syncd backfill: runs published per second, and the most due times one call may fire.
BACKFILL_RATE = 10.0
BACKFILL_MAX = 1000

# syncd trigger: how long to wait for a worker to answer a ping, and for the run to finish.
TRIGGER_PING_TIMEOUT = 1.0
TRIGGER_WAIT_TIMEOUT = 60.0

# syncd list --state: the states a listed schedule can be in.
LIST_STATES = ("ok", "late", "failing", "paused", "disabled", "unschedulable")
