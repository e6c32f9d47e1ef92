"""`python -m celeryapp.flower` (and `make flower`): Flower with basic auth, or not at all.

Credentials come from FLOWER_BASIC_AUTH (`user:password`, several separated by commas).
Flower is refused (exit 64) without them, with a malformed pair, or with a known default or
weak password — fba shipped `admin:123456` on a published port (W15). Then it runs
`celery -A celeryapp.app flower --basic-auth=… --url-prefix=…` in this process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

EXIT_USAGE = 64
MIN_PASSWORD = 8
KNOWN_DEFAULTS = frozenset(
    {
        ("admin", "123456"),
        ("admin", "admin"),
        ("admin", "password"),
        ("user", "password"),
        ("guest", "guest"),
        ("root", "root"),
        ("flower", "flower"),
    }
)


class RefusedCredentials(ValueError):
    """FLOWER_BASIC_AUTH is missing or unsafe."""


def check_credentials(value: str | None) -> list[tuple[str, str]]:
    """The user:password pairs, or RefusedCredentials saying what to set."""
    if not value or not value.strip():
        raise RefusedCredentials(
            "FLOWER_BASIC_AUTH is not set; Flower will not start without basic auth. "
            "Set FLOWER_BASIC_AUTH=user:password (a password of at least 8 characters)."
        )
    pairs = []
    for raw in value.split(","):
        user, sep, password = raw.strip().partition(":")
        if not sep or not user or not password:
            raise RefusedCredentials(
                f"FLOWER_BASIC_AUTH entry {raw.strip()!r} is not user:password"
            )
        if (user.lower(), password) in KNOWN_DEFAULTS or password.lower() == user.lower():
            raise RefusedCredentials(
                f"FLOWER_BASIC_AUTH uses the well-known default {user}:{'*' * len(password)}; "
                "choose another password"
            )
        if len(password) < MIN_PASSWORD:
            raise RefusedCredentials(
                f"the password of {user!r} in FLOWER_BASIC_AUTH is shorter than "
                f"{MIN_PASSWORD} characters"
            )
        pairs.append((user, password))
    return pairs


def command(env: Mapping[str, str], extra: Sequence[str]) -> list[str]:
    """The celery command line for these settings (credentials already checked)."""
    celery = str(Path(sys.executable).with_name("celery"))
    return [
        celery,
        "-A",
        "celeryapp.app",
        "flower",
        f"--basic-auth={env['FLOWER_BASIC_AUTH']}",
        f"--url-prefix={env.get('FLOWER_URL_PREFIX') or 'flower'}",
        f"--port={env.get('FLOWER_PORT') or '5555'}",
        f"--address={env.get('FLOWER_ADDRESS') or '0.0.0.0'}",  # noqa: S104 - a server
        *extra,
    ]


def main(argv: Sequence[str] | None = None) -> int:  # noqa: RET503 - execv or refuse
    env = os.environ
    try:
        check_credentials(env.get("FLOWER_BASIC_AUTH"))
    except RefusedCredentials as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    args = command(env, list(sys.argv[1:] if argv is None else argv))
    os.execv(args[0], args)  # noqa: S606 - replacing this process with Flower is the point


if __name__ == "__main__":
    sys.exit(main())
