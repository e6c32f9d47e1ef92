"""The `syncd` command line: the only package that imports click (an import contract in
pyproject.toml says so). Each module registers its commands on the group in `group`:

- group: global options, the one Settings of an invocation, exit codes (`run`)
- options: options shared by commands (formats, paths, guards) and the revision signal
- terminal: colour, compact plans, progress line, shell completion
- syncing: validate, plan, apply, watch, migrate
- reading: diff, next, export, status, schema
- history: history, rollback
- serve, trigger, importing, backfill: one command each
- pausing: pause, resume
- listing: list, show
- ui: the page on a listener of its own
"""

from __future__ import annotations

from syncd.cli import (  # noqa: F401 - registers the commands
    backfill,
    history,
    importing,
    listing,
    pausing,
    reading,
    serve,
    syncing,
    trigger,
    ui,
)
from syncd.cli.group import main

__all__ = ["main"]
