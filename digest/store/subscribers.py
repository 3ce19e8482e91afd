"""Subscribers: import, add, remove, change state, list."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select, update

from ..model import Subscriber
from ..subscribers import NewSubscriber
from .base import BaseStore
from .tables import DeliveryRow, SubscriberRow, now


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
        report = ImportReport()
        with self.errors(), self.session() as s:
            emails = [r.email for r in rows]
            existing: dict[str, SubscriberRow] = {}
            for i in range(0, len(emails), 500):
                found = s.exec(
                    select(SubscriberRow).where(col(SubscriberRow.email).in_(emails[i : i + 500]))
                )
                existing.update({r.email: r for r in found})
            for new in rows:
                sections = list(new.sections) if new.sections else None
                row = existing.get(new.email)
                if row is None:
                    s.add(
                        SubscriberRow(
                            email=new.email, name=new.name, sections=sections, status=status
                        )
                    )
                    report.added += 1
                elif row.status in ("unsubscribed", "bounced"):
                    report.not_resubscribed += 1
                elif (row.name, row.sections) == (new.name, sections):
                    report.unchanged += 1
                else:
                    row.name, row.sections, row.updated_at = new.name, sections, now()
                    s.add(row)
                    report.updated += 1
            s.commit()
        return report

    def find_subscriber(self, email: str) -> Subscriber | None:
        with self.errors(), self.session() as s:
            row = s.exec(select(SubscriberRow).where(SubscriberRow.email == email)).first()
            return as_subscriber(row) if row else None

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None:
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            return as_subscriber(row) if row else None

    def set_status(self, subscriber_id: int, status: str) -> None:
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            if row is not None and row.status != status:
                row.status, row.updated_at = status, now()
                if status == "active":
                    row.hard_bounces = 0
                s.add(row)
                s.commit()

    def set_sections(self, subscriber_id: int, sections: tuple[str, ...] | None) -> None:
        with self.errors(), self.session() as s:
            row = s.get(SubscriberRow, subscriber_id)
            if row is not None:
                row.sections, row.updated_at = (list(sections) if sections else None), now()
                s.add(row)
                s.commit()

    def remove_subscriber(self, subscriber_id: int) -> None:
        """Forget a subscriber entirely, with their delivery records."""
        with self.errors(), self.session() as s:
            s.exec(delete(DeliveryRow).where(col(DeliveryRow.subscriber_id) == subscriber_id))
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
            s.exec(
                delete(SubscriberRow).where(
                    col(SubscriberRow.id) == subscriber_id, col(SubscriberRow.status) == "pending"
                )
            )
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
        return bool(changed)
