"""Throwaway servers for fault tests: never the shared ones on the standard ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

PG_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"), Path("/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own on a free port (initdb + pg_ctl)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="syncd-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.sudo = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(
            [
                *self.sudo,
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-N",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *self.sudo,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.root / "log"),
                "-w",
                *extra,
                action,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        self.ctl("stop", "-m", "fast")

    def start(self) -> None:
        self.ctl("start")


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres()
    pg.ctl("start")
    try:
        yield pg
    finally:
        subprocess.run(
            [*pg.sudo, str(PG_BIN / "pg_ctl"), "-D", str(pg.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(pg.root, ignore_errors=True)


MARIADBD = "/usr/sbin/mariadbd"


class ThrowawayMariaDB:
    """A MariaDB server of our own (mariadb-install-db + mariadbd) on a free port, its own
    data directory and socket; stopped by its PID. The shared server on 3306 is never
    touched. Runs as root here only with `--user=root` (mariadbd refuses root otherwise)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="syncd-mariadb-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.user,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"mysql+pymysql://root@127.0.0.1:{self.port}/syncd?charset=utf8mb4"

    def start(self) -> None:
        command = [
            MARIADBD,
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            f"--socket={self.root / 'sock'}",
            f"--pid-file={self.root / 'pid'}",
            f"--log-error={self.root / 'log'}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
            *self.user,
        ]
        with (self.root / "out").open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = pymysql.connect(
                    host="127.0.0.1", port=self.port, user="root", password="", autocommit=True
                )
                break
            except pymysql.err.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"throwaway MariaDB did not start: {self.root / 'log'}"
                    ) from None
                time.sleep(0.2)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS syncd CHARACTER SET utf8mb4")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM to our PID), waited for: clients see the connection
        refused until `start`."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(20)
        self.process = None


@pytest.fixture
def throwaway_mariadb() -> Iterator[ThrowawayMariaDB]:
    server = ThrowawayMariaDB()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


ThrowawayDatabase = ThrowawayPostgres | ThrowawayMariaDB


@pytest.fixture(params=["postgresql", "mariadb"])
def throwaway_db(request: pytest.FixtureRequest) -> ThrowawayDatabase:
    """Each server database as a throwaway of our own, one test run each: for tests
    that stop and start the database under syncd."""
    server: ThrowawayDatabase = request.getfixturevalue(
        "throwaway_pg" if request.param == "postgresql" else "throwaway_mariadb"
    )
    return server


RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class ThrowawayRabbit:
    """A RabbitMQ node of our own (own node name, ports, data and config): the machine's
    node on 5672 is shared and never touched."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="syncd-rmq-"))
        self.port = free_port()
        self.node = f"syncd{self.port}@localhost"
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.root / "plugins").write_text("[].\n")
        self.sudo = ["runuser", "-u", "rabbitmq", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            for path in (self.root, self.root / "rabbitmq.conf", self.root / "plugins"):
                shutil.chown(path, "rabbitmq")
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> list[str]:
        return [
            "env",
            "HOME=/var/lib/rabbitmq",  # the Erlang cookie rabbitmqctl shares
            f"RABBITMQ_NODENAME={self.node}",
            f"RABBITMQ_NODE_PORT={self.port}",
            f"RABBITMQ_DIST_PORT={free_port()}",
            f"RABBITMQ_CONFIG_FILE={self.root / 'rabbitmq.conf'}",
            f"RABBITMQ_MNESIA_BASE={self.root / 'mnesia'}",
            f"RABBITMQ_LOG_BASE={self.root / 'log'}",
            f"RABBITMQ_ENABLED_PLUGINS_FILE={self.root / 'plugins'}",
            f"RABBITMQ_PID_FILE={self.root / 'pid'}",
        ]

    def start(self) -> None:
        with (self.root / "out").open("ab") as out:
            self.process = subprocess.Popen(
                [*self.sudo, *self._env(), str(RABBIT_BIN / "rabbitmq-server")],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"throwaway RabbitMQ did not start: {self.root / 'out'}")

    def stop(self) -> None:
        subprocess.run(
            [*self.sudo, *self._env(), str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, "stop"],
            capture_output=True,
            timeout=120,
            check=False,
            cwd=self.root,
        )
        if self.process is not None:
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(20)
            self.process = None


@pytest.fixture
def throwaway_rabbit() -> Iterator[ThrowawayRabbit]:
    rabbit = ThrowawayRabbit()
    rabbit.start()
    try:
        yield rabbit
    finally:
        rabbit.stop()
        shutil.rmtree(rabbit.root, ignore_errors=True)
