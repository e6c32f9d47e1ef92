"""Redis, built in one place: every client of syncd and the beat comes from `new_client`
(one connection pool each) or `shared_client` (one per URL and process, for the task base
class concerns), and the token-checked scripts the locks run are written once here.

Every Redis form (`celeryapp.redisurl`: redis://, rediss:// with its certificate options,
redis+sentinel://) is made here, so it reaches the lock, the signal, the once-only keys and
`syncd status` alike. A Sentinel client is redis-py's `Sentinel(...).master_for(SERVICE)`:
after a failover its next connection goes to the new master.
"""

from __future__ import annotations

import threading

import redis
from redis.sentinel import Sentinel

from celeryapp.redisurl import is_sentinel, parse_sentinel

# Compare-and-set on a token: act on KEYS[1] only while it still holds ARGV[1], so a holder
# whose key expired (a stall past its TTL) never touches the key of the one that took over.
# Used by the beat lock and the overlap guard.
IF_HOLDER_PEXPIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
IF_HOLDER_DEL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# The sharded beat's forms of the same two (celeryapp.lock.ShardLocks): renew every key of
# KEYS still holding ARGV[1], or take it again when it lapsed and nobody took it (as the
# single lock's SET NX after a failed renewal), a list of 1/0 back; and give a shard back
# leaving a handoff marker (KEYS[2] = ARGV[2] for ARGV[3] ms) in the same step, only while
# it is still ours.
IF_HOLDER_PEXPIRE_ALL = """
local out = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    out[i] = redis.call('PEXPIRE', key, ARGV[2])
  elseif not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
IF_HOLDER_HAND_OFF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[2] ~= '' then
    redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  end
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_clients: dict[str, redis.Redis[bytes]] = {}
_lock = threading.Lock()


def new_client(url: str, *, timeout: float = 5.0) -> redis.Redis[bytes]:
    """A client of its own (close it when done), with connect and read timeouts."""
    if is_sentinel(url):
        parsed = parse_sentinel(url)
        sentinels = Sentinel(
            list(parsed.sentinels), socket_timeout=timeout, socket_connect_timeout=timeout
        )
        master: redis.Redis[bytes] = sentinels.master_for(
            parsed.service,
            db=parsed.db,
            username=parsed.username,
            password=parsed.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        return master
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def shared_client(url: str) -> redis.Redis[bytes]:
    """One client per URL and process (never closed: it lives as long as the worker)."""
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = new_client(url)
            _clients[url] = client
        return client
