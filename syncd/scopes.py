"""Scopes: several repositories (teams) feeding one schedule table. Pure: no I/O.

A scope owns the managed rows its applies wrote. An apply belongs to exactly one scope, and
creates, updates and prunes only that scope's rows; a name already owned by another scope
is an error (syncd.plan). Rows with no scope (NULL) are the default scope's, which is where
every install without scopes lives, so it sees no change.

How a run finds its scope (DESIGN §11, docs/sync.md "Scopes"):

* `--scope NAME` sets the scope of every file that names none; a file naming another scope
  is an error at its `scope:` line;
* without `--scope`, every file must be in the same scope: all name the same one, or none
  names one (the default scope). A run mixing them is an error at each file that differs
  from the first file (by path), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.errors import Diagnostic, UsageError
from syncd.spec import NAME_PATTERN, ecma_regex

# The pattern of a schedule name (lowercase, digits, _ . : -), at most limits.SCOPE_LENGTH.
SCOPE_PATTERN = NAME_PATTERN
SCOPE_RE = ecma_regex(SCOPE_PATTERN)


@dataclass(frozen=True)
class FileScope:
    """The scope one file of a run is in: what it names (None: nothing) and where."""

    path: str
    declared: str | None
    line: int = 1
    column: int = 1


def describe(scope: str | None) -> str:
    """`scope 'payments'`, or `the default scope`."""
    return "the default scope" if scope is None else f"scope {scope!r}"


def check_option(value: str | None) -> str | None:
    """A `--scope` value, checked (UsageError, exit 64, naming it); None stays None."""
    if value is None or SCOPE_RE.match(value):
        return value
    raise UsageError(
        f"--scope {value!r}: a scope is lowercase letters, digits and _ . : -, at most 64 "
        "characters, starting with a letter or digit (like a schedule name)"
    )


def check_filter(value: str) -> str | None:
    """A `--scope` value of a command that selects rows (`list`, `export`): a scope's name,
    or the empty string for the default scope (None), which has no name to give."""
    if value == "":
        return None
    if SCOPE_RE.match(value):
        return value
    raise UsageError(
        f"--scope {value!r}: a scope is lowercase letters, digits and _ . : -, at most 64 "
        "characters, starting with a letter or digit (like a schedule name); "
        "--scope '' selects the default scope"
    )


def resolve(files: Sequence[FileScope], option: str | None) -> tuple[str | None, list[Diagnostic]]:
    """The run's scope, and an error at every file that does not belong to it."""
    if option is not None:
        return option, [
            Diagnostic(
                f.path,
                f.line,
                f.column,
                "scope.mismatch",
                f"this file names scope {f.declared!r}, but --scope is {option!r}; one "
                f"apply owns one scope: drop the file's `scope:`, or apply it with "
                f"--scope {f.declared}",
            )
            for f in files
            if f.declared is not None and f.declared != option
        ]
    ordered = sorted(files, key=lambda f: f.path)
    if not ordered:
        return None, []
    first = ordered[0]
    out = []
    for f in ordered[1:]:
        if f.declared == first.declared:
            continue
        out.append(
            Diagnostic(
                f.path,
                f.line,
                f.column,
                "scope.mismatch",
                f"this file is in {describe(f.declared)}, but {first.path} is in "
                f"{describe(first.declared)}; one apply owns one scope: name the same "
                "`scope:` in every file, pass --scope, or apply the directories separately",
            )
        )
    return first.declared, out


__all__ = [
    "SCOPE_PATTERN",
    "SCOPE_RE",
    "FileScope",
    "check_filter",
    "check_option",
    "describe",
    "resolve",
]
