"""What the schedule table's columns hold on every supported database, in one place.

The table (`celeryapp.models`) declares its columns with these numbers, and validation
(`syncd.rules`, the JSON Schema via a test) refuses anything outside them, so a file that
validates always fits its row on PostgreSQL, SQLite and MySQL/MariaDB, and survives the
beat's and `syncd next`'s time arithmetic.

* `Integer` is 32-bit signed on PostgreSQL and MySQL (SQLite stores 64-bit).
* `String(n)` counts characters on all three (MySQL with utf8mb4); PostgreSQL refuses a NUL
  character in any text or JSON value, so none is accepted anywhere.
* `Text` is at most 65 535 bytes on MySQL: 4 bytes per character bounds the description.
* `DateTime` is years 1000-9999 on MySQL, 1-9999 in Python. Instants are bounded well
  inside that, so that an instant plus the longest interval or catch-up window (and a time
  zone's offset) is still a datetime Python can represent.
"""

from __future__ import annotations

from datetime import UTC, datetime

INT_MAX = 2**31 - 1  # Integer: interval_every, catchup_window, expire_seconds, run counts

NAME_LENGTH = 64
SCOPE_LENGTH = 64  # a scope (syncd.scopes): the same pattern as a schedule name
TASK_LENGTH = 256
QUEUE_LENGTH = 256  # queue, exchange, routing_key
CRON_LENGTH = 64
TIMEZONE_LENGTH = 64
DESCRIPTION_LENGTH = 4000  # characters; Text, at most 65 535 bytes on MySQL
MYSQL_TEXT_BYTES = 65_535
# Celery's message priority: AMQP's 0-255 (RabbitMQ caps a queue at x-max-priority).
PRIORITY_MIN, PRIORITY_MAX = 0, 255

# start_time and expires, as instants. INT_MAX seconds is 68 years: the latest instant plus
# the longest duration stays far below year 9999.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)

# Bytes of JSON, by default, after YAML aliases are expanded: a whole document, and one
# schedule's args or kwargs (what the beat publishes on every run). Settings
# SYNCD_MAX_DOCUMENT_BYTES and SYNCD_MAX_ARGS_BYTES.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_ARGS_BYTES = 64 * 1024
