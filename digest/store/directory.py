"""Reading the subscriber list and the delivery ledger a page at a time: for the JSON API and
the editor's subscriber desk.

Pages go by id (keyset pagination): the cursor is the last id of the page before, so a page
costs the same however deep it is, and rows added or removed meanwhile never shift the pages
after them (an offset would repeat or skip rows).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Text, cast, or_
from sqlmodel import col, func, select

from ..model import Subscriber
from .base import BaseStore, utc
from .subscribers import as_subscriber
from .tables import DeliveryRow, SendRow, SubscriberRow

MAX_PAGE = 500


@dataclass(frozen=True)
class SubscriberPage:
    subscribers: list[Subscriber]
    next_after: int | None  # the cursor of the next page; None on the last


@dataclass(frozen=True)
class DeliveryEntry:
    """One row of the ledger: a subscriber's copy of one day's digest."""

    id: int
    date: str
    subscriber_id: int
    email: str
    state: str  # queued (sending counts as queued), sent, failed, deferred, skipped
    attempts: int
    reply: str | None  # the server's last reply, or what bounce processing recorded
    message_id: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[DeliveryEntry]
    next_after: int | None


def _like(text: str) -> str:
    """`text` as a LIKE pattern that matches it anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _entry(row: DeliveryRow, date: str, email: str) -> DeliveryEntry:
    assert row.id is not None
    return DeliveryEntry(
        row.id,
        date,
        row.subscriber_id,
        email,
        "queued" if row.state == "sending" else row.state,
        row.attempts,
        row.last_reply,
        row.message_id,
        utc(row.updated_at),
    )


class DirectoryStore(BaseStore):
    def subscriber_page(
        self,
        *,
        status: str | None = None,
        section: str | None = None,
        search: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> SubscriberPage:
        """Subscribers in id order after the cursor `after`: in a state, receiving a section
        (those who chose it, and those who take every section), or whose address or name
        contains `search` (any case)."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(SubscriberRow).where(col(SubscriberRow.id) > after)
        if status:
            query = query.where(col(SubscriberRow.status) == status)
        if search:
            # Any case of any letter: PostgreSQL's lower() folds them all; on SQLite the store
            # adds fold() (str.casefold), as its own lower() folds A-Z only.
            if self.is_sqlite:
                pattern, lower = _like(search.casefold()), func.fold
            else:
                pattern, lower = _like(search.lower()), func.lower
            query = query.where(
                or_(
                    lower(col(SubscriberRow.email)).like(pattern, escape="\\"),
                    lower(col(SubscriberRow.name)).like(pattern, escape="\\"),
                )
            )
        # Sections are a JSON list; filtered here, in Python, when a section is asked for (the
        # JSON functions differ between SQLite and PostgreSQL): read on until the page is full.
        found: list[Subscriber] = []
        last = after
        with self.errors(), self.session() as s:
            while len(found) <= limit:  # one more than the page: whether there is a next
                batch = s.exec(
                    query.where(col(SubscriberRow.id) > last)
                    .order_by(col(SubscriberRow.id))
                    .limit(limit + 1 if section is None else MAX_PAGE)
                ).all()
                if not batch:
                    break
                for row in batch:
                    sub = as_subscriber(row)
                    if section is None or sub.sections is None or section in sub.sections:
                        found.append(sub)
                    last = sub.id
                    if len(found) > limit:
                        break
                if section is None or len(found) > limit:
                    break
        more = len(found) > limit
        page = found[:limit]
        return SubscriberPage(page, page[-1].id if more and page else None)

    def subscriber_counts(self, sections: tuple[str, ...]) -> tuple[dict[str, int], dict[str, int]]:
        """(subscribers by status, active subscribers receiving each of `sections`): those who
        chose a section and those who take every section both count for it."""
        with self.errors(), self.session() as s:
            by_status = dict(
                s.exec(
                    select(SubscriberRow.status, func.count()).group_by(col(SubscriberRow.status))
                ).all()
            )
            # Each distinct choice once, with how many chose it: a handful, however many
            # subscribers there are.
            choices = s.exec(
                select(cast(col(SubscriberRow.sections), Text), func.count())
                .where(col(SubscriberRow.status) == "active")
                .group_by(cast(col(SubscriberRow.sections), Text))
            ).all()
        by_section = dict.fromkeys(sections, 0)
        for text, n in choices:
            chosen = json.loads(text) if text else None
            for name in sections:
                if not chosen or name in chosen:
                    by_section[name] += n
        return by_status, by_section

    def subscriber_times(self, subscriber_id: int) -> tuple[dt.datetime, dt.datetime] | None:
        """(added, last changed) in UTC; None when there is no such subscriber (the domain's
        Subscriber carries neither)."""
        query = select(SubscriberRow.created_at, SubscriberRow.updated_at).where(
            col(SubscriberRow.id) == subscriber_id
        )
        with self.errors(), self.session() as s:
            found = s.exec(query).first()
        if found is None:
            return None
        added, changed = found
        return utc(added), utc(changed)

    def subscriber_deliveries(
        self, subscriber_id: int, limit: int | None = 100
    ) -> list[DeliveryEntry]:
        """One subscriber's copies, newest day first: the newest `limit`, or every one (one a
        day: a few hundred a year at most; the export of their data needs them all)."""
        query = (
            select(DeliveryRow, SendRow.date, SubscriberRow.email)
            .join(SendRow, col(SendRow.id) == col(DeliveryRow.send_id))
            .join(SubscriberRow, col(SubscriberRow.id) == col(DeliveryRow.subscriber_id))
            .where(col(DeliveryRow.subscriber_id) == subscriber_id)
            .order_by(col(SendRow.date).desc())
        )
        if limit is not None:
            query = query.limit(max(1, limit))
        with self.errors(), self.session() as s:
            return [_entry(row, date, email) for row, date, email in s.exec(query)]

    def delivery_page(
        self, date: str, *, state: str | None = None, after: int = 0, limit: int = 100
    ) -> DeliveryPage | None:
        """A day's copies in id order after the cursor; None when the day has no send. The
        state `queued` includes those being sent at this moment."""
        limit = max(1, min(limit, MAX_PAGE))
        with self.errors(), self.session() as s:
            send_id = s.exec(select(SendRow.id).where(col(SendRow.date) == date)).first()
            if send_id is None:
                return None
            query = (
                select(DeliveryRow, SubscriberRow.email)
                .join(SubscriberRow, col(SubscriberRow.id) == col(DeliveryRow.subscriber_id))
                .where(col(DeliveryRow.send_id) == send_id, col(DeliveryRow.id) > after)
            )
            if state == "queued":
                query = query.where(col(DeliveryRow.state).in_(("queued", "sending")))
            elif state:
                query = query.where(col(DeliveryRow.state) == state)
            rows = s.exec(query.order_by(col(DeliveryRow.id)).limit(limit + 1)).all()
        entries = [_entry(row, date, email) for row, email in rows]
        more = len(entries) > limit
        page = entries[:limit]
        return DeliveryPage(page, page[-1].id if more and page else None)


__all__ = ["DeliveryEntry", "DeliveryPage", "DirectoryStore", "SubscriberPage"]
