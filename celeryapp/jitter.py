"""`jitter`: a schedule's fixed offset, the same on every beat and every day.

A schedule with `jitter: 5m` fires each due time at `due + offset(name, 300)`, where the
offset is a fraction of the jitter taken from a hash of the schedule's name: every process
that loads the row (any beat, `syncd next`, a test) computes the same instant, so a
failover moves nothing, while `0 0 * * *` schedules of a fleet spread over the jitter.

The due time itself stays nominal: the task id (`NAME@DUE`), the ledger key and the
`syncd_due` header name it; the instant the beat publishes is the *fire* time, sent as the
`syncd_fire` header. Whole milliseconds, so the offset is exact in every database and
message format.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

NO_OFFSET = timedelta(0)
# A personalised hash, so the offset is independent of any other hash of the name (the
# shard of DESIGN §10 is one).
_PERSON = b"syncd-jitter"


def fraction(name: str) -> float:
    """A number in [0, 1) fixed by `name`: the first 8 bytes of its BLAKE2b hash."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") / 2**64


def offset(name: str, jitter: int | None) -> timedelta:
    """The offset in [0, jitter) seconds of schedule `name`, in whole milliseconds
    (zero without jitter)."""
    if not jitter or jitter <= 0:
        return NO_OFFSET
    span = jitter * 1000
    return timedelta(milliseconds=min(int(fraction(name) * span), span - 1))


__all__ = ["NO_OFFSET", "fraction", "offset"]
