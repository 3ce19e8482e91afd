"""Several senders sharing one send (PostgreSQL as several machines would use it), leases,
and schema migrations."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import create_engine, event, inspect, text

from digest.cli import cli
from digest.config import Config
from digest.deliver import loop
from digest.deliver import send as send_module
from digest.deliver.options import SendOptions
from digest.deliver.outgoing import Outgoing
from digest.deliver.send import Sender
from digest.errors import SchemaError
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.store import Store
from digest.store.delivery import DeliveryOutcome
from digest.store.migrate import _config, head
from digest.subscribers import new_subscriber

from .conftest import SAMPLE_DAY, SAMPLES, fresh_schema_url
from .smtp_server import SMTPTestServer
from .test_kill import digest_cli
from .test_send import smtp_config

LEASE = dt.timedelta(seconds=0.5)


def populate(store: Store, config: Config, n: int) -> None:
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, config, SAMPLE_DAY)
    choices = [None, "Space", "Nuclear;War report", "Missile defense"]
    store.upsert_subscribers(
        [
            new_subscriber(f"reader{i}@example.com", None, choices[i % 4], config.section_names)
            for i in range(n)
        ]
    )


def machine_env(
    config: Config, server: SMTPTestServer, tmp_path: Path, name: str
) -> dict[str, str]:
    """The environment of one sending machine: the shared database, its own lock file, an
    empty inbox."""
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return {
        **os.environ,
        "DIGEST_DATABASE_URL": config.database_url,
        "DIGEST_SMTP_HOST": server.host,
        "DIGEST_SMTP_PORT": str(server.port),
        "DIGEST_SECRET_KEY": "scale-secret",
        "DIGEST_LOCK_FILE": str(tmp_path / f"{name}.lock"),
        "DIGEST_OUTBOX": str(tmp_path / f"{name}-outbox"),
        "DIGEST_INBOX": str(tmp_path / "inbox"),
        "DIGEST_LEASE_SECONDS": "2",
    }


def message_ids(server: SMTPTestServer) -> dict[str, set[str | None]]:
    ids: dict[str, set[str | None]] = defaultdict(set)
    for msg in server.messages:
        for rcpt in msg.rcpt_tos:
            ids[rcpt].add(msg.message_id)
    return ids


# ---- several senders --------------------------------------------------------------------


def test_outcome_batches_of_every_length_reuse_a_few_statements(
    store: Store, config: Config
) -> None:
    """Drivers keep a prepared statement per SQL text and connection: one per IN-list length
    grew every sending process by tens of MB over a million messages."""
    populate(store, config, 300)
    send_id = store.get_or_create_send(SAMPLE_DAY)
    store.enqueue(send_id)
    statements: set[str] = set()
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.add(a[2]))
    claims = [c for size in range(1, 25) for c in store.claim(send_id, "w", size, LEASE)]
    assert len(claims) == 300
    done, size = 0, 1
    while done < len(claims):  # outcome batches of 1, 2, 3 ... like the flushes of a send
        batch = claims[done : done + size]
        store.record(
            [
                DeliveryOutcome(
                    c.delivery_id,
                    c.subscriber.id,
                    "failed" if c.subscriber.id % 3 == 0 else "sent",
                    "550 no",
                    None,
                    1,
                )
                for c in batch
            ],
            bounce_limit=3,
            worker="w",
        )
        done, size = done + len(batch), size + 1
    assert len(statements) <= 12, sorted(statements)
    assert store.counts(send_id).failed == sum(c.subscriber.id % 3 == 0 for c in claims)
    bounces = {c.subscriber.id: store.get_subscriber(c.subscriber.id) for c in claims}
    assert {i: s.hard_bounces for i, s in bounces.items() if s} == {
        c.subscriber.id: int(c.subscriber.id % 3 == 0) for c in claims
    }


def test_claims_never_overlap(store: Store, config: Config) -> None:
    populate(store, config, 400)
    send_id = store.get_or_create_send(SAMPLE_DAY)
    store.enqueue(send_id)
    taken: list[list[int]] = [[] for _ in range(4)]

    def worker(i: int) -> None:
        while claims := store.claim(send_id, f"w{i}", 25, LEASE):
            taken[i] += [c.delivery_id for c in claims]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [d for part in taken for d in part]
    assert len(every) == len(set(every)) == 400


def test_a_dead_workers_claims_return_after_the_lease(store: Store, config: Config) -> None:
    populate(store, config, 30)
    send_id = store.get_or_create_send(SAMPLE_DAY)
    store.enqueue(send_id)
    # Claims of a worker on another machine: only their lease can say it is gone.
    assert len(store.claim(send_id, "elsewhere:1", 10, LEASE)) == 10
    assert len(store.claim(send_id, "alive-elsewhere:2", 10, LEASE)) == 10
    assert store.requeue(send_id) == 0
    time.sleep(0.3)
    store.renew_lease(send_id, "alive-elsewhere:2", LEASE)  # this one is still working
    time.sleep(0.35)
    assert store.requeue(send_id) == 10  # only the dead worker's, after its lease
    assert store.held_by_others(send_id, "me:3") == 10
    again = store.claim(send_id, "me:3", 100, LEASE)
    assert len(again) == 20  # the ten that came back and the ten never claimed


def test_a_dead_local_process_is_noticed_at_once(store: Store, config: Config) -> None:
    populate(store, config, 5)
    send_id = store.get_or_create_send(SAMPLE_DAY)
    store.enqueue(send_id)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    import socket

    store.claim(send_id, f"{socket.gethostname()}:{gone}", 5, dt.timedelta(hours=1))
    assert store.requeue(send_id) == 5


def test_four_senders_one_killed_nobody_lost_or_repeated(
    postgres: str, tmp_path: Path, smtp_server: SMTPTestServer, config: Config
) -> None:
    """Four `digest send` processes, as on four machines, share a 10,000-subscriber send on
    PostgreSQL; one dies by SIGKILL; the others finish its share after its lease."""
    if not config.database_url.startswith("postgresql"):
        pytest.skip("several machines share a send through PostgreSQL")
    n = 10_000
    store = Store(config.database_url)
    populate(store, config, n)
    procs = [
        digest_cli(
            "send",
            "--date",
            SAMPLE_DAY,
            "--concurrency",
            "4",
            env=machine_env(config, smtp_server, tmp_path, f"m{i}"),
        )
        for i in range(4)
    ]
    smtp_server.wait_for(2000, timeout=120)
    procs[0].send_signal(signal.SIGKILL)
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert procs[0].returncode == -signal.SIGKILL
    assert all(p.returncode == 0 for p in procs[1:]), outputs
    ids = message_ids(smtp_server)
    expected = {f"reader{i}@example.com" for i in range(n)}
    assert set(ids) == expected
    assert all(len(found) == 1 and None not in found for found in ids.values())
    counts = store.counts(store.find_send(SAMPLE_DAY))
    assert counts.as_dict() == {"queued": 0, "sent": n, "failed": 0, "deferred": 0, "skipped": 0}
    workers = store.worker_shares(store.find_send(SAMPLE_DAY) or 0)
    assert len(workers) >= 3 and sum(w.sent for w in workers.values()) == n
    store.close()


def test_a_sender_that_has_sent_all_it_claimed_writes_it_for_the_others_at_once(
    store: Store, config: Config, smtp_server: SMTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sending process waits, before it ends, until no other holds claims that could come
    back; so one that has sent all it claimed must write those outcomes then, not at its next
    periodic write (in a two-process send each waited for the other's, and every send ended
    up to FLUSH_EVERY late). With the periodic write an hour away, the other worker here
    finishes its share only once this sender's outcomes are written."""
    monkeypatch.setattr(send_module, "FLUSH_EVERY", 3600.0)
    populate(store, config, 30)
    send_id = store.get_or_create_send(SAMPLE_DAY)
    store.enqueue(send_id)
    theirs = store.claim(send_id, "elsewhere:1", 5, dt.timedelta(minutes=5))
    cfg = smtp_config(config, smtp_server)
    digest = store.get_digest(SAMPLE_DAY)
    sender = Sender(store, Outgoing(cfg), digest, SendOptions(concurrency=2, worker="here:1"))
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(loop.run(sender.run())), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while store.counts(send_id).sent < 25:
            assert time.monotonic() < deadline, "its outcomes waited for the periodic write"
            time.sleep(0.02)
        store.record(
            [
                DeliveryOutcome(c.delivery_id, c.subscriber.id, "sent", "250 ok", None, 1)
                for c in theirs
            ],
            cfg.bounce_limit,
            "elsewhere:1",
        )
        thread.join(timeout=30)
        assert not thread.is_alive() and len(done) == 1
    finally:
        sender.stop("the test is over")
        thread.join(timeout=10)
    assert store.counts(send_id).as_dict() == {
        "queued": 0,
        "sent": 30,
        "failed": 0,
        "deferred": 0,
        "skipped": 0,
    }
    assert len(smtp_server.messages) == 25


def test_two_runs_started_at_once_make_one_send(
    tmp_path: Path, smtp_server: SMTPTestServer, config: Config
) -> None:
    store = Store(config.database_url)
    ingest_jobs.ingest(store, [SAMPLES])  # stories, but no digest yet: both runs try to compose
    store.upsert_subscribers(
        [new_subscriber(f"r{i}@example.com", None, None, config.section_names) for i in range(200)]
    )
    procs = [
        digest_cli(
            "run", "--date", SAMPLE_DAY, env=machine_env(config, smtp_server, tmp_path, f"m{i}")
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sends")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM digests")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 200
    ids = message_ids(smtp_server)
    assert len(ids) == 200 and len(smtp_server.messages) == 200
    store.close()


def test_status_shows_each_sending_process(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    populate(store, config, 600)
    env = machine_env(config, smtp_server, tmp_path, "m")
    runner = CliRunner()
    sent = runner.invoke(cli, ["send", "--date", SAMPLE_DAY, "--workers", "2"], env=env)
    assert sent.exit_code == 0, sent.output
    r = runner.invoke(cli, ["status", "--date", SAMPLE_DAY], env=env)
    lines = r.output.splitlines()
    assert lines[0] == (
        f"{SAMPLE_DAY}: 0 queued, 600 sent, 0 failed, 0 deferred, 0 skipped; approval: approved"
    )
    shares = {}
    for line in lines[1:]:
        m = re.fullmatch(
            r"  ([^:\s]+:\d+): (\d+) sent, 0 failed, 0 deferred, 0 skipped, 0 in hand", line
        )
        assert m, line
        shares[m.group(1)] = int(m.group(2))
    assert 1 <= len(shares) <= 2 and sum(shares.values()) == 600


# ---- migrations ----------------------------------------------------------------------------


def test_an_empty_database_is_set_up_at_the_newest_revision(database_url: str) -> None:
    store = Store(database_url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head()
        assert {"stories", "subscribers", "deliveries", "sends"} <= set(
            inspect(conn).get_table_names()
        )
    store.close()


def test_a_database_at_the_first_revision_is_upgraded_not_dropped(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO subscribers (email, name, status, hard_bounces, created_at, "
                "updated_at) VALUES ('old@example.com', 'Old Reader', 'active', 0, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    with pytest.raises(SchemaError, match="digest db upgrade"):
        Store(database_url)
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert r.exit_code == 0 and r.output.strip() == f"db: 0001 -> {head()}"
    store = Store(database_url)
    old = store.find_subscriber("old@example.com")
    assert old is not None and old.name == "Old Reader" and old.status == "active"
    with store.engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("deliveries")}
        assert "ix_deliveries_message_id" in indexes  # what 0002 adds
    store.close()
    engine.dispose()
    again = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert again.output.strip() == f"db: at {head()}"


def test_a_database_made_before_migrations_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # the first schema, without Alembic's bookkeeping
        command.upgrade(_config(conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaError, match="made before migrations"):
        Store(url)
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": url})
    assert r.output.strip() == f"db: 0001 -> {head()}"
    Store(url).close()


def set_up_at_once(url: str) -> None:
    code = f"from digest.store import Store; Store({url!r}).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    with create_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


@pytest.mark.parametrize("attempt", range(3))  # a race: one round alone missed it at times
def test_several_processes_set_up_one_empty_database_once(postgres: str, attempt: int) -> None:
    for url in fresh_schema_url(postgres):
        set_up_at_once(url)


def test_several_processes_set_up_one_empty_sqlite_file_once(tmp_path: Path) -> None:
    for attempt in range(3):
        set_up_at_once(f"sqlite:///{tmp_path / f'new-{attempt}.db'}")
