"""One Redis client and one database engine per URL and process, shared by the task base
class concerns."""

from __future__ import annotations

import threading

import redis
from sqlalchemy import Engine, create_engine

from celeryapp.settings import sqlalchemy_url

_clients: dict[str, redis.Redis[bytes]] = {}
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def redis_client(url: str) -> redis.Redis[bytes]:
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
            _clients[url] = client
        return client


def database_engine(url: str) -> Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(sqlalchemy_url(url), pool_pre_ping=True)
            _engines[url] = engine
        return engine
