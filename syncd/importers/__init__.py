"""`syncd import`: schedules from the schedulers people run today, as syncd YAML.

One module per source. Each has a pure `convert` (the source's records in, `Candidate`
values out, no I/O) and a thin `read` edge that fetches those records (a database, Redis,
a file). `entries.finish` turns candidates into schedules syncd accepts (names made valid,
collisions resolved, every schedule checked by syncd's own validator); `writer` renders the
YAML with each entry's differences as comments above it.

Nothing is ever written to a source: an import reads.
"""

from __future__ import annotations

SOURCES = ("django-celery-beat", "redbeat", "fba", "crontab")
