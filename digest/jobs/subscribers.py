"""The subscriber list: what the `digest subscribers` commands and the subscriber's own pages
(unsubscribe, preferences, subscribe, confirm) do to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from ..config import Config
from ..deliver.outgoing import Outgoing
from ..errors import NotFoundError, SubscriberError
from ..model import Subscriber
from ..store import Store
from ..store.subscribers import ImportReport
from ..subscribers import (
    NewSubscriber,
    normalize_email,
    open_csv,
    parse_sections,
    stored_choice,
    write_csv,
)
from ..subscribers import new_subscriber as make_subscriber
from ..tokens import make_token, read_token
from . import accounts
from .mail import CONFIRM_TTL, confirmation_message, deliver_one

# States a subscriber can leave with their own link (a bounced address must subscribe anew).
RESUMABLE = ("paused", "unsubscribed")


# ---- the command line -----------------------------------------------------------------------


class _Refused(Exception):
    """A bad row met while importing without skip_invalid: the import stops and rolls back."""


def import_subscribers(
    store: Store,
    config: Config,
    path: Path,
    skip_invalid: bool = False,
    refused: Callable[[str], None] = lambda reason: None,
) -> tuple[ImportReport | None, int]:
    """Import a CSV: (the report, or None if nothing was imported; how many rows were bad).

    Each bad row goes to `refused` as 'FILE:LINE: reason' as soon as it is read (none is
    kept); with any, nothing is imported unless `skip_invalid`. The file is read once, as
    its rows are written a batch at a time, all in one transaction: memory grows by the
    duplicate check's 32 bytes or so a row, not with the rows. At the first bad row (without
    skip_invalid) the writes are rolled back and the rest is only read for its refusals."""
    bad = 0

    def good(items: Iterator[NewSubscriber | str]) -> Iterator[NewSubscriber]:
        nonlocal bad
        for item in items:
            if isinstance(item, NewSubscriber):
                yield item
                continue
            bad += 1
            refused(item)
            if not skip_invalid:
                raise _Refused

    with open_csv(path, config.section_names) as items:
        report: ImportReport | None
        try:
            report = store.import_subscribers(good(items))
        except _Refused:
            report = None
        for item in items:  # what is left after a refusal
            if isinstance(item, str):
                bad += 1
                refused(item)
    return report, bad


def add_subscriber(
    store: Store, config: Config, email: str, name: str | None, sections: str | None
) -> str:
    """Add one, or update the name and sections given; 'added', 'updated' or 'unchanged'."""
    new = make_subscriber(email, name, sections, config.section_names)
    existing = store.find_subscriber(new.email)
    if existing and existing.status in ("unsubscribed", "bounced"):
        raise SubscriberError(f"{new.email} is {existing.status}; only they can subscribe again")
    if existing:  # what was not given stays as it was
        new = replace(
            new,
            name=new.name if name is not None else existing.name,
            sections=new.sections if sections is not None else existing.sections,
        )
    report = store.upsert_subscribers([new])
    return "added" if report.added else "updated" if report.updated else "unchanged"


def find(store: Store, email: str) -> Subscriber:
    sub = store.find_subscriber(normalize_email(email))
    if sub is None:
        raise NotFoundError(f"no subscriber {email}")
    return sub


def remove(store: Store, email: str) -> Subscriber:
    """Forget a subscriber and their delivery records."""
    sub = find(store, email)
    store.remove_subscriber(sub.id)
    return sub


def unsubscribe_address(store: Store, email: str) -> Subscriber:
    """Stop sending to an address, keeping the record (so no import resubscribes it)."""
    sub = find(store, email)
    unsubscribe(store, sub)
    return sub


def list_subscribers(store: Store, status: str | None = None) -> list[Subscriber]:
    return store.list_subscribers(status)


def export(store: Store, path: Path) -> int:
    """Write the active subscribers to a CSV that `import` reads back; how many."""
    subs = store.list_subscribers("active")
    path.write_text(write_csv((s.email, s.name, s.sections) for s in subs), encoding="utf-8")
    return len(subs)


# ---- the subscriber's own links -------------------------------------------------------------


def by_token(store: Store, secret: str, token: str, action: str) -> Subscriber | None:
    """The subscriber a valid link names (None if since removed); TokenError if invalid."""
    return store.get_subscriber(read_token(secret, token, action))


def unsubscribe(store: Store, sub: Subscriber) -> None:
    if sub.status != "unsubscribed":
        store.set_status(sub.id, "unsubscribed")


def choose_sections(store: Store, config: Config, sub: Subscriber, names: Iterable[str]) -> None:
    """Save a choice of sections (SubscriberError for none, or an unknown one). Choosing
    every section is stored as 'all', so sections added later come too."""
    chosen = parse_sections(list(names), config.section_names)
    if chosen is None:
        raise SubscriberError("Choose at least one section, or unsubscribe below.")
    store.set_sections(sub.id, stored_choice(chosen, config.section_names))


def pause(store: Store, sub: Subscriber) -> None:
    if sub.status == "active":
        store.set_status(sub.id, "paused")


def resume(store: Store, sub: Subscriber) -> None:
    if sub.status in RESUMABLE:
        store.set_status(sub.id, "active")


# Confirmation emails one mailbox may get per subscribe_rate_window, however its address is
# spelled, and from however many clients: against mail bombing through a form.
CONFIRMATIONS_PER_MAILBOX = 3
# Domains whose mailboxes ignore dots in the local part, and the domain they fold to.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_of(address: str) -> str:
    """The mailbox an address reaches, folded as the big providers fold it: a `+tag` goes
    everywhere (victim+1@ is victim@), dots go at Gmail (v.ictim@googlemail.com is
    victim@gmail.com). For counting only; the address itself is stored as given."""
    local, _, domain = address.lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"


def allow_subscribe_request(store: Store, config: Config, client: str) -> bool:
    """Count a /subscribe request from `client`; False past subscribe_rate_limit per window.
    Counted in the database, so the limit holds across every process serving the site."""
    return accounts.allow(
        store, "subscribe", client, config.subscribe_rate_limit, config.subscribe_rate_window
    )


def request_subscription(
    store: Store, config: Config, secret: str, new: NewSubscriber, base_url: str
) -> bool:
    """Add `new` as pending (a known address is left exactly as it is) and mail it a signed
    confirmation link; False, with nothing added or sent, when its mailbox had its share of
    confirmations this window (the caller answers alike either way).

    DeliveryFailure, TransportError or ConfigError when it cannot be sent. Whatever goes
    wrong, a subscriber added here is taken back: a failed request leaves no row."""
    limit = CONFIRMATIONS_PER_MAILBOX if config.subscribe_rate_limit else 0
    if not accounts.allow(
        store, "confirm-mailbox", mailbox_of(new.email), limit, config.subscribe_rate_window
    ):
        return False
    subscriber_id, added = store.add_pending(new)
    try:
        token = make_token(secret, "confirm", subscriber_id, ttl=CONFIRM_TTL)
        link = f"{base_url}/confirm/{token}"
        message = confirmation_message(config, new.email, new.name, link)
        outgoing = Outgoing(config)
        deliver_one(outgoing, "confirmations", new.email, outgoing.sign(message))
    except BaseException:
        if added:
            store.discard_pending(subscriber_id)
        raise
    return True


# What a confirmation link did: made the subscriber active now, or nothing, because the
# subscriber is already in one of these states (a confirmation works once, and never brings
# back an address that unsubscribed or bounced).
CONFIRMED = "confirmed"


def confirm(store: Store, sub: Subscriber) -> str:
    """`pending` becomes `active`, once: CONFIRMED. Any other state is left as it is, and
    returned ('active', 'paused', 'unsubscribed', 'bounced'; 'removed' if it is gone)."""
    if store.activate_pending(sub.id):
        return CONFIRMED
    now = store.get_subscriber(sub.id)
    return now.status if now is not None else "removed"


__all__ = [
    "CONFIRMATIONS_PER_MAILBOX",
    "CONFIRMED",
    "RESUMABLE",
    "add_subscriber",
    "allow_subscribe_request",
    "by_token",
    "choose_sections",
    "confirm",
    "export",
    "find",
    "import_subscribers",
    "list_subscribers",
    "mailbox_of",
    "pause",
    "remove",
    "request_subscription",
    "resume",
    "unsubscribe",
    "unsubscribe_address",
]
