"""What a send is asked to do and what it did: its options, its result and summary line,
and the pace it keeps."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from ..store.delivery import SendCounts


@dataclass(frozen=True)
class SendOptions:
    concurrency: int
    rate: float = 0.0
    batch: int = 200
    transport_name: str = "smtp"  # for the summary; the transport is made in each process
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


# Why a send stopped when its day stopped being approved (the `aborted` of its result).
HELD = "held"
NOT_APPROVED = "not approved"


def _thousands(n: int) -> str:
    return f"{n:,}"


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
    def held(self) -> bool:
        """Stopped because the day was held (or its approval withdrawn) while it was sent."""
        return self.aborted in (HELD, NOT_APPROVED)

    @property
    def summary(self) -> str:
        if self.held:
            what = "held" if self.aborted == HELD else "no longer approved"
            return (
                f"send: {self.date} {what} after {_thousands(self.counts.sent)} sent; "
                f"digest approve --date {self.date} resumes it"
            )
        run = self.this_run
        c = self.counts
        line = (
            f"send {self.date} via {self.transport}: {run['sent']} sent, {run['failed']} failed, "
            f"{run['deferred']} deferred, {run['skipped']} skipped in {self.seconds:.1f}s; "
            f"in all {c.sent} of {c.total} sent, {c.failed} failed, {c.deferred} deferred, "
            f"{c.queued} queued, {c.skipped} skipped"
        )
        return line + (f" (stopped: {self.aborted})" if self.aborted else "")


class RateLimit:
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


__all__ = ["HELD", "NOT_APPROVED", "RateLimit", "SendOptions", "SendResult"]
