"""Subscribers: import, add, remove, change state, list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select, update

from ..model import Subscriber
from ..subscribers import NewSubscriber
from .base import BaseStore
from .tables import DeliveryRow, SubscriberRow, WebhookDeliveryRow, WebhookEventRow, now

# Rows an import looks up and writes at a time: a few statements a batch, and little memory.
WRITE_BATCH = 2000
# Addresses in one IN list; every list is padded to this length, so that there is one SQL text
# (and one prepared statement in the driver) however long the batch (see padded_chunks).
LOOKUP = 500
_LEFT_ALONE = ("unsubscribed", "bounced")
# The webhook event a change of status is (a subscriber confirming has its own path).
STATUS_EVENTS = {"unsubscribed": "subscriber.unsubscribed", "bounced": "subscriber.bounced"}


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    not_resubscribed: int = 0  # unsubscribed or bounced addresses an import leaves alone

    @property
    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.not_resubscribed} unsubscribed or bounced left alone"
        )


def write_batch(
    conn: Connection, batch: Sequence[NewSubscriber], status: str, report: ImportReport
) -> list[str]:
    """Insert the new addresses of `batch` and update the changed ones, counting in `report`;
    returns the addresses added."""
    table = SubscriberRow.__table__  # type: ignore[attr-defined]
    c = table.c
    # The rows of the batch's addresses that are there already: (id, email, name, ...).
    existing: dict[str, Row[Any, Any, Any, Any, Any]] = {}
    emails = [new.email for new in batch]
    for i in range(0, len(emails), LOOKUP):
        chunk = emails[i : i + LOOKUP]
        chunk += [chunk[-1]] * (LOOKUP - len(chunk))
        columns = select_columns(c.id, c.email, c.name, c.sections, c.status)
        found = conn.execute(columns.where(c.email.in_(chunk)))
        existing.update((row.email, row) for row in found)
    stamp = now()
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for new in batch:
        sections = list(new.sections) if new.sections else None
        row = existing.get(new.email)
        if row is None:
            added.append(
                {
                    "email": new.email,
                    "name": new.name,
                    "sections": sections,
                    "status": status,
                    "hard_bounces": 0,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        elif row.status in _LEFT_ALONE:
            report.not_resubscribed += 1
        elif (row.name, row.sections) == (new.name, sections):
            report.unchanged += 1
        else:
            changed.append({"key": row.id, "new_name": new.name, "new_sections": sections})
    if added:
        conn.execute(insert(table), added)
        report.added += len(added)
    if changed:
        conn.execute(
            update(table)
            .where(c.id == bindparam("key"))
            .values(
                name=bindparam("new_name"), sections=bindparam("new_sections"), updated_at=stamp
            ),
            changed,
        )
        report.updated += len(changed)
    return [row["email"] for row in added]


def subscriber_data(sub: Subscriber) -> dict[str, Any]:
    """A subscriber as webhook events and the API show one."""
    sections = list(sub.sections) if sub.sections else None
    return {
        "id": sub.id,
        "email": sub.email,
        "name": sub.name,
        "sections": sections,
        "status": sub.status,
    }


def forget_events(s: Session, subscriber_id: int) -> None:
    """Delete the webhook events about a subscriber, with their delivery rows."""
    theirs = col(WebhookEventRow.subscriber_id) == subscriber_id
    about = select(WebhookEventRow.id).where(theirs)
    s.exec(delete(WebhookDeliveryRow).where(col(WebhookDeliveryRow.event_id).in_(about)))
    s.exec(delete(WebhookEventRow).where(theirs))


def status_event(store: BaseStore, conn: Connection, sub: Subscriber) -> None:
    """The webhook event for a subscriber who has just come to `sub.status`, if any."""
    kind = STATUS_EVENTS.get(sub.status)
    if kind is not None:
        store.emit(conn, kind, {"subscriber": subscriber_data(sub)})


def subscribers_where(conn: Connection, clause: Any) -> list[Subscriber]:
    """The subscribers a Core condition on the table picks, read in `conn`'s transaction."""
    table = SubscriberRow.__table__  # type: ignore[attr-defined]
    return [
        Subscriber(
            r.id,
            r.email,
            r.name,
            tuple(r.sections) if r.sections else None,
            r.status,
            r.hard_bounces,
        )
        for r in conn.execute(select_columns(table).where(clause))
    ]


def as_subscriber(row: SubscriberRow) -> Subscriber:
    assert row.id is not None
    return Subscriber(
        row.id,
        row.email,
        row.name,
        tuple(row.sections) if row.sections else None,
        row.status,
        row.hard_bounces,
    )


class SubscriberStore(BaseStore):
    def upsert_subscribers(
        self, rows: Sequence[NewSubscriber], status: str = "active"
    ) -> ImportReport:
        """Add new addresses and update names and sections of existing ones, in one
        transaction. An address that unsubscribed or bounced is never made active again here."""
        return self.import_subscribers(rows, status)

    def import_subscribers(
        self, rows: Iterable[NewSubscriber], status: str = "active"
    ) -> ImportReport:
        """`upsert_subscribers` for a stream of any length: `rows` is read WRITE_BATCH at a
        time, each batch looked up and written with a few statements, and all of it in one
        transaction. Anything raised while `rows` is read rolls the whole import back.

        An address must come once in `rows` (read_rows sees to that for a file)."""
        report = ImportReport()
        it = iter(rows)
        with self.errors(), self.engine.begin() as conn:
            while batch := list(islice(it, WRITE_BATCH)):
                added = write_batch(conn, batch, status, report)
                if added and "subscriber.created" in self.events:
                    self._created(conn, added)
        return report

    def _created(self, conn: Connection, emails: Sequence[str]) -> None:
        """A subscriber.created event for each of these new addresses."""
        table = SubscriberRow.__table__  # type: ignore[attr-defined]
        for i in range(0, len(emails), LOOKUP):
            found = subscribers_where(conn, table.c.email.in_(emails[i : i + LOOKUP]))
            for sub in sorted(found, key=lambda sub: sub.id):
                self.emit(conn, "subscriber.created", {"subscriber": subscriber_data(sub)})

    def find_subscriber(self, email: str) -> Subscriber | None:
        with self.errors(), self.session() as s:
            row = s.exec(select(SubscriberRow).where(SubscriberRow.email == email)).first()
            return as_subscriber(row) if row else None

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None:
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            return as_subscriber(row) if row else None

    def set_status(self, subscriber_id: int, status: str, event: bool = True) -> None:
        """`event=False`: putting back a state a failed action had changed (nothing new for
        the webhooks to hear)."""
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            if row is not None and row.status != status:
                row.status, row.updated_at = status, now()
                if status == "active":
                    row.hard_bounces = 0
                s.add(row)
                s.flush()
                if event:
                    status_event(self, s.connection(), as_subscriber(row))
                s.commit()

    def set_sections(self, subscriber_id: int, sections: tuple[str, ...] | None) -> None:
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            if row is not None:
                row.sections, row.updated_at = (list(sections) if sections else None), now()
                s.add(row)
                s.commit()

    def set_name(self, subscriber_id: int, name: str | None) -> None:
        """Change the name alone, whatever the subscriber's state (an import leaves the name
        of an address that unsubscribed or bounced alone; the API may change it)."""
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            if row is not None and row.name != name:
                row.name, row.updated_at = name, now()
                s.add(row)
                s.commit()

    def remove_subscriber(self, subscriber_id: int) -> None:
        """Forget a subscriber entirely, with their delivery records and the webhook events
        about them (sent or not: a data-protection request leaves nothing behind)."""
        with self.errors(), self.session() as s:
            s.exec(delete(DeliveryRow).where(col(DeliveryRow.subscriber_id) == subscriber_id))
            forget_events(s, subscriber_id)
            s.exec(delete(SubscriberRow).where(col(SubscriberRow.id) == subscriber_id))
            s.commit()

    def iter_subscribers(
        self, status: str | None = None, batch: int = 1000
    ) -> Iterator[Subscriber]:
        """Every subscriber (in a state), in id order, a batch at a time: a list of a million
        never sits in memory at once."""
        last = 0
        while True:
            with self.errors(), self.session() as s:
                query = select(SubscriberRow).where(col(SubscriberRow.id) > last)
                if status:
                    query = query.where(SubscriberRow.status == status)
                rows = s.exec(query.order_by(col(SubscriberRow.id)).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield as_subscriber(row)
            last = rows[-1].id or last

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        return list(self.iter_subscribers(status))

    def add_pending(self, new: NewSubscriber) -> tuple[int, bool]:
        """(id, added): the subscriber with this address, adding it as `pending` if there is
        none. An existing subscriber is left exactly as it is: a stranger's form must not
        change anyone's name, sections or state."""
        with self.errors(), self.session() as s:
            found = s.exec(select(SubscriberRow.id).where(SubscriberRow.email == new.email))
            existing = found.first()
            if existing is not None:
                return existing, False
            row = SubscriberRow(
                email=new.email,
                name=new.name,
                sections=list(new.sections) if new.sections else None,
                status="pending",
            )
            s.add(row)
            try:
                s.flush()
                created = {"subscriber": subscriber_data(as_subscriber(row))}
                self.emit(s.connection(), "subscriber.created", created)
                s.commit()
            except IntegrityError:  # the same address in a request at the same moment
                s.rollback()
                winner = s.exec(select(SubscriberRow.id).where(SubscriberRow.email == new.email))
                won = winner.one()
                assert won is not None
                return won, False
            assert row.id is not None
            return row.id, True

    def discard_pending(self, subscriber_id: int) -> None:
        """Take back a `pending` subscriber just added (its confirmation could not be sent),
        so a failed request leaves no row behind; any other state is left alone."""
        with self.errors(), self.session() as s:
            gone = s.exec(
                delete(SubscriberRow).where(
                    col(SubscriberRow.id) == subscriber_id, col(SubscriberRow.status) == "pending"
                )
            ).rowcount
            if gone:  # and its subscriber.created event, never to be posted
                forget_events(s, subscriber_id)
            s.commit()

    def activate_pending(self, subscriber_id: int) -> bool:
        """`pending` becomes `active`, once: True if this call made the change. In one
        statement, so two presses of the same confirmation cannot both count, and no other
        state (unsubscribed, bounced, paused, active) is ever touched."""
        with self.errors(), self.engine.begin() as conn:
            changed = conn.execute(
                update(SubscriberRow)
                .where(
                    col(SubscriberRow.id) == subscriber_id, col(SubscriberRow.status) == "pending"
                )
                .values(status="active", hard_bounces=0, updated_at=now())
            ).rowcount
            if changed and "subscriber.confirmed" in self.events:
                table = SubscriberRow.__table__  # type: ignore[attr-defined]
                (sub,) = subscribers_where(conn, table.c.id == subscriber_id)
                self.emit(conn, "subscriber.confirmed", {"subscriber": subscriber_data(sub)})
        return bool(changed)
