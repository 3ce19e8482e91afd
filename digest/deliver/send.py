"""Deliver one day's digest to every active subscriber, resumably.

A producer claims batches of queued deliveries from the database, workers push each message
through the transport (retrying transient failures with backoff), and outcomes are written
back in small batches. State lives only in the database: a run that dies is simply run again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..model import Digest, Subscriber
from ..store import Store
from ..store.delivery import Claim, DeliveryOutcome, SendCounts
from ..tokens import make_token
from .message import MessageTemplate, Recipient, message_id
from .outgoing import Outgoing
from .transport import DeliveryFailure, Envelope, Transport, TransportError

# Seconds between writes of outcomes: what a crash can lose (and so repeat, with the same
# Message-ID) is at most this long a stretch of sending.
FLUSH_EVERY = 0.25
# After this many connection failures in a row with no success, the server is down: stop.
MAX_CONSECUTIVE_FAILURES = 20


@dataclass(frozen=True)
class SendOptions:
    concurrency: int
    rate: float = 0.0
    batch: int = 200
    transport_name: str = "smtp"  # for the summary; the transport is made in each process
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


@dataclass
class SendResult:
    date: str
    transport: str
    this_run: Counter[str]
    counts: SendCounts
    seconds: float
    variants: int
    aborted: str | None = None

    @property
    def complete(self) -> bool:
        c = self.counts
        return not self.aborted and c.queued == 0 and c.failed == 0 and c.deferred == 0

    @property
    def summary(self) -> str:
        run = self.this_run
        c = self.counts
        line = (
            f"send {self.date} via {self.transport}: {run['sent']} sent, {run['failed']} failed, "
            f"{run['deferred']} deferred, {run['skipped']} skipped in {self.seconds:.1f}s; "
            f"in all {c.sent} of {c.total} sent, {c.failed} failed, {c.deferred} deferred, "
            f"{c.queued} queued, {c.skipped} skipped"
        )
        return line + (f" (stopped: {self.aborted})" if self.aborted else "")


@dataclass
class _Job:
    claim: Claim
    template: MessageTemplate
    envelope: Envelope
    message_id: str


def _released(claim: Claim) -> DeliveryOutcome:
    """A claim handed back unsent (the run is stopping): queued again, no attempt counted."""
    return DeliveryOutcome(claim.delivery_id, claim.subscriber.id, "queued", None, None, 0)


def recipient_for(sub: Subscriber, secret: str) -> Recipient:
    return Recipient(
        subscriber_id=sub.id,
        email=sub.email,
        name=sub.name,
        unsubscribe_token=make_token(secret, "unsubscribe", sub.id),
        preferences_token=make_token(secret, "preferences", sub.id),
    )


class _RateLimit:
    """At most `rate` starts per second across all workers (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        start = max(now, self.next)
        self.next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class Sender:
    """One process's share of a send: claims batches, sends them, records outcomes."""

    def __init__(
        self,
        store: Store,
        outgoing: Outgoing,
        digest: Digest,
        options: SendOptions,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.outgoing = outgoing
        self.config = config = outgoing.config
        self.digest = digest
        self.transport: Transport | None = None
        self.secret = outgoing.secret
        self.options = options
        self.progress = progress
        self.variants = outgoing.variants(digest)
        self.sender = outgoing.sender_for()  # envelope sender per subscriber
        self.limit = _RateLimit(options.rate)
        self.pending: list[DeliveryOutcome] = []
        self.counter: Counter[str] = Counter()
        self.failures_in_a_row = 0
        self.abort: str | None = None
        self.stopping = False
        # How long a claim stays this worker's without renewal: another worker takes over
        # the deliveries of one that died when it runs out.
        self.lease = dt.timedelta(seconds=config.lease_seconds)

    def prepare(self) -> int:
        """Create the send (once), put stale and deferred deliveries back in the queue, and
        queue every active subscriber who has no delivery yet. Returns the send's id."""
        store = self.store
        send_id = store.get_or_create_send(self.digest.date)
        # Claims of processes that died (here, or elsewhere past their lease) come back.
        store.requeue(send_id)
        store.enqueue(send_id)
        return send_id

    async def run(self) -> SendResult:
        """prepare() and work() in this process."""
        started = time.monotonic()
        send_id = await asyncio.to_thread(self.prepare)
        await self.work(send_id)
        return await asyncio.to_thread(self.result, send_id, started)

    def result(self, send_id: int, started: float) -> SendResult:
        counts = self.store.counts(send_id)
        if counts.queued == 0 and not self.abort:
            self.store.finish_send(send_id)
        return SendResult(
            self.digest.date,
            self.options.transport_name,
            self.counter,
            counts,
            time.monotonic() - started,
            self.variants.rendered,
            self.abort,
        )

    async def work(self, send_id: int) -> None:
        """Send queued deliveries until none is left (or the run must stop)."""
        self.transport = self.outgoing.transport(self.digest.date, self.options.concurrency)
        queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=self.options.batch * 2)
        workers = [asyncio.create_task(self._work(queue)) for _ in range(self.options.concurrency)]
        flusher = asyncio.create_task(self._flush_periodically(send_id))
        try:
            await self._produce(send_id, queue)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            self.stopping = True
            await flusher  # lets a write under way finish: never two at once
            await self._flush()
            await self.transport.close()

    async def _produce(self, send_id: int, queue: asyncio.Queue[_Job | None]) -> None:
        """Claim batches until the queue is empty and no other worker holds deliveries that
        could still come back to it (when that worker dies, after its lease)."""
        worker = self.options.worker
        try:
            while not self.abort:
                claims = await asyncio.to_thread(
                    self.store.claim, send_id, worker, self.options.batch, self.lease
                )
                if not claims:
                    if not await asyncio.to_thread(self.store.held_by_others, send_id, worker):
                        break
                    await asyncio.sleep(min(1.0, self.lease.total_seconds() / 4))
                    await asyncio.to_thread(self.store.requeue, send_id)
                    continue
                for claim in claims:
                    if self.abort:
                        self._done(_released(claim))
                        continue
                    job = self._job(claim)
                    if job is not None:
                        await queue.put(job)
        finally:
            for _ in range(self.options.concurrency):
                await queue.put(None)

    def _job(self, claim: Claim) -> _Job | None:
        """The job for a claim, or None after recording why it is skipped."""
        sub = claim.subscriber
        if sub.status != "active":
            self._done(
                DeliveryOutcome(
                    claim.delivery_id, sub.id, "skipped", f"subscriber is {sub.status}", None, 0
                )
            )
            return None
        template = self.variants.get(sub.sections)
        if template is None:
            self._done(
                DeliveryOutcome(
                    claim.delivery_id,
                    sub.id,
                    "skipped",
                    "none of the subscriber's sections is in this digest",
                    None,
                    0,
                )
            )
            return None
        mid = message_id(template.date, sub.id, template.list_key, template.domain)
        envelope = Envelope(self.sender(sub.id, template.date), sub.email, sub.id)
        return _Job(claim, template, envelope, mid)

    async def _work(self, queue: asyncio.Queue[_Job | None]) -> None:
        while (job := await queue.get()) is not None:
            if self.abort:
                self._done(_released(job.claim))
                continue
            self._done(await self._attempt(job))

    async def _attempt(self, job: _Job) -> DeliveryOutcome:
        sub = job.claim.subscriber
        data = self.outgoing.sign(job.template.build(recipient_for(sub, self.secret)))
        attempts = 0
        while True:
            attempts += 1
            await self.limit.wait()
            assert self.transport is not None
            try:
                reply = await self.transport.deliver(job.envelope, data)
            except TransportError as exc:
                # Not this message's fault (say, our login was refused): stop, keep it queued.
                self.abort = str(exc)
                return _released(job.claim)
            except DeliveryFailure as failure:
                if not failure.permanent:
                    self.failures_in_a_row += 1
                    if self.failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                        self.abort = f"{self.failures_in_a_row} failures in a row: {failure.reply}"
                if failure.permanent:
                    state = "failed"
                elif attempts < self.config.max_attempts and not self.abort:
                    await asyncio.sleep(self.config.retry_backoff * 2 ** (attempts - 1))
                    continue
                else:
                    state = "deferred"
                return DeliveryOutcome(
                    job.claim.delivery_id, sub.id, state, failure.reply, job.message_id, attempts
                )
            self.failures_in_a_row = 0
            return DeliveryOutcome(
                job.claim.delivery_id, sub.id, "sent", reply, job.message_id, attempts
            )

    def _done(self, outcome: DeliveryOutcome) -> None:
        self.pending.append(outcome)
        if outcome.state != "queued":
            self.counter[outcome.state] += 1
        if self.progress:
            self.progress(1)

    async def _flush_periodically(self, send_id: int) -> None:
        """Write outcomes often; renew this worker's leases well before they run out."""
        renewed = time.monotonic()
        while not self.stopping:
            await asyncio.sleep(FLUSH_EVERY)
            await self._flush()
            if time.monotonic() - renewed > self.lease.total_seconds() / 3:
                renewed = time.monotonic()
                await asyncio.to_thread(
                    self.store.renew_lease, send_id, self.options.worker, self.lease
                )

    async def _flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        await asyncio.to_thread(
            self.store.record, batch, self.config.bounce_limit, self.options.worker
        )


__all__ = ["SendOptions", "SendResult", "Sender", "recipient_for"]
