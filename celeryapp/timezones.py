"""Which names are time zones: one rule for the schedules (`timezone:`) and the settings
(`SYNCD_TIMEZONE`), so the beat never runs in a zone the validator would refuse."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

# Zone files that name no place: refused though zoneinfo loads them.
HOST_DEPENDENT = {
    "localtime": "is whatever zone the machine reading it is set to (it differs between "
    "where syncd validates and where the beat runs)",
    "Factory": "is tzdata's placeholder for an unset zone",
}


@lru_cache(maxsize=1024)
def is_timezone(key: str) -> bool:
    """Whether `key` is one of `zoneinfo.available_timezones()`: a zone zoneinfo can load,
    not in the `posix/` and `right/` trees, not `posixrules` (the same exclusions it makes),
    answered without listing every zone file."""
    if key == "posixrules" or key.startswith(("posix/", "right/")):
        return False
    try:
        zoneinfo.ZoneInfo(key)
    except (ValueError, KeyError, OSError):  # malformed key, no such zone, not a TZif file
        return False
    return True
