"""Sending: `digest send` (and its dry run) and `digest status`; the cron job is daily.py."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Config
from ..deliver import loop
from ..deliver.envelope import alignment_warning
from ..deliver.outgoing import Outgoing
from ..deliver.send import Sender, SendOptions, SendResult, recipient_for
from ..deliver.transport import Envelope
from ..deliver.workers import run_in_processes
from ..errors import ApprovalError
from ..lock import run_lock
from ..store import SendCounts, Store
from . import approval
from .status import DayStatus, no_digest


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
    """Deliver the composed digest for a date to every active subscriber not yet sent to.
    ApprovalError when the day is held, or waits for a required approval (a dry run sends
    nobody anything, so it goes ahead)."""
    if request.dry_run:
        return loop.run(dry_run(store, config, request.date))
    outgoing = Outgoing(config, request.transport)
    outgoing.sender_for()  # settings checked before the lock is taken or anything is sent
    with run_lock(config.lock_file):
        approval.check_sendable(store, config, request.date)
        return send_locked(store, outgoing, request, progress, on_start)


def send_locked(
    store: Store,
    outgoing: Outgoing,
    request: SendRequest,
    progress: Callable[[int], None] | None,
    on_start: Callable[[int], None] | None,
) -> SendResult:
    config = outgoing.config
    # The send starts here, with the digest as it stands: edits from now on correct the
    # archive's copy, never what the rest of the subscribers get.
    begun = store.begin_send(request.date, config.approval_required)
    if begun is None:  # an edit or a hold came since the approval was checked
        approval.check_sendable(store, config, request.date)
        raise ApprovalError(f"the digest for {request.date} is no longer approved")
    digest = begun[1]
    workers = request.workers or 1
    rate = config.rate if request.rate is None else request.rate
    options = SendOptions(
        concurrency=request.concurrency or config.concurrency,
        rate=rate / workers,
        transport_name=outgoing.transport_name,
    )
    started = time.monotonic()
    sender = Sender(store, outgoing, digest, options, progress)
    send_id = sender.prepare()
    if on_start:
        on_start(store.counts(send_id).queued)
    if workers == 1:
        loop.run(sender.work(send_id))
    else:
        run_in_processes(sender, send_id, workers)
    return sender.result(send_id, started)


async def dry_run(store: Store, config: Config, date: str) -> SendResult:
    """Every active subscriber's message written to outbox/<date>/dry-run/, and nothing
    recorded: the real send afterwards still goes to everyone."""
    started = time.monotonic()
    digest = store.get_digest(date)
    # Signed and addressed exactly as they would go, but always into the outbox folder.
    outgoing = Outgoing(config, "outbox")
    transport = outgoing.transport(f"{date}/dry-run")
    variants = outgoing.variants(digest)
    sender = outgoing.fixed_sender
    done: Counter[str] = Counter()
    for sub in store.iter_subscribers("active"):
        template = variants.get(sub.sections)
        if template is None:
            done["skipped"] += 1
            continue
        message = outgoing.sign(template.build(recipient_for(sub, outgoing.secret)))
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


def day_status(store: Store, date: str, config: Config) -> DayStatus:
    """The day's send so far; NotFoundError when the day has no digest (and so no send).
    jobs/quick.py answers the same from a SQLite file without the store."""
    send_id = store.find_send(date)
    if send_id is None and not store.has_digest(date):
        raise no_digest(date)
    day_state = approval.state(store, config, date)
    if send_id is None:
        return DayStatus(SendCounts().as_dict(), {}, False, day_state)
    shares = store.worker_shares(send_id)
    workers = {worker: share.as_dict() for worker, share in shares.items()}
    return DayStatus(store.counts(send_id).as_dict(), workers, True, day_state)


def sender_warning(config: Config) -> str | None:
    """At the start of send and run: one line when the sender domains do not align."""
    return alignment_warning(config)


__all__ = [
    "DayStatus",
    "SendRequest",
    "day_status",
    "dry_run",
    "send",
    "send_locked",
    "sender_warning",
    "status",
]
