"""The cron job, `digest run`: fetch the sources, ingest the inbox, compose the day, send.

Apart from `jobs/sending.py` because it needs the whole ingest stack (the parser, lxml, the
feed readers), which `digest send` alone must not wait for (issue #16).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..config import Config
from ..deliver import loop
from ..deliver.outgoing import Outgoing
from ..deliver.send import SendResult
from ..errors import ApprovalError, ComposeError, ConfigError, DigestError
from ..lock import run_lock
from ..store import Store
from . import approval, digests, fetch, ingest, notices, webhooks
from .ingest import IngestReport
from .sending import SendRequest, send_locked

# Seconds `digest run` spends telling webhooks at its end, at most.
WEBHOOK_BUDGET = 60.0


@dataclass
class RunResult:
    ingest: IngestReport
    composed: bool
    send: SendResult | None  # None: the day is not approved, and nothing was sent
    approval: str  # the day's state when the send would start
    date: str
    notice: notices.Notice = field(default_factory=notices.Notice)  # editors told it waits
    fetched: fetch.FetchReport | None = None  # None: no sources are configured
    webhooks: webhooks.DispatchReport | None = None  # None: no webhooks are configured

    @property
    def send_line(self) -> str:
        if self.send is None:
            return approval.waiting(self.date, self.approval)
        return self.send.summary

    @property
    def complete(self) -> bool:
        """Nothing left that this job should have done: a day that waits for approval, or
        was held while it was sent, is for a later run."""
        return self.send is None or self.send.complete or self.send.held


def run(
    store: Store,
    config: Config,
    date: str,
    transport: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """The cron job: fetch the configured sources, ingest new documents from the inbox,
    compose the day if needed, send.

    Safe to run again: files already ingested are not read twice, an existing digest is kept,
    and only deliveries not yet sent go out. A day that is not approved (held, or pending
    when approval is required) is composed and left for a later run; a pending one is mailed
    to the editors (`editor_emails`), once. An inbox folder that is
    not there is an error, not an empty inbox: a mistyped or unmounted folder must not pass
    for a quiet day.
    Last, webhooks are told of what happened (`webhooks`, when any are configured): for up to
    WEBHOOK_BUDGET seconds; what is left waits for the next run or `digest serve`.
    """
    result = _run(store, config, date, transport, progress)
    if config.webhooks:
        until = time.monotonic() + WEBHOOK_BUDGET
        try:
            result.webhooks = loop.run(webhooks.dispatch(store, config, until))
        except DigestError as exc:  # the events stay in the database for the next run
            result.webhooks = webhooks.DispatchReport(errors={"webhooks": str(exc)})
    return result


def _run(
    store: Store,
    config: Config,
    date: str,
    transport: str | None,
    progress: Callable[[int], None] | None,
) -> RunResult:
    if not config.inbox.is_dir():
        what = "is not a folder" if config.inbox.exists() else "does not exist"
        raise ConfigError(
            f"inbox: {config.inbox} {what}; create it, or set inbox (DIGEST_INBOX) to the "
            "folder where story documents arrive"
        )
    outgoing = Outgoing(config, transport)
    outgoing.sender_for()  # settings checked before the lock is taken or anything is sent
    with run_lock(config.lock_file):
        fetched = _fetch(store, config)
        report = ingest.ingest(
            store,
            [config.inbox],
            max_bytes=config.max_document_bytes,
            zone=ZoneInfo(config.time_zone),
        )
        composed = False
        if not store.has_digest(date):
            try:
                digests.compose_day(store, config, date)
                composed = True
            except ComposeError:
                if not store.has_digest(date):
                    raise
                # Another machine composed the day and began its send meanwhile: join it.
        day_state = approval.state(store, config, date)
        if day_state != "approved":
            pending = day_state == "pending"  # a held day waits for no one
            notice = notices.tell_editors(store, outgoing, date) if pending else notices.Notice()
            return RunResult(report, composed, None, day_state, date, notice, fetched)
        request = SendRequest(date=date, transport=outgoing.transport_name)
        try:
            result = send_locked(store, outgoing, request, progress, None)
        except ApprovalError:  # an edit withdrew the approval a moment ago: a later run
            day_state = approval.state(store, config, date)
            return RunResult(report, composed, None, day_state, date, fetched=fetched)
    return RunResult(report, composed, result, day_state, date, fetched=fetched)


def _fetch(store: Store, config: Config) -> fetch.FetchReport | None:
    """The sources fetched for the run (None: there are none); a failure of the whole fetch
    is reported as one, and the run goes on with what the inbox and the database hold."""
    if not config.sources:
        return None
    try:
        return fetch.fetch_sources(store, config)
    except DigestError as exc:
        report = fetch.FetchReport(sources=len(config.sources))
        report.failed.append(("sources", str(exc)))
        return report


__all__ = ["RunResult", "run"]
