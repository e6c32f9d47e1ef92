"""The one redaction of secrets in URLs, DSNs and messages, and its log-record hook.

Every URL or DSN that can reach output goes through `redact_url`: error messages, the
texts of exceptions (SQLAlchemy, psycopg, redis-py and kombu errors often embed the URL
they failed on), tracebacks shown with -v, and, through `install_log_redaction`, every log
line of the beat, the workers and Flower.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# A URL starts at its scheme; it runs to whitespace, a quote or bracket, or the next URL of
# a `;`-separated list (kombu's failover and sentinel lists).
_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>`]*""")
_NEXT_URL = re.compile(r";(?=[A-Za-z][A-Za-z0-9+.\-]*://)")
_SECRET_KEYS = r"password|passwd|pwd|pass|sslpassword|secret|token|access_token|api_key|apikey"  # noqa: S105 - key names, not a password
# `key=value` as in a libpq DSN (`host=db password=s3cret`, `password='a b'`) or a query.
_KEY_VALUE = re.compile(
    rf"""(?i)\b({_SECRET_KEYS})(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,'"]+)"""
)
# `'password': 's3cret'` in the repr of a mapping of connection arguments.
_MAPPING_VALUE = re.compile(
    rf"""(?i)(['"](?:{_SECRET_KEYS})['"]\s*:\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,}}]+)"""
)
REDACTED = "***"


def _userinfo(userinfo: str) -> str:
    user, sep, _password = userinfo.partition(":")
    return f"{user}:{REDACTED}" if sep else userinfo


def _redact_one_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    # The authority ends at the first / ? # after the last @: a password may hold an
    # unencoded @ (or / ? #), and the last @ is where libpq, SQLAlchemy and redis-py split.
    at = rest.rfind("@")
    if at >= 0:
        authority_end = at + next(
            (i for i, ch in enumerate(rest[at:]) if ch in "/?#"), len(rest) - at
        )
        authority, tail = rest[:authority_end], rest[authority_end:]
        hosts = authority.split(",")
        if len(hosts) > 1 and all("@" in h for h in hosts):
            # Sentinel and multi-host forms: each host may carry its own credentials.
            authority = ",".join(_userinfo(h[: h.rfind("@")]) + h[h.rfind("@") :] for h in hosts)
        else:
            authority = _userinfo(rest[:at]) + rest[at:authority_end]
        rest = authority + tail
    return f"{scheme}://{rest}"


def redact_url(text: str) -> str:
    """`text` with every password in it replaced by ***: the one redaction of syncd, for
    every URL, DSN and message (an exception's text often embeds the URL it failed on).

    Handles `scheme://user:password@host` (an unencoded @ in the password included),
    secrets in the query (`?password=`), libpq key/value DSNs (`host=db password=x`),
    `rediss://`, `redis+sentinel://:pw@h1,:pw@h2/svc` and `;`-separated URL lists.
    """

    def one(match: re.Match[str]) -> str:
        return ";".join(_redact_one_url(u) for u in _NEXT_URL.split(match.group()))

    text = _URL.sub(one, text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _MAPPING_VALUE.sub(lambda m: f"{m.group(1)}{REDACTED!r}", text)


def install_log_redaction() -> None:
    """Redact every log record as it is made: its message with the arguments merged, and
    the traceback it carries. A record factory, not a handler filter, so it holds for every
    logger and every handler Celery, kombu or Flower sets up later. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "syncd_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: leave it to logging's report
            return record
        record.msg, record.args = redact_url(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_url(logging.Formatter().formatException(record.exc_info))
        return record

    factory.syncd_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
