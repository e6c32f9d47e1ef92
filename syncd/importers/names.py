"""Source names made into syncd names (`^[a-z0-9][a-z0-9_.:-]{0,63}$`), collisions resolved.

A name that is already valid is kept as it is: the name is a row's identity, and keeping it
is what lets `apply --adopt` take over a row of that name. Anything else is folded to
lowercase ASCII with runs of other characters turned into one `-`; a name with nothing left
(`每日报告`) becomes `schedule-` and a short hash of the original, stable across imports.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from syncd.spec import NAME_RE

MAX = 64
_OTHER = re.compile(r"[^a-z0-9_.:-]+")
_EDGE = "-_.:"


def sanitize(raw: str) -> str:
    if NAME_RE.match(raw):
        return raw
    ascii_ = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    text = _OTHER.sub("-", ascii_.lower()).strip(_EDGE)[:MAX].rstrip(_EDGE)
    if not text:
        return "schedule-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return text


def _with_suffix(base: str, n: int) -> str:
    suffix = f"-{n}"
    return base[: MAX - len(suffix)].rstrip(_EDGE) + suffix


def assign_names(
    wanted: Sequence[str], origins: Sequence[str]
) -> tuple[list[str], list[str | None]]:
    """A valid, unique name for each wanted name, in order, and for each the message that
    explains a change (None: kept as it was). Valid names are placed first, so a source
    name that is already valid never loses it to another entry's sanitized form."""
    names: list[str | None] = [None] * len(wanted)
    taken: dict[str, int] = {}
    order = sorted(range(len(wanted)), key=lambda i: not NAME_RE.match(wanted[i]))
    for i in order:
        base = sanitize(wanted[i])
        name, n = base, 1
        while name in taken:
            n += 1
            name = _with_suffix(base, n)
        taken[name] = i
        names[i] = name
    messages: list[str | None] = []
    for i, raw in enumerate(wanted):
        given = names[i]
        assert given is not None
        if given == raw:
            messages.append(None)
            continue
        base = sanitize(raw)
        why = f"{raw!r} is not a valid syncd name; imported as {given!r}"
        if given != base:
            other = origins[taken[base]]
            became = "is" if base == raw else f"became {base!r},"
            why = f"{raw!r} {became} already taken by {other}; imported as {given!r}"
        messages.append(why)
    return [n for n in names if n is not None], messages
