"""rediss:// for syncd's own client and for the broker, against a TLS redis-server of our own.

A CA and a server certificate made with openssl in tmp, `redis-server --tls-port` on a
free loopback port (never the shared Redis). The certificate is verified by default on
both sides: without the CA neither connects; with `ssl_ca_certs` both do, and
`ssl_cert_reqs=none` opts out.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu.exceptions import OperationalError

from celeryapp.app import make_app
from celeryapp.clients import new_client
from celeryapp.settings import Settings, revision_key
from celeryapp.signal import publish_revision
from tests.faults.servers import free_port

pytestmark = pytest.mark.integration


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, CA file) of a TLS-only redis-server, stopped by its PID afterwards."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=syncd-test-ca",
        cwd=tmp_path,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
        cwd=tmp_path,
    )
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext",
             cwd=tmp_path)  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", "server.pem", "--tls-key-file", "server.key",
         "--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ca = tmp_path / "ca.pem"
        client = new_client(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}", timeout=1)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline, "the TLS redis-server did not start"
            time.sleep(0.05)
        client.close()
        yield port, ca
    finally:
        server.kill()
        server.wait(10)


def test_syncds_client_over_tls_verifies_the_certificate(tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    assert publish_revision(url, "tls", 7)
    client = new_client(url)
    try:
        assert client.get(revision_key("tls")) == b"7"
    finally:
        client.close()
    unverified = new_client(f"rediss://127.0.0.1:{port}/0", timeout=2)
    with pytest.raises(redis.ConnectionError, match=r"(?i)certificate"):
        unverified.ping()
    unverified.close()
    opted_out = new_client(f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none", timeout=2)
    assert opted_out.ping()
    opted_out.close()


def _app(url: str) -> object:
    app = make_app(
        Settings.from_env({"SYNCD_DATABASE_URL": "sqlite:///:memory:", "SYNCD_REDIS_URL": url})
    )
    app.conf.broker_connection_retry = False
    app.conf.broker_connection_max_retries = 1
    app.conf.task_publish_retry = False
    return app


def test_the_broker_over_tls_verifies_the_certificate(tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    # Another database number: kombu's process-wide producer pools are keyed by the
    # broker's address, not its TLS options, so the two apps must not share one.
    unverified = _app(f"rediss://127.0.0.1:{port}/1")
    with pytest.raises((OperationalError, redis.ConnectionError), match=r"(?i)certificate"):
        unverified.send_task("celeryapp.tasks.echo", args=[1], task_id="tls-2")  # type: ignore[attr-defined]
    app = _app(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}")
    app.send_task("celeryapp.tasks.echo", args=[1], task_id="tls-1")  # type: ignore[attr-defined]
    with app.connection_for_write() as conn:  # type: ignore[attr-defined]
        message = conn.default_channel.basic_get("celery", no_ack=True)
    assert message is not None
    assert message.headers["id"] == "tls-1"
