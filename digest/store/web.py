"""What the web pages ask of the database: the editor's overview, the public archive, and
self-service subscribing (which must never overwrite an existing subscriber)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from ..subscribers import NewSubscriber
from .base import BaseStore
from .delivery import STATES, SendCounts
from .tables import DeliveryRow, DigestRow, SendRow, SubscriberRow


@dataclass(frozen=True)
class DigestInfo:
    """A stored digest as the editor's list shows it; `started` is None until it is sent."""

    date: str
    subject: str
    preheader: str
    composed_at: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    counts: SendCounts


@dataclass(frozen=True)
class Published:
    """A digest whose send has begun: what the archive and the feed show."""

    date: str
    subject: str
    preheader: str
    started: dt.datetime


def _utc(stamp: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for what was stored as aware UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


class WebStore(BaseStore):
    def digest_infos(self) -> list[DigestInfo]:
        """Every stored digest, newest first, with its send's times and counts by state."""
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(DigestRow, SendRow)
                .join(SendRow, col(SendRow.date) == col(DigestRow.date), isouter=True)
                .order_by(col(DigestRow.date).desc())
            ).all()
            grouped = s.exec(
                select(DeliveryRow.send_id, DeliveryRow.state, func.count()).group_by(
                    col(DeliveryRow.send_id), col(DeliveryRow.state)
                )
            ).all()
        by_send: dict[int, dict[str, int]] = {}
        for send_id, state, n in grouped:
            key = "queued" if state == "sending" else state
            counts = by_send.setdefault(send_id, {})
            counts[key] = counts.get(key, 0) + n
        infos = []
        for digest, send in rows:
            found = by_send.get(send.id, {}) if send and send.id is not None else {}
            infos.append(
                DigestInfo(
                    date=digest.date,
                    subject=digest.subject,
                    preheader=digest.preheader,
                    composed_at=_utc(digest.composed_at),
                    started=_utc(send.started_at) if send else None,
                    finished=_utc(send.finished_at) if send and send.finished_at else None,
                    counts=SendCounts(**{k: found.get(k, 0) for k in STATES}),
                )
            )
        return infos

    def published(self, limit: int | None = None) -> list[Published]:
        """Digests whose send has begun (or finished), newest first: never an unsent draft."""
        query = (
            select(DigestRow.date, DigestRow.subject, DigestRow.preheader, SendRow.started_at)
            .join(SendRow, col(SendRow.date) == col(DigestRow.date))
            .order_by(col(DigestRow.date).desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self.errors(), self.session() as s:
            rows = s.exec(query).all()
        return [Published(d, subj, pre, _utc(started)) for d, subj, pre, started in rows]

    def is_published(self, date: str) -> bool:
        with self.errors(), self.session() as s:
            found = s.exec(
                select(DigestRow.date)
                .join(SendRow, col(SendRow.date) == col(DigestRow.date))
                .where(DigestRow.date == date)
            ).first()
        return found is not None

    def add_pending(self, new: NewSubscriber) -> int:
        """The id of the subscriber with this address, adding it as `pending` if there is
        none. An existing subscriber is left exactly as it is: a stranger's form must not
        change anyone's name, sections or state."""
        with self.errors(), self.session() as s:
            found = s.exec(select(SubscriberRow.id).where(SubscriberRow.email == new.email))
            existing = found.first()
            if existing is not None:
                return existing
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
                return won
            assert row.id is not None
            return row.id
