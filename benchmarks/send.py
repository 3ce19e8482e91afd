"""Throughput benchmark: `digest send` against Postfix's smtp-sink, next to smtp-source.

Fixed inputs: N subscribers (default 100,000) with eight distinct section choices in a fresh
SQLite file, and the sample day's digest. It runs the real `digest send` command (the same code
and options users run) against smtp-sink on a free loopback port, then Postfix's own load
generator smtp-source with the same message size and session count against a fresh sink, and
prints one table. It also times compose and render on generated inputs (ingest has its own
benchmark, benchmarks/ingest.py).

    .venv/bin/python benchmarks/send.py                     # 100,000 subscribers
    .venv/bin/python benchmarks/send.py --subscribers 1000000
    .venv/bin/python benchmarks/send.py --subscribers 20000 --dkim rsa   # DKIM-signed

With --dkim it generates a key of that type in the temporary folder, signs every message (the
DIGEST_DKIM_* settings) and also times one signature, digest's and dkimpy's.

Needs Debian's postfix package for smtp-sink and smtp-source:
    apt-get install postfix     (answer "No configuration"; DEBIAN_FRONTEND=noninteractive)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import peak as peak_rss  # noqa: E402
from databases import CHOICES, fresh_database  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from digest.compose import compose  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.deliver import dkim, loop  # noqa: E402
from digest.jobs import digests as digest_jobs  # noqa: E402
from digest.jobs import ingest as ingest_jobs  # noqa: E402
from digest.model import Document  # noqa: E402
from digest.render import Links, Renderer  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.store.tables import SubscriberRow  # noqa: E402

DAY = "2026-11-26"
SAMPLES = ROOT / "samples" / DAY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(tool: str) -> str:
    path = shutil.which(tool) or (
        f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None
    )
    if not path:
        sys.exit(
            f"{tool} not found: install Debian's postfix package "
            "(DEBIAN_FRONTEND=noninteractive apt-get install -y postfix)"
        )
    return path


class Sink:
    """smtp-sink on a free port, counting the messages it accepts (-c)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = (workdir / f"sink-{self.port}.log").open("w+b")
        args = [need("smtp-sink"), "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "1024"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("smtp-sink did not start")

    def messages(self) -> int:
        self.log.flush()
        text = Path(self.log.name).read_bytes().decode("ascii", "replace")
        counts = re.findall(r"mesg=(\d+)", text)
        return int(counts[-1]) if counts else 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


class Proxy:
    """benchmarks/delay_proxy.py in front of a sink: `delay_ms` each way."""

    def __init__(self, sink: Sink, delay_ms: float) -> None:
        script = Path(__file__).with_name("delay_proxy.py")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(script),
                *("--delay-ms", str(delay_ms)),
                *("--target", f"127.0.0.1:{sink.port}"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if line[:1] != ["READY"]:
            sys.exit("the delaying proxy did not start")
        self.port = int(line[1])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_database(url: str, workdir: Path, n: int) -> int:
    """The sample day composed and n subscribers; returns the size of one message."""
    config = replace(load_config(env={}, cwd=workdir), database_url=url)
    store = Store(url)
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, config, DAY)
    # Subscribers are test input, not what is measured: bulk insert straight into the table.
    stamp = dt.datetime.now(dt.UTC)
    table = SubscriberRow.__table__  # type: ignore[attr-defined]
    with store.engine.begin() as conn:
        for start in range(0, n, 20_000):
            conn.execute(
                insert(table),
                [
                    {
                        "email": f"reader{i}@bench.example.com",
                        "name": f"Reader {i}",
                        "sections": CHOICES[i % 8].split(";") if CHOICES[i % 8] else None,
                        "status": "active",
                        "hard_bounces": 0,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                    for i in range(start, min(n, start + 20_000))
                ],
            )
    store.close()
    one = subprocess.run(  # the size of one message, for smtp-source
        [sys.executable, "-m", "digest", "preview", "--date", DAY],
        env={**os.environ, "DIGEST_DATABASE_URL": url, "DIGEST_OUTBOX": str(workdir / "out")},
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(one.stdout.split()[2]).stat().st_size


def send_command(
    workdir: Path, url: str, port: int, sessions: int, workers: int
) -> tuple[list[str], dict[str, str]]:
    """The real `digest send` command line, and its settings, for the sink at `port`."""
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": url,
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(port),
        "DIGEST_SECRET_KEY": "benchmark-secret",
        "DIGEST_LOCK_FILE": str(workdir / "digest.lock"),
        "DIGEST_FROM": "Defence & Space Daily <digest@bench.example.com>",
    }
    command = [sys.executable, "-m", "digest", "send", "--date", DAY, "--transport", "smtp"]
    command += ["--concurrency", str(max(1, sessions // workers)), "--workers", str(workers)]
    return command, env


def run_digest_send(
    workdir: Path, url: str, port: int, sessions: int, workers: int
) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of the real `digest send` command."""
    command, env = send_command(workdir, url, port, sessions, workers)
    with tempfile.TemporaryFile("w+") as out:
        # Its own peak RSS, or that of a worker it forked, and not this process's (peak.py).
        code, seconds, peak = peak_rss.run(command, env, out)
        out.seek(0)
        output = out.read().strip()
    print(output)
    if code != 0:
        sys.exit(f"digest send failed ({code})")
    return seconds, peak


def kill_and_resume(
    workdir: Path, url: str, sink: Sink, sessions: int, workers: int, n: int, at: float
) -> tuple[int, int, float]:
    """`digest send` killed with SIGKILL once the sink has `at` of the messages, then run
    again to the end: (messages when killed, messages repeated, msg/s just before the kill)."""
    command, env = send_command(workdir, url, sink.port, sessions, workers)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    target = int(n * at)
    samples: list[tuple[float, int]] = []
    while (count := sink.messages()) < target:
        samples.append((time.monotonic(), count))
        time.sleep(0.01)
    # Every process in the group: the command and the sending processes it forked.
    proc.kill()  # the sending processes it forked die with it (PR_SET_PDEATHSIG)
    proc.wait()
    killed_at = sink.messages()
    recent = [(t, c) for t, c in samples if t >= samples[-1][0] - 1.0] or samples[-1:]
    span = samples[-1][0] - recent[0][0]
    rate = (samples[-1][1] - recent[0][1]) / span if span > 0 else 0.0
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return killed_at, sink.messages() - n, rate


def run_smtp_source(port: int, n: int, size: int, sessions: int) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            need("smtp-source"),
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(n),
            "-l",
            str(size),
            "-f",
            "digest@bench.example.com",
            "-t",
            "reader@bench.example.com",
            f"127.0.0.1:{port}",
        ],
        check=True,
    )
    return time.monotonic() - started


def time_compose_render(stories: int = 50, headlines: int = 500) -> float:
    """Milliseconds to compose and render (HTML and text) a generated day (best of 5)."""
    config = load_config(env={})
    base = [d for d in ingest_jobs.parse_paths([SAMPLES])[0]]
    words = [h for d in base for g in d.headline_groups for h in g]
    docs = []
    for i in range(stories):
        src = base[i % len(base)]
        heads = tuple(f"{words[(i * 10 + j) % len(words)]} ({i}-{j})" for j in range(10))
        docs.append(
            Document(
                DAY,
                f"{src.title} ({i})",
                "headline",
                src.source,
                None,
                tuple(f"{p} ({i})" for p in src.body),
                src.related_links,
                (heads,),
            )
        )
    assert sum(len(d.headline_groups[0]) for d in docs) == headlines
    renderer = Renderer(config)
    links = Links("https://x/u/t", "https://x/p/t", "https://x/archive")
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        digest = compose(DAY, docs, config)
        _html, cap = renderer.fit(digest, links)
        renderer.text(digest, links, headline_cap=cap)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def use_dkim(workdir: Path, kind: str) -> dkim.KeyPair:
    """A fresh key, and the settings that make every digest command sign with it."""
    pair = dkim.keygen("bench", "bench.example.com", workdir / "keys", kind)
    os.environ.update(
        DIGEST_DKIM_KEY_FILE=str(pair.private),
        DIGEST_DKIM_SELECTOR="bench",
        DIGEST_DKIM_DOMAIN="bench.example.com",
    )
    return pair


def time_signing(pair: dkim.KeyPair, message: bytes, n: int = 200) -> tuple[float, float]:
    """Microseconds to sign one message: digest's signer, and dkimpy's dkim.sign."""
    import base64

    import dkim as dkimpy  # type: ignore[import-untyped]
    from cryptography.hazmat.primitives import serialization

    key = dkim.load_key(pair.private)
    signer = dkim.Signer(key, "bench", "bench.example.com")
    started = time.perf_counter()
    for _ in range(n):
        signer.sign(message)
    ours = (time.perf_counter() - started) / n * 1e6
    if signer.algorithm == "rsa-sha256":
        theirs_key, algorithm = pair.private.read_bytes(), b"rsa-sha256"
    else:  # dkimpy wants the raw Ed25519 seed, base64
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        theirs_key, algorithm = base64.b64encode(raw), b"ed25519-sha256"
    headers = [h.encode() for h in dkim.SIGNED_HEADERS]
    m = max(5, n // 20)  # dkimpy is slow: fewer rounds
    started = time.perf_counter()
    for _ in range(m):
        dkimpy.sign(
            message,
            b"bench",
            b"bench.example.com",
            theirs_key,
            include_headers=headers,
            signature_algorithm=algorithm,
        )
    return ours, (time.perf_counter() - started) / m * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=16, help="SMTP sessions for both")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="sending processes; the sessions are shared among them",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to use (a fresh schema in it) instead of a fresh SQLite file",
    )
    parser.add_argument("--skip-source", action="store_true", help="skip smtp-source")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="send both through a proxy that delays each way by this much (e.g. 10)",
    )
    parser.add_argument(
        "--kill-at",
        type=float,
        help="also kill -9 a send once this share of the messages went out (e.g. 0.5), run it "
        "again, and count the repeats",
    )
    parser.add_argument(
        "--dkim",
        choices=["rsa", "ed25519"],
        help="sign every message with a fresh key of this type",
    )
    args = parser.parse_args()
    n = args.subscribers
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        workdir = Path(tmp)
        print(f"setting up {n:,} subscribers ...", flush=True)
        url, drop = fresh_database(workdir, args.database_url)
        pair = use_dkim(workdir, args.dkim) if args.dkim else None
        size = make_database(url, workdir, n)
        signing = (
            time_signing(pair, (workdir / "out" / DAY / "digest.eml").read_bytes())
            if pair
            else None
        )

        sink = Sink(workdir)
        proxy = Proxy(sink, args.latency_ms) if args.latency_ms else None
        port = proxy.port if proxy else sink.port
        seconds, rss = run_digest_send(workdir, url, port, args.sessions, args.workers)
        time.sleep(0.5 + args.latency_ms / 500)
        received = sink.messages()
        if proxy:
            proxy.stop()
        sink.stop()

        killed = None
        if args.kill_at:
            url2, drop2 = fresh_database(workdir / "kill", args.database_url)
            (workdir / "kill").mkdir(exist_ok=True)
            make_database(url2, workdir / "kill", n)
            sink = Sink(workdir)
            killed = kill_and_resume(
                workdir / "kill", url2, sink, args.sessions, args.workers, n, args.kill_at
            )
            sink.stop()
            drop2()

        source_seconds = None
        if not args.skip_source:
            sink = Sink(workdir)
            proxy = Proxy(sink, args.latency_ms) if args.latency_ms else None
            source_seconds = run_smtp_source(
                proxy.port if proxy else sink.port, n, size, args.sessions
            )
            if proxy:
                proxy.stop()
            sink.stop()
        drop()
        compose_ms = time_compose_render()

    rate = n / seconds
    print()
    print(f"{'':28}{'messages':>10}{'seconds':>10}{'msg/s':>10}")
    print(f"{'digest send':28}{n:>10,}{seconds:>10.1f}{rate:>10,.0f}")
    if source_seconds:
        source_rate = n / source_seconds
        print(f"{'smtp-source -d':28}{n:>10,}{source_seconds:>10.1f}{source_rate:>10,.0f}")
        print(f"{'ratio digest/smtp-source':28}{rate / source_rate:>30.2f}")
    print(f"{'message size (bytes)':28}{size:>30,}")
    print(f"{'sessions':28}{args.sessions:>30}")
    print(f"{'sending processes':28}{args.workers:>30}")
    print(f"{'latency each way':28}{args.latency_ms:>27.0f} ms")
    print(f"{'event loop':28}{loop.name():>30}")  # DIGEST_EVENT_LOOP=asyncio to compare
    print(f"{'database':28}{'PostgreSQL' if args.database_url else 'SQLite':>30}")
    print(f"{'peak RSS of digest send':28}{rss:>27.0f} MB")
    print(f"{'compose+render 50/500':28}{compose_ms:>27.1f} ms")
    if signing:
        print(f"{'dkim ' + str(args.dkim) + ' sign, digest':28}{signing[0]:>24,.0f} us/msg")
        print(f"{'dkim ' + str(args.dkim) + ' sign, dkimpy':28}{signing[1]:>24,.0f} us/msg")
    if killed:
        at, repeats, before = killed
        print(f"{'kill -9 after':28}{at:>21,} messages")
        print(f"{'repeated after restart':28}{repeats:>21,} messages")
        print(f"{'  i.e. ms of sending':28}{repeats / before * 1000 if before else 0:>27.0f} ms")
    print(f"{'sink received':28}{received:>30,}")
    if received != n:
        sys.exit(f"FAIL: the sink received {received:,} messages, not {n:,}")


if __name__ == "__main__":
    main()
