"""A send stopped from outside: SIGTERM (what systemd, Docker and `kill` send) and a database
that goes away mid-send. Either way nothing is lost, nothing stays claimed, and the next run
repeats no message (or, when the database is gone, only those it could not record)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from digest.config import Config, load_config
from digest.deliver.send import FLUSH_EVERY, STOP_GRACE
from digest.deliver.transport import PER_CONNECTION
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.store import Store
from digest.subscribers import new_subscriber

from .conftest import SAMPLE_DAY, SAMPLES, fresh_schema_url
from .smtp_server import SMTPTestServer
from .test_kill import digest_cli


def prepare(store: Store, config: Config, subscribers: int) -> None:
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, config, SAMPLE_DAY)
    store.upsert_subscribers(
        [
            new_subscriber(f"reader{i}@example.com", None, None, config.section_names)
            for i in range(subscribers)
        ]
    )


def environment(url: str, server: SMTPTestServer, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DIGEST_DATABASE_URL": url,
        "DIGEST_SMTP_HOST": server.host,
        "DIGEST_SMTP_PORT": str(server.port),
        "DIGEST_SECRET_KEY": "stop-test-secret",
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
    }


def states(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        return {state: n for state, n in rows}


def everyone_once(server: SMTPTestServer, subscribers: int) -> int:
    """Every subscriber got the digest, always under one Message-ID; returns the repeats."""
    ids: dict[str, set[str | None]] = {}
    for msg in server.messages:
        for rcpt in msg.rcpt_tos:
            ids.setdefault(rcpt, set()).add(msg.message_id)
    assert set(ids) == {f"reader{i}@example.com" for i in range(subscribers)}
    assert all(len(found) == 1 and None not in found for found in ids.values())
    return len(server.messages) - subscribers


@pytest.mark.parametrize(
    "options",
    [
        ["--rate", "100", "--concurrency", "4"],
        ["--workers", "2", "--rate", "150", "--concurrency", "4"],
    ],
    ids=["one-process", "two-processes"],
)
def test_sigterm_stops_cleanly_and_the_rerun_repeats_nothing(
    store: Store,
    config: Config,
    smtp_server: SMTPTestServer,
    tmp_path: Path,
    options: list[str],
) -> None:
    prepare(store, config, 400)
    env = environment(config.database_url, smtp_server, tmp_path)
    first = digest_cli("send", "--date", SAMPLE_DAY, *options, env=env)
    try:
        smtp_server.wait_for(80, timeout=60)
    finally:
        asked = time.monotonic()
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=STOP_GRACE + 20)
    took = time.monotonic() - asked
    text = out.decode()
    assert first.returncode == 1, text
    assert "(stopped: stopped by SIGTERM)" in text, text
    assert took < STOP_GRACE + 3, f"took {took:.1f}s to stop"
    left = states(store)
    assert "sending" not in left and left["sent"] == len(smtp_server.messages), left
    assert left.get("queued", 0) > 0, "the first run finished before it was stopped"

    second = digest_cli("send", "--date", SAMPLE_DAY, "--concurrency", "8", env=env)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out.decode()
    assert everyone_once(smtp_server, 400) == 0


class Proxy:
    """A TCP relay in front of PostgreSQL that the test can cut, like a network outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()


@pytest.fixture
def pg_url(postgres: str) -> Iterator[str]:
    yield from fresh_schema_url(postgres)


def test_a_database_outage_stops_new_messages_at_once(
    pg_url: str, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    """PostgreSQL becomes unreachable mid-send: the run stops starting messages as soon as
    an outcome cannot be written (before, 255 more went out), and the rerun repeats none of
    those it could not record."""
    config = load_config(env={"DIGEST_DATABASE_URL": pg_url}, cwd=tmp_path)
    store = Store(pg_url)
    try:
        prepare(store, config, 600)
        url = make_url(pg_url)
        proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        env = environment(through, smtp_server, tmp_path)
        first = digest_cli(
            "send", "--date", SAMPLE_DAY, "--rate", "200", "--concurrency", "4", env=env
        )
        try:
            smtp_server.wait_for(100, timeout=60)
        finally:
            proxy.cut()
            at_cut = len(smtp_server.messages)
            out, _ = first.communicate(timeout=60)
        after_cut = len(smtp_server.messages) - at_cut
        assert first.returncode != 0, out.decode()
        assert "database" in out.decode().lower(), out.decode()
        # In flight (two a connection: one on the wire, the next right behind it), and what
        # went out until the next write found the database gone.
        limit = PER_CONNECTION * 4 + math.ceil(200 * (FLUSH_EVERY + 0.05))
        assert after_cut <= limit, f"{after_cut} messages went out after the outage began"

        env = environment(pg_url, smtp_server, tmp_path)
        second = digest_cli("send", "--date", SAMPLE_DAY, "--concurrency", "8", env=env)
        out, _ = second.communicate(timeout=90)
        assert second.returncode == 0, out.decode()
        # What went out but could not be recorded is in the first run's journal: only the
        # messages in flight when it stopped could go out twice.
        assert everyone_once(smtp_server, 600) <= 4
    finally:
        store.close()
