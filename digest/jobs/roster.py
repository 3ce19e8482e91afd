"""The editor's subscriber desk: find subscribers, read one's record and delivery history, and
unsubscribe, resubscribe (only through a new confirmation) or remove them.

Resubscribing never makes anyone active at an editor's word: the subscriber becomes `pending`
(no digest goes to a pending address) and is mailed a new confirmation link, the one the
signup form sends; the existing confirm page makes them `active` when they press its button.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..config import Config
from ..deliver.outgoing import Outgoing
from ..errors import NotFoundError, SubscriberError
from ..model import Subscriber
from ..store import Store
from ..store.bounces import COMPLAINT_MARK, HARD_MARK, SOFT_MARK
from ..store.directory import DeliveryEntry, SubscriberPage
from ..subscribers import SUBSCRIBER_STATES
from ..tokens import make_token
from . import accounts
from . import subscribers as signup
from .mail import CONFIRM_TTL, confirmation_message, deliver_one

PAGE_SIZE = 50  # subscribers a page of the index
HISTORY = 100  # deliveries shown on a subscriber's page, the newest
SEARCH_MAX = 320  # characters of a search: the longest address there can be
# States an editor can stop sending to; `bounced` is left alone (it is not sent to either,
# and the reason is worth keeping).
UNSUBSCRIBABLE = ("active", "paused", "pending")
# States a new confirmation can bring back from (a pending one gets its link again).
RESUBSCRIBABLE = ("unsubscribed", "bounced", "paused", "pending")

# What a bounce or complaint recorded on a delivery looks like on the page.
EVENTS = (
    (SOFT_MARK, "soft bounce"),
    (HARD_MARK, "hard bounce"),
    (COMPLAINT_MARK, "complaint"),
)


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]  # every state, zeros included
    by_section: dict[str, int]  # active subscribers receiving each section
    total: int


@dataclass(frozen=True)
class HistoryEntry:
    """One delivery as the desk shows it: what came back, apart from the server's words."""

    date: str
    state: str
    attempts: int
    event: str | None  # "hard bounce", "soft bounce", "complaint", or None
    reply: str | None  # the reply without the event's prefix
    message_id: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class Record:
    subscriber: Subscriber
    added: dt.datetime | None
    changed: dt.datetime | None
    history: list[HistoryEntry]
    complete: bool  # False: only the newest HISTORY deliveries are in `history`
    events: dict[str, int]  # hard bounces, soft bounces and complaints in `history`


def counts(store: Store, config: Config) -> Counts:
    by_status, by_section = store.subscriber_counts(config.section_names)
    every = {state: by_status.get(state, 0) for state in SUBSCRIBER_STATES}
    every.update(by_status)  # a state outside the known ones still shows
    return Counts(every, by_section, sum(by_status.values()))


def search(
    store: Store,
    *,
    text: str = "",
    status: str | None = None,
    section: str | None = None,
    after: int = 0,
    limit: int = PAGE_SIZE,
) -> SubscriberPage:
    """A page of subscribers whose address or name contains `text` (any case; % and _ are
    plain characters), in a state and receiving a section when given."""
    return store.subscriber_page(
        status=status or None,
        section=section or None,
        search=text.strip()[:SEARCH_MAX] or None,
        after=max(after, 0),
        limit=limit,
    )


def get(store: Store, subscriber_id: int) -> Subscriber:
    sub = store.get_subscriber(subscriber_id)
    if sub is None:
        raise NotFoundError(f"no subscriber {subscriber_id}: removed, or never there")
    return sub


def _event(reply: str | None) -> tuple[str | None, str | None]:
    for mark, event in EVENTS:
        if reply is not None and reply.startswith(mark):
            return event, reply[len(mark) :]
    return None, reply


def _history(entry: DeliveryEntry) -> HistoryEntry:
    event, reply = _event(entry.reply)
    return HistoryEntry(
        entry.date,
        entry.state,
        entry.attempts,
        event,
        reply,
        entry.message_id,
        entry.updated_at,
    )


def record(store: Store, subscriber_id: int) -> Record:
    """A subscriber's record: state, sections, times, and deliveries newest first."""
    sub = get(store, subscriber_id)
    times = store.subscriber_times(subscriber_id)
    entries = store.subscriber_deliveries(subscriber_id, limit=HISTORY + 1)
    history = [_history(e) for e in entries[:HISTORY]]
    events = {name: 0 for _, name in EVENTS}
    for h in history:
        if h.event is not None:
            events[h.event] += 1
    added, changed = times if times is not None else (None, None)
    return Record(sub, added, changed, history, len(entries) <= HISTORY, events)


def unsubscribe(store: Store, subscriber_id: int) -> bool:
    """Stop sending (the record stays, so no import brings the address back); False when
    there was nothing to stop (unsubscribed or bounced already)."""
    sub = get(store, subscriber_id)
    if sub.status not in UNSUBSCRIBABLE:
        return False
    signup.unsubscribe(store, sub)
    return True


def resubscribe(
    store: Store, config: Config, secret: str, subscriber_id: int, base_url: str
) -> bool:
    """Mail a new confirmation link and make the subscriber `pending` until it is pressed.

    False, with nothing changed or sent, when their mailbox had its share of confirmation
    emails this window (the signup form's limit, which this counts against too);
    SubscriberError when they are active already. When the email cannot be sent
    (DeliveryFailure, TransportError, ConfigError) they are put back as they were."""
    sub = get(store, subscriber_id)
    if sub.status not in RESUBSCRIBABLE:
        raise SubscriberError(f"{sub.email} is {sub.status}: there is nothing to confirm")
    limit = signup.CONFIRMATIONS_PER_MAILBOX if config.subscribe_rate_limit else 0
    mailbox = signup.mailbox_of(sub.email)
    if not accounts.allow(store, "confirm-mailbox", mailbox, limit, config.subscribe_rate_window):
        return False
    before = sub.status
    # Pending first, so the link works the moment it arrives.
    store.set_status(sub.id, "pending")
    try:
        token = make_token(secret, "confirm", sub.id, ttl=CONFIRM_TTL)
        message = confirmation_message(config, sub.email, sub.name, f"{base_url}/confirm/{token}")
        outgoing = Outgoing(config)
        deliver_one(outgoing, "confirmations", sub.email, outgoing.sign(message))
    except BaseException:
        now = store.get_subscriber(sub.id)
        if now is not None and now.status == "pending":
            store.set_status(sub.id, before, event=False)
        raise
    return True


def remove(store: Store, subscriber_id: int) -> Subscriber:
    """Forget a subscriber and their delivery records; this cannot be undone."""
    sub = get(store, subscriber_id)
    store.remove_subscriber(sub.id)
    return sub


__all__ = [
    "HISTORY",
    "PAGE_SIZE",
    "RESUBSCRIBABLE",
    "UNSUBSCRIBABLE",
    "Counts",
    "HistoryEntry",
    "Record",
    "counts",
    "get",
    "record",
    "remove",
    "resubscribe",
    "search",
    "unsubscribe",
]
