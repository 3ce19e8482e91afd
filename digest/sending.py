"""The sending use cases: `digest send`, `digest status` and the cron job `digest run`."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import app
from .config import Config
from .deliver.message import addr_spec
from .deliver.outbox import OutboxTransport
from .deliver.send import Sender, SendOptions, SendResult, recipient_for
from .deliver.smtp import SMTPSettings, SMTPTransport
from .deliver.transport import Envelope, Transport
from .deliver.variants import Variants
from .deliver.workers import run_in_processes
from .dkim import load_signer, sign_message
from .errors import ConfigError
from .lock import run_lock
from .store import SendCounts, Store

SECRET_FILE = ".digest-secret"


def secret_for(config: Config, transport: str) -> str:
    """The HMAC key for link tokens. Required for real sends; the outbox demo makes one and
    keeps it beside the lock file, so its links stay valid from run to run."""
    if config.secret_key:
        return config.secret_key
    if transport != "outbox":
        raise ConfigError(
            "secret_key is not set (DIGEST_SECRET_KEY): it signs every unsubscribe link, "
            "so digest will not send over SMTP without one"
        )
    path = config.lock_file.parent / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def make_transport(config: Config, name: str, date: str, concurrency: int) -> Transport:
    if name == "outbox":
        return OutboxTransport(config.outbox / date)
    return SMTPTransport(SMTPSettings.from_config(config), concurrency)


@dataclass(frozen=True)
class SendRequest:
    date: str
    transport: str | None = None  # None: the config's default
    dry_run: bool = False
    concurrency: int | None = None
    rate: float | None = None
    workers: int | None = None  # sending processes (1: this one)


def send(
    store: Store,
    config: Config,
    request: SendRequest,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SendResult:
    """Deliver the composed digest for a date to every active subscriber not yet sent to."""
    if request.dry_run:
        return asyncio.run(dry_run(store, config, request.date))
    transport_name = request.transport or config.default_transport
    secret = secret_for(config, transport_name)
    with run_lock(config.lock_file):
        return _send_locked(store, config, request, transport_name, secret, progress, on_start)


def _send_locked(
    store: Store,
    config: Config,
    request: SendRequest,
    transport_name: str,
    secret: str,
    progress: Callable[[int], None] | None,
    on_start: Callable[[int], None] | None,
) -> SendResult:
    digest = store.get_digest(request.date)
    concurrency = request.concurrency or config.concurrency
    workers = request.workers or 1
    rate = config.rate if request.rate is None else request.rate
    options = SendOptions(
        concurrency=concurrency, rate=rate / workers, transport_name=transport_name
    )

    def transport() -> Transport:
        return make_transport(config, transport_name, request.date, concurrency)

    started = time.monotonic()
    sender = Sender(store, config, digest, transport, secret, options, progress)
    send_id = sender.prepare()
    if on_start:
        on_start(store.counts(send_id).queued)
    if workers == 1:
        asyncio.run(sender.work(send_id))
    else:
        run_in_processes(sender, send_id, workers)
    return sender.result(send_id, started)


async def dry_run(store: Store, config: Config, date: str) -> SendResult:
    """Every active subscriber's message written to outbox/<date>/dry-run/, and nothing
    recorded: the real send afterwards still goes to everyone."""
    started = time.monotonic()
    digest = store.get_digest(date)
    secret = secret_for(config, "outbox")
    transport = OutboxTransport(config.outbox / date / "dry-run")
    variants = Variants(config, digest)
    sender = addr_spec(config.return_path or config.from_addr)
    signer = load_signer(config)  # a dry run shows the messages exactly as they would go
    done: Counter[str] = Counter()
    for sub in store.iter_subscribers("active"):
        template = variants.get(sub.sections)
        if template is None:
            done["skipped"] += 1
            continue
        message = sign_message(signer, template.build(recipient_for(sub, secret)))
        await transport.deliver(Envelope(sender, sub.email, sub.id), message)
        done["sent"] += 1
    return SendResult(
        date,
        "dry-run",
        done,
        store.counts(store.find_send(date)),
        time.monotonic() - started,
        variants.rendered,
    )


def status(store: Store, date: str) -> SendCounts:
    return store.counts(store.find_send(date))


def worker_progress(store: Store, date: str) -> dict[str, tuple[int, int]]:
    """Per sending process ("host:pid"): deliveries done and deliveries in hand."""
    send_id = store.find_send(date)
    return {} if send_id is None else store.workers(send_id)


@dataclass
class RunResult:
    ingest: app.IngestReport
    composed: bool
    send: SendResult


def run(
    store: Store,
    config: Config,
    date: str,
    transport: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """The cron job: ingest new documents from the inbox, compose the day if needed, send.

    Safe to run again: files already ingested are not read twice, an existing digest is kept,
    and only deliveries not yet sent go out.
    """
    transport_name = transport or config.default_transport
    secret = secret_for(config, transport_name)
    with run_lock(config.lock_file):
        inbox: list[Path] = [config.inbox] if config.inbox.is_dir() else []
        report = app.ingest(store, inbox)
        composed = False
        if not store.has_digest(date):
            app.compose_day(store, config, date)
            composed = True
        request = SendRequest(date=date, transport=transport_name)
        result = _send_locked(store, config, request, transport_name, secret, progress, None)
    return RunResult(report, composed, result)
