"""The Redis URLs syncd reads, parsed (pure: `clients` and `app` connect).

Three forms, for `SYNCD_REDIS_URL` (the lock, the signal, the once-only keys) and for the
broker (`CELERY_BROKER_URL`, or `SYNCD_REDIS_URL` when it is not set):

* `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`: one server;
* `rediss://...?ssl_ca_certs=/ca.pem&ssl_certfile=/client.pem&ssl_keyfile=/client.key`:
  one server over TLS. The server's certificate is verified (`ssl_cert_reqs=required`,
  redis-py's default) unless the URL says `ssl_cert_reqs=none`; the broker is told the
  same, where kombu alone would not verify;
* `redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB]`: the master
  that the Sentinels at HOST:PORT (26379 when the port is left out) name for SERVICE,
  asked again after a failover. USER and PASSWORD are the master's; the Sentinels are
  asked without a password. The broker gets kombu's form of the same thing:
  `sentinel://HOST:PORT;sentinel://HOST:PORT/DB` with the transport option `master_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTINEL_SCHEME = "redis+sentinel://"
SENTINEL_PORT = 26379


_ESCAPE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def unquote(text: str) -> str:
    """%XX escapes decoded (as UTF-8), as in a URL's user, password and path."""
    return _ESCAPE.sub(
        lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "replace"), text
    )


def quote(text: str) -> str:
    """Every character but the unreserved ones %-escaped, for a URL's user or password."""
    return "".join(
        c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in text
    )


class BadRedisURL(ValueError):
    """A Redis URL syncd cannot read; the message says which form is meant."""


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def _host_port(text: str, url_hint: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not sep:
        host, port = text, str(SENTINEL_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadRedisURL(f"{url_hint}: {text!r} is not HOST:PORT")
    return host, int(port)


def parse_sentinel(url: str, hint: str = "the Redis URL") -> SentinelURL:
    """`redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB]`."""
    form = "write it as redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB]"
    if not is_sentinel(url):
        raise BadRedisURL(f"{hint} is not a redis+sentinel:// URL; {form}")
    rest = url[len(SENTINEL_SCHEME) :]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    # The hosts end at the first / after the last @ (a password may hold an encoded /).
    at = rest.rfind("@")
    slash = rest.find("/", at + 1)
    hosts_part, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash + 1 :])
    username = password = None
    hosts: list[tuple[str, int]] = []
    for item in hosts_part.split(","):
        userinfo, _, address = item.rpartition("@")
        if userinfo:
            user, sep, secret = userinfo.partition(":")
            username = unquote(user) if user else username
            password = unquote(secret) if sep and secret else password
        if address:
            hosts.append(_host_port(address, hint))
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts or len(parts) > 2:
        raise BadRedisURL(f"{hint} names no Sentinel host or no service; {form}")
    db = 0
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise BadRedisURL(f"{hint}: database {parts[1]!r} is not a number; {form}")
        db = int(parts[1])
    return SentinelURL(tuple(hosts), unquote(parts[0]), db, username, password)


def kombu_sentinel(url: str) -> tuple[str, str]:
    """kombu's broker URL for a redis+sentinel:// URL, and its `master_name`."""
    parsed = parse_sentinel(url, "the broker URL")
    auth = ""
    if parsed.password is not None or parsed.username is not None:
        auth = quote(parsed.username or "")
        if parsed.password is not None:
            auth += ":" + quote(parsed.password)
        auth += "@"
    hosts = ";".join(
        f"sentinel://{auth}{f'[{h}]' if ':' in h else h}:{p}" for h, p in parsed.sentinels
    )
    return f"{hosts}/{parsed.db}", parsed.service


def verified_tls(url: str) -> str:
    """A rediss:// URL that verifies the server's certificate unless it says otherwise
    (kombu, unlike redis-py, does not verify when `ssl_cert_reqs` is left out)."""
    if not url.startswith("rediss://") or "ssl_cert_reqs=" in url:
        return url
    base, sep, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}ssl_cert_reqs=required{sep}{fragment}"
