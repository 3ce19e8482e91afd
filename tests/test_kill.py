"""A `digest send` killed with SIGKILL mid-run, then run again: everyone gets exactly one
distinct Message-ID, nobody is skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from digest.config import Config
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.store import Store
from digest.subscribers import new_subscriber

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer


def digest_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize(
    ("subscribers", "kill_after", "options", "in_flight"),
    [
        # Slowed down, so that the kill lands in the middle of a batch.
        (300, 80, ["--rate", "100", "--concurrency", "4"], 4),
        # Full speed, with two sending processes: both die with the command.
        (3000, 600, ["--workers", "2", "--concurrency", "8"], 16),
    ],
    ids=["rate-limited", "full-speed-workers"],
)
def test_killed_send_resumes_without_loss_or_new_message_ids(
    store: Store,
    config: Config,
    smtp_server: SMTPTestServer,
    tmp_path: Path,
    subscribers: int,
    kill_after: int,
    options: list[str],
    in_flight: int,
) -> None:
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, config, SAMPLE_DAY)
    choices = [None, "Space", "Nuclear;War report", "Missile defense"]
    store.upsert_subscribers(
        [
            new_subscriber(
                f"reader{i}@example.com",
                f"Reader {i}",
                choices[i % len(choices)],
                config.section_names,
            )
            for i in range(subscribers)
        ]
    )
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": config.database_url,
        "DIGEST_SMTP_HOST": smtp_server.host,
        "DIGEST_SMTP_PORT": str(smtp_server.port),
        "DIGEST_SECRET_KEY": "kill-test-secret",
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
    }
    first = digest_cli("send", "--date", SAMPLE_DAY, *options, env=env)
    try:
        # The sending rate just before the kill, for the bound below.
        smtp_server.wait_for(kill_after // 2, timeout=60)
        started, at_start = time.monotonic(), len(smtp_server.messages)
        smtp_server.wait_for(kill_after, timeout=60)
        rate = (len(smtp_server.messages) - at_start) / (time.monotonic() - started)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    before = len(smtp_server.messages)
    assert before < subscribers, "the first run finished before it was killed"

    second = digest_cli("send", "--date", SAMPLE_DAY, "--concurrency", "8", env=env)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out.decode()

    ids: dict[str, set[str | None]] = defaultdict(set)
    for msg in smtp_server.messages:
        for rcpt in msg.rcpt_tos:
            ids[rcpt].add(msg.message_id)
    expected = {f"reader{i}@example.com" for i in range(subscribers)}
    assert set(ids) == expected, f"missing: {sorted(expected - set(ids))[:5]}"
    assert all(len(found) == 1 and None not in found for found in ids.values())
    # Repeats can only be the messages in flight when the process died: what was accepted
    # but not yet in the database is in the dead process's journal, which the next run
    # applies before it puts anything back in the queue.
    repeats = len(smtp_server.messages) - subscribers
    print(f"killed after {before} messages at {rate:.0f}/s; {repeats} repeated")
    assert repeats <= in_flight

    status = digest_cli("status", "--date", SAMPLE_DAY, "--json", env=env)
    out, _ = status.communicate(timeout=30)
    assert out.decode().strip() == (
        f'{{"queued": 0, "sent": {subscribers}, "failed": 0, "deferred": 0, "skipped": 0, '
        '"approval": "approved"}'
    )
