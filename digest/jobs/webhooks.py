"""Webhooks: post the events in the outbox to the configured endpoints ([[webhooks]]).

The store writes each event in the transaction of the change it reports (BaseStore.emit); here
they are spread to the endpoints that want them and posted, one event a request:

    POST <url>
    Content-Type: application/json
    X-Digest-Event-Id: evt_...            (the same on every try: receivers de-duplicate by it)
    X-Digest-Event-Type: subscriber.created
    X-Digest-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 with the secret of "<t>.<body>">

    {"id": "evt_...", "type": "subscriber.created", "created_at": "...", "data": {...}}

Any 2xx answer delivers it. Anything else, or no answer within TIMEOUT, is tried again after a
wait that doubles from RETRY_FIRST up to RETRY_MAX, until `webhook_give_up_hours` after the
event; then it is marked failed (`digest webhooks list` shows it). A dispatcher leases what it
posts, so `digest serve` and `digest run` (or two machines) never post the same one at once;
one killed mid-post leaves it to be posted again once the lease ends (the id says it is the
same event).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field

import httpx

from ..config import Config, WebhookRule
from ..store import Store
from ..store.webhooks import Backlog, Due

TIMEOUT = 10.0  # seconds for one POST, connecting included
RETRY_FIRST = 30.0
RETRY_MAX = 3600.0
BATCH = 20  # deliveries claimed at a time (an endpoint's share is posted one after another)
# Long enough for a whole batch to one endpoint that answers each just within TIMEOUT: another
# dispatcher must never take over what this one is still posting.
LEASE = dt.timedelta(seconds=TIMEOUT * BATCH + 30)
USER_AGENT = "digest-webhooks/1"
# Events taken (or failed for good) are forgotten this long after they were made: the
# outbox is not an archive, and what it holds about subscribers should not outlive its use.
KEEP = dt.timedelta(days=30)

log = logging.getLogger("digest.webhooks")


def endpoint_key(url: str) -> str:
    """How the database names an endpoint: the URL itself may carry a credential."""
    return hashlib.sha256(url.encode()).hexdigest()


def signature(secret: str, stamp: int, body: bytes) -> str:
    """The X-Digest-Signature value: t=<stamp>,v1=<hex HMAC-SHA256 of "<stamp>.<body>">."""
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def body_of(due: Due) -> bytes:
    event = {
        "id": due.uid,
        "type": due.kind,
        "created_at": due.created_at.isoformat(),
        "data": due.data,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def retry_at(due: Due, config: Config, now: dt.datetime) -> dt.datetime | None:
    """When to try again after a failure; None once the event is too old: failed for good."""
    if now - due.created_at >= dt.timedelta(hours=config.webhook_give_up_hours):
        return None
    wait = min(RETRY_MAX, RETRY_FIRST * 2**due.attempts)
    return now + dt.timedelta(seconds=wait)


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # endpoint (redacted) -> last error

    @property
    def summary(self) -> str:
        return f"{self.sent} sent, {self.retrying} to try again, {self.failed} failed"


async def post(client: httpx.AsyncClient, rule: WebhookRule, due: Due) -> str | None:
    """Post one event; None when it was taken, else why not (never the secret or the URL)."""
    body = body_of(due)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Digest-Event-Id": due.uid,
        "X-Digest-Event-Type": due.kind,
        "X-Digest-Signature": signature(rule.secret, int(time.time()), body),
    }
    try:
        answer = await client.post(rule.url, content=body, headers=headers)
    except httpx.TimeoutException:
        return f"no answer within {TIMEOUT:g} s"
    except Exception as exc:  # refused, reset, a URL httpx cannot use: the kind, never the URL
        return f"cannot post: {type(exc).__name__}"
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"


async def dispatch(store: Store, config: Config, until: float | None = None) -> DispatchReport:
    """Post every event that is due, until none is (or `until`, a time.monotonic() value)."""
    report = DispatchReport()
    rules = {endpoint_key(w.url): w for w in config.webhooks}
    if not rules:
        return report
    wants = {key: frozenset(w.events) for key, w in rules.items()}
    await asyncio.to_thread(store.spread_events, wants)
    await asyncio.to_thread(store.prune_webhooks, dt.datetime.now(dt.UTC) - KEEP)
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        while until is None or time.monotonic() < until:
            due = await asyncio.to_thread(store.claim_webhooks, list(rules), BATCH, LEASE)
            if not due:
                break
            by_endpoint: dict[str, list[Due]] = {}
            for d in due:
                by_endpoint.setdefault(d.endpoint, []).append(d)
            await asyncio.gather(
                *(
                    _post_in_order(store, config, client, rules[key], events, report)
                    for key, events in by_endpoint.items()
                )
            )
    return report


async def _post_in_order(
    store: Store,
    config: Config,
    client: httpx.AsyncClient,
    rule: WebhookRule,
    events: list[Due],
    report: DispatchReport,
) -> None:
    """One endpoint's share of a batch, oldest first; once one is not taken the rest are
    not tried now (an endpoint that is down would make each wait for the timeout): they
    wait, their tries uncounted, until the failed one's next try."""
    failed_until: dt.datetime | None = None
    for d in events:
        if failed_until is not None:
            await asyncio.to_thread(store.webhook_later, d, failed_until)
            report.retrying += 1
            continue
        error = await post(client, rule, d)
        now = dt.datetime.now(dt.UTC)
        again = retry_at(d, config, now) if error else None
        await asyncio.to_thread(store.webhook_result, d, error, again)
        if error is None:
            report.sent += 1
            continue
        failed_until = again or now + dt.timedelta(seconds=RETRY_FIRST)
        if again is not None:
            report.retrying += 1
        else:
            report.failed += 1
        report.errors[redacted(rule.url)] = error


async def keep_dispatching(store: Store, config: Config, every: float) -> None:
    """`digest serve`'s background task: a dispatch every `every` seconds, for ever. A pass
    that fails (the database away a moment) is tried again at the next one."""
    while True:
        try:
            report = await dispatch(store, config)
            if report.sent or report.retrying or report.failed:
                log.info("webhooks: %s", report.summary)
        except Exception as exc:  # the next pass tries again; nothing is lost meanwhile
            log.warning("webhooks: %s", type(exc).__name__)
        await asyncio.sleep(every)


def redacted(url: str) -> str:
    """The URL without what may be a credential: user info and query."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
    except Exception:  # a URL httpx cannot read: posting to it fails too, and says so
        return "(an address that cannot be read)"


@dataclass(frozen=True)
class Endpoint:
    url: str  # redacted
    events: tuple[str, ...]
    backlog: Backlog


def endpoints(store: Store, config: Config) -> list[Endpoint]:
    """Each configured endpoint with its backlog, in config order."""
    store.spread_events({endpoint_key(w.url): frozenset(w.events) for w in config.webhooks})
    backlogs = store.webhook_backlogs()
    return [
        Endpoint(redacted(w.url), w.events, backlogs.get(endpoint_key(w.url), Backlog()))
        for w in config.webhooks
    ]


__all__ = [
    "DispatchReport",
    "Endpoint",
    "dispatch",
    "endpoint_key",
    "endpoints",
    "keep_dispatching",
    "redacted",
    "signature",
]
