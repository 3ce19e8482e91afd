"""Deliver one day's digest to every active subscriber, resumably.

A producer claims batches of queued deliveries from the database, workers push each message
through the transport (retrying transient failures with backoff), and outcomes are written
back in small, frequent batches. State lives only in the database: a run that dies is simply
run again, and repeats only what was accepted but not yet written (with the same Message-ID).

The producer, the workers and the writer live and die together (one task group), so the
process can never wait on tasks that are gone. Whatever goes wrong with one message is
recorded against that delivery and the others go on; what goes wrong with the run (a refused
login, a full outbox disk, the database gone, SIGTERM, an editor holding the day) stops it: no
new message starts, those in flight finish or are handed back, every outcome is written and the
claims are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..addresses import ascii_address
from ..model import Digest, Subscriber
from ..store import Store
from ..store.delivery import Claim, DeliveryOutcome
from ..tokens import make_token
from .journal import Journal, folder_for, orphans
from .message import MessageTemplate, Recipient, message_id
from .options import HELD, NOT_APPROVED, RateLimit, SendOptions, SendResult
from .outgoing import Outgoing
from .transport import PER_CONNECTION, DeliveryFailure, Envelope, Transport, TransportError

# Outcomes go to the journal at once (journal.py) and to the database in batches: every
# FLUSH_EVERY seconds, or at once when FLUSH_BATCH have gathered. A crash (kill -9) repeats
# only the messages in flight, each with the same Message-ID; a database that goes away is
# noticed at the next write, and no message starts after that.
FLUSH_EVERY = 0.1
FLUSH_BATCH = 256
# No new message starts while this many outcomes wait to be written (the database is slow
# or hangs): what a run sends must stay within reach of being recorded.
MAX_UNWRITTEN = 1024
# After this many connection failures in a row with no success, the server is down: stop.
# Replies about one recipient (a 4xx greylisting, a 5xx) never count toward it.
MAX_CONSECUTIVE_FAILURES = 20
# After SIGTERM/SIGINT, messages in flight get this long to finish before they are abandoned.
STOP_GRACE = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A process with nothing left to claim while others still hold deliveries looks again this
# often: to take over from one that died (once its lease runs out), and to end soon after the
# last one finishes. The others usually finish within a round trip or two, so for the first
# IDLE_QUICK seconds it looks every IDLE_POLL_QUICK (with a second here, every send of a few
# messages took a second longer; with 0.1, every send ended 0.1 s after its last message).
IDLE_POLL = 0.1
IDLE_POLL_QUICK = 0.02
IDLE_QUICK = 1.0
# The day's approval is read from the database before each batch is claimed, and this often
# in between: a hold (from any machine) stops every sending process within about this long.
APPROVAL_EVERY = 0.2


@dataclass
class _Job:
    claim: Claim
    template: MessageTemplate
    envelope: Envelope
    message_id: str


def _released(claim: Claim) -> DeliveryOutcome:
    """A claim handed back unsent (the run is stopping): queued again, no attempt counted."""
    return DeliveryOutcome(claim.delivery_id, claim.subscriber.id, "queued", None, None, 0)


def _outcome(job: _Job, state: str, reply: str, attempts: int) -> DeliveryOutcome:
    sub = job.claim.subscriber
    return DeliveryOutcome(
        job.claim.delivery_id, sub.id, state, reply, job.message_id, attempts, sub.hard_bounces > 0
    )


def recipient_for(sub: Subscriber, secret: str) -> Recipient:
    return Recipient(
        subscriber_id=sub.id,
        email=ascii_address(sub.email),
        name=sub.name,
        unsubscribe_token=make_token(secret, "unsubscribe", sub.id),
        preferences_token=make_token(secret, "preferences", sub.id),
    )


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
        self.workers = options.concurrency * PER_CONNECTION  # tasks, not processes
        self.progress = progress
        self.variants = outgoing.variants(digest)
        self.sender = outgoing.sender_for()  # envelope sender per subscriber
        self.limit = RateLimit(options.rate)
        self.pending: list[DeliveryOutcome] = []
        self.in_hand = 0  # jobs queued for the workers or being sent
        self.drained = False  # the last claim found nothing: write outcomes as they come
        self.writing = 0  # outcomes in the write under way
        self.journal: Journal | None = None  # every outcome, the moment it is known
        self.counter: Counter[str] = Counter()
        self.failures_in_a_row = 0
        self.abort: str | None = None
        self.stopped_at: float | None = None  # when a stop signal came
        self.stopping = False
        self.approval_read = 0.0  # when the day's approval was last read
        self._wake = asyncio.Event()  # the writer: a batch is ready, or the run is ending
        self._room = asyncio.Event()  # the workers: unwritten outcomes fell below the limit
        # (made again in work(): an event belongs to the event loop that first waits on it)
        # How long a claim stays this worker's without renewal: another worker takes over
        # the deliveries of one that died when it runs out.
        self.lease = dt.timedelta(seconds=config.lease_seconds)

    def prepare(self) -> int:
        """Create the send (once), put stale and deferred deliveries back in the queue, and
        queue every active subscriber who has no delivery yet. Returns the send's id."""
        store = self.store
        send_id = store.get_or_create_send(self.digest.date)
        # Claims of processes that died (here, or elsewhere past their lease) come back,
        # after what their journals say they sent is recorded.
        self.requeue(send_id)
        store.enqueue(send_id, self.config.back_issues)
        return send_id

    def requeue(self, send_id: int) -> None:
        """Apply the journals of this machine's dead sending processes, then put the claims
        that are still dead back in the queue."""
        tag = f"{self.options.worker} journal"
        for path, dead, outcomes in orphans(folder_for(self.config.lock_file)):
            done = [o for o in outcomes if o.state != "queued"]
            if done:
                self.store.adopt([o.delivery_id for o in done], dead, tag)
                self.store.record(done, self.config.bounce_limit, tag)
            path.unlink(missing_ok=True)
        self.store.requeue(send_id)

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

    # ---- stopping ---------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Start no new message from now on; the run ends once those in flight are done."""
        if self.abort is None:
            self.abort = reason

    async def _still_approved(self) -> bool:
        """Read the day's approval; when it is no longer approved (an editor held it), stop
        as for a signal, but let the messages in flight finish however long they take."""
        self.approval_read = time.monotonic()
        state = await asyncio.to_thread(
            self.store.approval, self.digest.date, self.config.approval_required
        )
        if state == "approved":
            return True
        self.stop(HELD if state == "held" else NOT_APPROVED)
        return False

    def on_signal(self, signum: int) -> None:
        self.stop(f"stopped by {signal.Signals(signum).name}")
        if self.stopped_at is not None:  # a second signal: abandon what is in flight now
            self.stopped_at -= STOP_GRACE
        else:
            self.stopped_at = time.monotonic()

    def _catch_signals(self) -> list[int]:
        """SIGTERM and SIGINT stop the run cleanly (where this is the main thread)."""
        loop = asyncio.get_running_loop()
        caught: list[int] = []
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, self.on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread: the caller handles signals
            caught.append(sig)
        return caught

    # ---- the run ----------------------------------------------------------------------------

    async def work(self, send_id: int) -> None:
        """Send queued deliveries until none is left, or the run must stop."""
        self.transport = self.outgoing.transport(self.digest.date, self.options.concurrency)
        self._wake, self._room = asyncio.Event(), asyncio.Event()
        self.journal = Journal(folder_for(self.config.lock_file), self.options.worker)
        queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=self.options.batch * 2)
        caught = self._catch_signals()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._write_periodically(send_id))
                workers = [tasks.create_task(self._work(queue)) for _ in range(self.workers)]
                try:
                    await self._produce(send_id, queue)
                    await self._finish(workers)
                finally:
                    self.stopping = True
                    self._wake.set()
        finally:
            loop = asyncio.get_running_loop()
            for sig in caught:
                loop.remove_signal_handler(sig)
            self.stopping = True
            # What the writer had not written yet, while the connections say goodbye.
            await asyncio.gather(self._write(), self.transport.close())
            if self.journal is not None:  # kept when something could not be written
                self.journal.close(remove=not self.pending)
                self.journal = None

    async def _finish(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers; after a stop signal, abandon what is still in flight once
        STOP_GRACE has passed (its claims go back to the queue)."""
        waiting = set(workers)
        while waiting:
            _, waiting = await asyncio.wait(waiting, timeout=0.1)
            stopped = self.stopped_at
            if waiting and stopped is not None and time.monotonic() - stopped >= STOP_GRACE:
                for task in waiting:
                    task.cancel()
                await asyncio.wait(waiting)
                return

    async def _produce(self, send_id: int, queue: asyncio.Queue[_Job | None]) -> None:
        """Claim batches until the queue is empty and no other worker holds deliveries that
        could still come back to it (when that worker dies, after its lease)."""
        worker = self.options.worker
        idle_since: float | None = None
        try:
            while not self.abort:
                try:
                    if not await self._still_approved():
                        break
                    claims = await asyncio.to_thread(
                        self.store.claim, send_id, worker, self.options.batch, self.lease
                    )
                    self.drained = not claims
                    if not claims:
                        # Others wait for what this process holds: write it as soon as it is
                        # done (_work), not at the next FLUSH_EVERY.
                        if self.in_hand == 0:
                            self._wake.set()
                        if not await asyncio.to_thread(self.store.held_by_others, send_id, worker):
                            break
                        idle_since = idle_since or time.monotonic()
                        quick = time.monotonic() - idle_since < IDLE_QUICK
                        poll = IDLE_POLL_QUICK if quick else IDLE_POLL
                        await asyncio.sleep(min(poll, self.lease.total_seconds() / 4))
                        await asyncio.to_thread(self.requeue, send_id)
                        continue
                    idle_since = None
                except Exception as exc:  # the database is gone: stop, nothing was claimed
                    self.stop(f"cannot claim deliveries: {exc}")
                    break
                for claim in claims:
                    if self.abort:
                        self._done(_released(claim))
                        continue
                    try:
                        job = self._job(claim)
                    except Exception as exc:  # a fault of ours with this one: record it, go on
                        reason = f"error: {type(exc).__name__}: {exc}"
                        sub_id = claim.subscriber.id
                        self._done(
                            DeliveryOutcome(claim.delivery_id, sub_id, "deferred", reason, None, 0)
                        )
                        continue
                    if job is not None:
                        self.in_hand += 1
                        await queue.put(job)
        finally:
            for _ in range(self.workers):
                await queue.put(None)

    def _job(self, claim: Claim) -> _Job | None:
        """The job for a claim, or None after recording why it is skipped or failed."""
        sub = claim.subscriber
        if sub.status != "active":
            self._skip(claim, f"subscriber is {sub.status}")
            return None
        template = self.variants.get(sub.sections)
        if template is None:
            self._skip(claim, "none of the subscriber's sections is in this digest")
            return None
        mid = message_id(template.date, sub.id, template.list_key, template.domain)
        try:
            envelope = Envelope(
                self.sender(sub.id, template.date), ascii_address(sub.email), sub.id
            )
        except ValueError as exc:  # an address no server can be asked to deliver to
            self._done(DeliveryOutcome(claim.delivery_id, sub.id, "failed", str(exc), mid, 0))
            return None
        return _Job(claim, template, envelope, mid)

    def _skip(self, claim: Claim, why: str) -> None:
        self._done(DeliveryOutcome(claim.delivery_id, claim.subscriber.id, "skipped", why, None, 0))

    async def _work(self, queue: asyncio.Queue[_Job | None]) -> None:
        while (job := await queue.get()) is not None:
            while not self.abort and self._backlogged():
                self._room.clear()
                self._wake.set()
                await self._room.wait()
            if self.abort:
                self._done(_released(job.claim))
                self._finished_one()
                continue
            try:
                outcome = await self._attempt(job)
            except asyncio.CancelledError:
                self._done(_released(job.claim))  # abandoned at a stop: back to the queue
                raise
            except Exception as exc:  # a fault of ours with this one message: record it, go on
                outcome = _outcome(job, "deferred", f"error: {type(exc).__name__}: {exc}", 1)
            self._done(outcome)
            self._finished_one()

    def _finished_one(self) -> None:
        self.in_hand -= 1
        if self.in_hand == 0 and self.drained:  # the last of it: others may be waiting
            self._wake.set()

    async def _attempt(self, job: _Job) -> DeliveryOutcome:
        data = self.outgoing.sign(
            job.template.build(recipient_for(job.claim.subscriber, self.secret))
        )
        attempts = 0
        while True:
            attempts += 1
            await self.limit.wait()
            if self.abort and attempts == 1:  # stopped while it waited its turn: not started
                return _released(job.claim)
            assert self.transport is not None
            try:
                reply = await self.transport.deliver(job.envelope, data)
            except TransportError as exc:
                # Not this message's fault (our login refused, the outbox disk full): stop,
                # and keep it queued.
                self.stop(str(exc))
                return _released(job.claim)
            except DeliveryFailure as failure:
                if failure.connection:
                    self.failures_in_a_row += 1
                    if self.failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                        self.stop(f"{self.failures_in_a_row} failures in a row: {failure.reply}")
                if failure.permanent:
                    return _outcome(job, "failed", failure.reply, attempts)
                if attempts < self.config.max_attempts and not self.abort:
                    await asyncio.sleep(self.config.retry_backoff * 2 ** (attempts - 1))
                    continue
                return _outcome(job, "deferred", failure.reply, attempts)
            self.failures_in_a_row = 0
            return _outcome(job, "sent", reply, attempts)

    def _done(self, outcome: DeliveryOutcome) -> None:
        self.pending.append(outcome)
        if outcome.state != "queued":
            self.counter[outcome.state] += 1
            if self.journal is not None:
                try:
                    self.journal.add(outcome)
                except OSError:  # no room for it: the database alone will have to do
                    self.journal.close(remove=False)
                    self.journal = None
        if len(self.pending) >= FLUSH_BATCH:
            self._wake.set()
        if self.progress:
            self.progress(1)

    def _backlogged(self) -> bool:
        """Too much is accepted but not yet written to start another message."""
        return len(self.pending) + self.writing >= MAX_UNWRITTEN

    # ---- writing outcomes -------------------------------------------------------------------

    async def _write_periodically(self, send_id: int) -> None:
        """Write outcomes often; renew this worker's leases well before they run out."""
        renewed = time.monotonic()
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY)
            self._wake.clear()
            await self._write()
            if not self.abort and time.monotonic() - self.approval_read >= APPROVAL_EVERY:
                # A failed read is no reason to stop: the next write or claim tells.
                with contextlib.suppress(Exception):
                    await self._still_approved()
            if time.monotonic() - renewed > self.lease.total_seconds() / 3:
                renewed = time.monotonic()
                try:
                    await asyncio.to_thread(
                        self.store.renew_lease, send_id, self.options.worker, self.lease
                    )
                except Exception as exc:
                    self.stop(f"cannot renew the claims: {exc}")

    async def _write(self) -> None:
        """Write what is pending. A failed write stops the run at once (no new message
        starts); the outcomes stay pending, for one more try when the run ends."""
        if not self.pending or self.writing:
            return
        batch, self.pending = self.pending, []
        self.writing = len(batch)
        try:
            await asyncio.to_thread(
                self.store.record, batch, self.config.bounce_limit, self.options.worker
            )
        except Exception as exc:
            self.pending = batch + self.pending
            self.stop(f"cannot write outcomes to the database: {exc}")
        finally:
            self.writing = 0
            self._room.set()


__all__ = ["SendOptions", "SendResult", "Sender", "recipient_for"]
