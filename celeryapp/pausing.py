"""Whether a runtime pause holds at an instant: one rule for the beat, the CLI and the page.

Pure: no I/O. A pause without an end holds until `syncd resume`; one with an end holds
strictly before it, so at `until` exactly the schedule runs again.
"""

from __future__ import annotations

from datetime import datetime


def holds(until: datetime | None, now: datetime) -> bool:
    return until is None or now < until
