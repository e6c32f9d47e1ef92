"""One Redis client per URL and process, shared by the task base class concerns."""

from __future__ import annotations

import threading

import redis

_clients: dict[str, redis.Redis[bytes]] = {}
_lock = threading.Lock()


def redis_client(url: str) -> redis.Redis[bytes]:
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
            _clients[url] = client
        return client
