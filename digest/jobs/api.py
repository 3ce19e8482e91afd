"""What the JSON API does beyond the other use cases: find a subscriber by id or address, add
one (confirmed at once, or pending with the confirmation email), change their name and
sections, export their data, and page through subscribers and deliveries.

Values a client sends are checked field by field: FieldError names the field that was
refused, so the API can say which one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..config import Config
from ..errors import FieldError, NotFoundError, SubscriberError
from ..model import Subscriber
from ..store import Store
from ..store.delivery import DELIVERY_STATES
from ..store.digests import DigestInfo
from ..store.directory import DeliveryEntry, DeliveryPage, SubscriberPage
from ..subscribers import (
    SUBSCRIBER_STATES,
    NewSubscriber,
    clean_name,
    normalize_email,
    parse_sections,
    stored_choice,
)
from . import subscribers as signup
from .subscribers import request_subscription

T = TypeVar("T")


def checked(field: str, check: Callable[[], T]) -> T:
    """The value `check` returns; its SubscriberError as a FieldError naming `field`."""
    try:
        return check()
    except SubscriberError as exc:
        raise FieldError(field, str(exc)) from None


# ---- subscribers ----------------------------------------------------------------------------


def find_subscriber(store: Store, ref: str) -> Subscriber:
    """The subscriber `ref` names: their id, or their address (in any case); NotFoundError."""
    found: Subscriber | None = None
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        found = store.get_subscriber(int(ref))
    elif "@" in ref:
        try:
            found = store.find_subscriber(normalize_email(ref))
        except SubscriberError:
            found = None
    if found is None:
        raise NotFoundError(f"no subscriber {ref}")
    return found


def sections_of(config: Config, names: Sequence[str] | None) -> tuple[str, ...] | None:
    """Section names matched to the configured ones; none, or every one, is None (every
    section, those added later too, as the preferences page stores it)."""
    chosen = checked("sections", lambda: parse_sections(names, config.section_names))
    return stored_choice(chosen, config.section_names)


def new_subscriber(
    config: Config, email: str, name: str | None, sections: Sequence[str] | None
) -> NewSubscriber:
    return NewSubscriber(
        checked("email", lambda: normalize_email(email)),
        checked("name", lambda: clean_name(name)),
        sections_of(config, sections),
    )


@dataclass(frozen=True)
class Added:
    subscriber: Subscriber | None  # None: the mailbox had its share of confirmations
    created: bool  # False: the address was there already, and nothing changed


def add_subscriber(
    store: Store,
    config: Config,
    secret: str,
    new: NewSubscriber,
    confirmed: bool,
    base_url: str,
) -> Added:
    """Add `new`: `active` when `confirmed` (the client has the subscriber's consent), else
    `pending`, and mailed the confirmation link exactly as the web form does (the same limit
    per mailbox: past it, nothing is added or sent; a confirmation that cannot be sent leaves
    no row). An address already there is returned as it is, unchanged, whatever its state."""
    existing = store.find_subscriber(new.email)
    if existing is not None:
        return Added(existing, False)
    if confirmed:
        store.upsert_subscribers([new], status="active")
    elif not request_subscription(store, config, secret, new, base_url):
        return Added(None, False)
    found = store.find_subscriber(new.email)
    return Added(
        found, found is not None and found.status == ("active" if confirmed else "pending")
    )


def update_subscriber(
    store: Store,
    config: Config,
    sub: Subscriber,
    name: str | None,
    sections: Sequence[str] | None,
    changes: set[str],
) -> Subscriber:
    """Set the name and/or sections named in `changes` (a field not named stays as it is;
    a null name clears it, null or no sections is every section); the state never changes."""
    new_name = checked("name", lambda: clean_name(name)) if "name" in changes else sub.name
    new_sections = sections_of(config, sections) if "sections" in changes else sub.sections
    if new_name != sub.name:
        store.set_name(sub.id, new_name)
    if new_sections != sub.sections:
        store.set_sections(sub.id, new_sections)
    return _as_now(store, sub)


def unsubscribe(store: Store, sub: Subscriber) -> Subscriber:
    """Stop sending, keep the record; done twice, the second changes nothing."""
    signup.unsubscribe(store, sub)
    return _as_now(store, sub)


def _as_now(store: Store, sub: Subscriber) -> Subscriber:
    """The subscriber as the database holds them after a change (removed meanwhile: 404)."""
    now = store.get_subscriber(sub.id)
    if now is None:
        raise NotFoundError(f"no subscriber {sub.id}")
    return now


def remove(store: Store, sub: Subscriber) -> None:
    """Forget a subscriber and their delivery records."""
    store.remove_subscriber(sub.id)


def history(store: Store, sub: Subscriber) -> list[DeliveryEntry]:
    """Every copy of every day the subscriber was sent or is due, newest day first."""
    return store.subscriber_deliveries(sub.id, limit=None)


# ---- pages ----------------------------------------------------------------------------------


def read_cursor(after: str | None) -> int:
    """A page cursor (as `next` gave it) as the id to read after; FieldError if malformed."""
    if after is None or after == "":
        return 0
    if not (after.isascii() and after.isdigit() and len(after) < 19):
        raise FieldError("after", "not a cursor this API gave (use the `next` of a page)")
    return int(after)


def subscriber_page(
    store: Store,
    config: Config,
    status: str | None,
    section: str | None,
    after: str | None,
    limit: int,
) -> SubscriberPage:
    if status is not None and status not in SUBSCRIBER_STATES:
        raise FieldError(
            "status", f"unknown state (the states are: {', '.join(SUBSCRIBER_STATES)})"
        )
    wanted = None
    if section is not None:
        chosen = checked("section", lambda: parse_sections([section], config.section_names))
        wanted = chosen[0] if chosen else None
    return store.subscriber_page(
        status=status, section=wanted, after=read_cursor(after), limit=limit
    )


def delivery_page(
    store: Store, date: str, state: str | None, after: str | None, limit: int
) -> DeliveryPage:
    """A day's deliveries; empty for a day composed but not sent yet, NotFoundError for a day
    with no digest."""
    if state is not None and state not in DELIVERY_STATES:
        raise FieldError("state", f"unknown state (the states are: {', '.join(DELIVERY_STATES)})")
    page = store.delivery_page(date, state=state, after=read_cursor(after), limit=limit)
    if page is not None:
        return page
    if not store.has_digest(date):
        raise NotFoundError(f"no digest for {date}")
    return DeliveryPage([], None)


# ---- digests --------------------------------------------------------------------------------


def digest_days(store: Store) -> list[DigestInfo]:
    """Every stored digest, newest first, with its send's times and counts."""
    return store.digest_infos()


__all__ = [
    "Added",
    "add_subscriber",
    "checked",
    "delivery_page",
    "digest_days",
    "find_subscriber",
    "history",
    "new_subscriber",
    "read_cursor",
    "remove",
    "sections_of",
    "subscriber_page",
    "unsubscribe",
    "update_subscriber",
]
