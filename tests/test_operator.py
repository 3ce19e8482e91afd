"""The operator's view (issue 11): what `status`, the run lock, `--date`, `serve` and
`subscribers import` say, through the real command line, a real second process holding the
lock and a real socket holding the port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config
from digest.errors import LockedError
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.lock import run_lock
from digest.store import Store
from digest.store.delivery import DeliveryOutcome
from digest.subscribers import new_subscriber

from .conftest import ROOT, SAMPLE_DAY, SAMPLES

SECRET = "test-secret-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def env(config: Config, tmp_path: Path) -> dict[str, str]:
    """The CLI on the test database; SMTP to a port nobody listens on (every connection is
    refused), so a send stops after its connection failures in a row."""
    return {
        "DIGEST_DATABASE_URL": config.database_url,
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "DIGEST_INBOX": str(tmp_path / "no-inbox"),
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(free_port()),
        "DIGEST_SMTP_TIMEOUT": "2",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_RETRY_BACKOFF": "0.01",
        "DIGEST_BASE_URL": "https://news.example.org",
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def compose(store: Store, config: Config, subscribers: int) -> None:
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, config, SAMPLE_DAY)
    store.upsert_subscribers(
        [
            new_subscriber(f"r{i}@example.com", None, None, config.section_names)
            for i in range(subscribers)
        ]
    )


# ---- digest status ----------------------------------------------------------------------------


def test_status_after_a_stopped_run_says_what_each_worker_did(
    store: Store, config: Config, env: dict[str, str]
) -> None:
    """Before: `host:pid: 8 done` for a run that sent nothing (its deferred deliveries were
    counted as done)."""
    compose(store, config, 40)
    r = invoke(env, "send", "--date", SAMPLE_DAY, "--concurrency", "4")
    assert r.exit_code == 1, r.output
    assert "stopped" in r.output and "0 sent" in r.output
    counts = store.counts(store.find_send(SAMPLE_DAY))
    assert counts.sent == 0 and counts.deferred > 0

    r = invoke(env, "status", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    first, *workers = r.stdout.splitlines()
    assert first == (
        f"{SAMPLE_DAY}: {counts.queued} queued, 0 sent, 0 failed, "
        f"{counts.deferred} deferred, 0 skipped; approval: approved"
    )
    assert "done" not in r.stdout
    deferred = 0
    for line in workers:
        m = re.fullmatch(
            r"  (\S+:\d+): 0 sent, 0 failed, (\d+) deferred, 0 skipped, 0 in hand", line
        )
        assert m, line
        deferred += int(m.group(2))
    assert workers and deferred == counts.deferred


def test_status_shares_count_only_what_each_worker_left_in_each_state(
    store: Store, config: Config, env: dict[str, str]
) -> None:
    """Sent, failed, deferred, skipped and in hand apart; a delivery put back in the queue
    is nobody's."""
    compose(store, config, 7)
    send_id = store.get_or_create_send(SAMPLE_DAY)
    store.enqueue(send_id)
    lease = timedelta(seconds=60)
    a, b = "hostA:101", "hostB:202"
    mine = store.claim(send_id, a, 5, lease)
    states = ["sent", "sent", "failed", "deferred", "skipped"]
    store.record(
        [
            DeliveryOutcome(c.delivery_id, c.subscriber.id, s, "250 ok", None, 1)
            for c, s in zip(mine, states, strict=True)
        ],
        bounce_limit=3,
        worker=a,
    )
    store.claim(send_id, b, 2, lease)  # in hand
    r = invoke(env, "status", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        f"{SAMPLE_DAY}: 2 queued, 2 sent, 1 failed, 1 deferred, 1 skipped; approval: approved",
        f"  {a}: 2 sent, 1 failed, 1 deferred, 1 skipped, 0 in hand",
        f"  {b}: 0 sent, 0 failed, 0 deferred, 0 skipped, 2 in hand",
    ]
    store.requeue(send_id)  # the deferred one goes back to the queue, still naming hostA
    r = invoke(env, "status", "--date", SAMPLE_DAY)
    assert f"  {a}: 2 sent, 1 failed, 0 deferred, 1 skipped, 0 in hand" in r.stdout


def test_status_of_a_day_never_composed_is_an_error(
    store: Store, config: Config, env: dict[str, str]
) -> None:
    """Before: zeros and exit code 0."""
    for extra in ([], ["--json"]):
        r = invoke(env, "status", "--date", "2026-11-30", *extra)
        assert r.exit_code == 1
        assert r.stdout == ""
        assert r.stderr == (
            "error: no digest for 2026-11-30: nothing was composed or sent that day\n"
        )
    compose(store, config, 1)  # composed, not sent: zeros are the truth
    r = invoke(env, "status", "--date", SAMPLE_DAY)
    assert (r.exit_code, r.stdout) == (
        0,
        f"{SAMPLE_DAY}: 0 queued, 0 sent, 0 failed, 0 deferred, 0 skipped "
        "(composed, not sent yet); approval: approved\n",
    )


# ---- --date -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-11-31", "is not a real date: November 2026 has only 30 days"),
        ("2026-02-29", "is not a real date: February 2026 has only 28 days"),
        ("2026-13-01", "is not a real date: there is no month 13"),
        ("2026-11-00", "is not a real date: there is no day 0"),
        ("26-11-2026", "is not a date in the form YYYY-MM-DD"),
        ("yesterday", "is not a date in the form YYYY-MM-DD"),
    ],
)
def test_a_date_that_does_not_exist_is_called_so(value: str, reason: str) -> None:
    """Before: 2026-11-31 was "not a date in the form YYYY-MM-DD"."""
    r = CliRunner().invoke(cli, ["compose", "--date", value])
    assert r.exit_code == 2
    assert f"Invalid value for '--date': '{value}' {reason}\n" in r.stderr


# ---- the run lock -----------------------------------------------------------------------------

# A real `run_lock` in a second process, holding the lock until told to stop (its stdin closes).
# With a delay, its pid is written that much after it takes the lock: the same window as
# always (microseconds), held open long enough to be hit every time.
HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from digest import lock

    delay = float(sys.argv[2])
    write = os.pwrite

    def slow_pwrite(fd, data, offset):
        time.sleep(delay)
        return write(fd, data, offset)

    lock.os.pwrite = slow_pwrite
    with lock.run_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def hold_lock(path: Path, delay: float = 0.0) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert holder.stdout is not None
    if not delay:
        assert holder.stdout.readline() == "locked\n"
    return holder


def release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0


def test_the_lock_message_names_the_process_holding_it(
    store: Store, config: Config, env: dict[str, str], tmp_path: Path
) -> None:
    compose(store, config, 1)
    lock_file = tmp_path / "digest.lock"
    holder = hold_lock(lock_file)
    try:
        r = invoke(env, "send", "--date", SAMPLE_DAY)
        assert r.exit_code == 2
        assert r.stderr == (
            f"error: another digest run or send is under way (pid {holder.pid}, lock {lock_file})\n"
        )
    finally:
        release(holder)
    assert lock_file.read_text() == ""  # cleared on release: no stale pid for the next rival


def test_a_run_starting_as_the_lock_is_taken_names_the_new_holder(tmp_path: Path) -> None:
    """Before: `pid ?`: the holder had taken the lock but not yet written its pid."""
    lock_file = tmp_path / "digest.lock"
    holder = hold_lock(lock_file, delay=0.5)
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the holder has the lock (its pid is not written yet)
            try:
                with run_lock(lock_file):
                    pass
            except LockedError as exc:
                message = str(exc)
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert f"(pid {holder.pid}, lock {lock_file})" in message
    finally:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        release(holder)


def test_runs_started_at_once_all_name_the_one_that_won(tmp_path: Path) -> None:
    """Four real processes at the same instant, five times over: before, most rounds had a
    loser printing `pid ?`."""
    racer = textwrap.dedent(
        """
        import os, sys, time
        from pathlib import Path
        from digest.errors import LockedError
        from digest.lock import run_lock

        go = float(sys.argv[2])
        while time.time() < go:
            pass
        try:
            with run_lock(Path(sys.argv[1])):
                print(f"won {os.getpid()}", flush=True)
                time.sleep(0.5)
        except LockedError as exc:
            print(exc, flush=True)
        """
    )
    for round_ in range(5):
        lock_file = tmp_path / f"race{round_}.lock"
        go = time.time() + 1.5
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", racer, str(lock_file), str(go)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(4)
        ]
        lines = [p.communicate(timeout=60)[0].strip() for p in racers]
        winners = [line.split()[1] for line in lines if line.startswith("won ")]
        assert len(winners) == 1, lines
        for line in lines:
            assert line.startswith("won ") or f"(pid {winners[0]}, lock" in line, lines


# ---- digest serve -----------------------------------------------------------------------------


def test_serve_on_a_port_in_use_exits_2_with_one_line(config: Config, tmp_path: Path) -> None:
    """Before: uvicorn's log and exit code 3."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "digest", "serve", "--port", str(port)],
            env={
                **os.environ,
                "DIGEST_DATABASE_URL": config.database_url,
                "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
            },
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert proc.stdout == ""


# ---- digest subscribers import ----------------------------------------------------------------


def test_one_bad_row_is_one_bad_row(env: dict[str, str], tmp_path: Path) -> None:
    """Before: "1 bad rows"."""
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("email,name,sections\nann@example.com,Ann,\nnot-an-address,Bob,\n")
    r = invoke(env, "subscribers", "import", str(csv_file))
    assert (r.exit_code, r.stdout) == (
        1,
        "import: nothing imported: 1 bad row (see --skip-invalid)\n",
    )
    r = invoke(env, "subscribers", "import", str(csv_file), "--skip-invalid")
    assert r.exit_code == 1 and r.stdout.endswith(", 1 bad row skipped\n")
    r = invoke(env, "subscribers", "list")
    assert r.stdout.endswith("\n1 subscriber\n")


def test_an_unknown_section_lists_the_valid_ones(
    config: Config, env: dict[str, str], tmp_path: Path
) -> None:
    """Before: only "unknown section 'Sprots'"."""
    valid = "; ".join(config.section_names)
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("email,name,sections\nann@example.com,Ann,Space;Sprots\n")
    r = invoke(env, "subscribers", "import", str(csv_file))
    assert r.exit_code == 1
    assert r.stderr == (
        f"refused: {csv_file}:2: unknown section 'Sprots' (the sections are: {valid})\n"
    )
    r = invoke(env, "subscribers", "add", "ann@example.com", "--sections", "Sprots")
    assert r.exit_code == 2
    assert r.stderr == f"error: unknown section 'Sprots' (the sections are: {valid})\n"
