"""The change signal: the revision number in Redis, set after commit and published.

The database revision is the truth; Redis only makes the beat notice sooner. The key only
ever moves forward (an older apply finishing late never lowers it), and the beat compares
integers, never clocks (fba W1 compared second-truncated local time strings).
"""

from __future__ import annotations

from celeryapp.clients import new_client
from celeryapp.settings import revision_key

# SET the key to ARGV[1] unless it already holds a larger number; PUBLISH when it moved.
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local proposed = tonumber(ARGV[1])
if proposed > current then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


def publish_revision(redis_url: str, prefix: str, revision: int, *, timeout: float = 2.0) -> bool:
    """Raise `{prefix}:revision` to `revision` and publish it; True if it moved."""
    client = new_client(redis_url, timeout=timeout)
    try:
        moved = client.eval(_RAISE, 1, revision_key(prefix), str(revision))  # type: ignore[no-untyped-call]
        return bool(moved)
    finally:
        client.close()
