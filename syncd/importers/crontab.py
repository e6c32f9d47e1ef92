"""A crontab file (`m h dom mon dow command`), each line a schedule of one named task.

The command becomes the task's only argument (`args: [COMMAND]`); the task that runs it is
the caller's (`--task`), since a crontab names none. Cron's own semantics are syncd's
(Vixie cron: day fields OR, the same DST rules), so a line fires exactly as cron fired it,
in the zone of the last `CRON_TZ=` line above it, else the zone the caller gives.

Not carried, and reported: `@reboot` (no time to schedule), other environment lines (only
their names are reported: values are often secrets), and `%` in a command (cron turns the
first into a newline and feeds the rest to stdin). The name of each schedule is the command
folded to a valid name; the caller may set a prefix.
"""

from __future__ import annotations

import re

from syncd.importers.entries import Candidate, Imported, Note, finish, skip

SOURCE = "crontab"
MACROS = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
_ENV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")
_WORDS = re.compile(r"[a-z0-9]+")
_SHELL_OPERATOR = re.compile(r"[<>|;&]|\d>")


def _name(command: str, prefix: str) -> str:
    """`/usr/local/bin/backup.sh --full > /dev/null` -> `backup-sh-full`: the words of the
    first command, before any redirection, pipe or list."""
    first, _, rest = _SHELL_OPERATOR.split(command, maxsplit=1)[0].strip().partition(" ")
    words = _WORDS.findall((first.rsplit("/", 1)[-1] + " " + rest).lower())
    return (prefix + "-".join(words))[:64] or prefix + "command"


def _split(line: str) -> tuple[str, str] | None:
    """(schedule, command) of an entry line; None when the line has too few fields."""
    if line.startswith("@"):
        macro, _, command = line.partition(" ")
        macro, command = macro.split("\t")[0], command.strip()
        return (macro, command) if command else None
    parts = line.split(None, 5)
    if len(parts) < 6:
        return None
    return " ".join(parts[:5]), parts[5].strip()


def convert(text: str, *, task: str, timezone_name: str, path: str, prefix: str = "") -> Imported:
    items: list[Candidate | Note] = []
    zone = timezone_name
    dropped_env: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        origin = f"{path}:{number}"
        if not line or line.startswith("#"):
            continue
        env = _ENV.match(line)
        if env:
            name, value = env.group(1), env.group(2).strip().strip("'\"")
            if name == "CRON_TZ":
                zone = value
            else:
                dropped_env.append(name)
            continue
        split = _split(line)
        if split is None:
            items.append(skip(origin, "not a crontab entry (five fields and a command)"))
            continue
        spec, command = split
        if spec == "@reboot":
            items.append(skip(origin, "@reboot runs at boot, not at a time: nothing to schedule"))
            continue
        if spec.startswith("@") and spec not in MACROS:
            items.append(skip(origin, f"unknown macro {spec!r}"))
            continue
        cand = Candidate(
            origin,
            {"name": _name(command, prefix), "task": task, "cron": spec, "args": [command]},
        )
        if zone != timezone_name:
            cand.fields["timezone"] = zone
        if _UNESCAPED_PERCENT.search(command):
            cand.notes.append(
                "the command has a %: cron turns it into a newline and sends the rest to "
                "stdin; here the command is passed as written"
            )
        items.append(cand)
    if dropped_env:
        items.append(
            Note(
                path,
                "difference",
                "environment lines not carried (set them where the task runs): "
                + ", ".join(sorted(set(dropped_env))),
            )
        )
    return finish(SOURCE, items, {"timezone": timezone_name})
