"""Composed digests: stored and read back, listed with their sends for the editor, and the
published ones (whose send has begun) for the archive and its feed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, func, select

from ..errors import NotFoundError
from ..model import Digest
from .base import BaseStore, insert_new
from .delivery import DELIVERY_STATES, SendCounts
from .tables import DeliveryRow, DigestRow, SendRow, now


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


class DigestStore(BaseStore):
    def save_digest(self, digest: Digest) -> None:
        """Store the day's digest, replacing an older one (an upsert: when two machines
        compose the same day at once, both composed the same stories)."""
        values = {
            "date": digest.date,
            "subject": digest.subject,
            "preheader": digest.preheader,
            "data": json.dumps(digest.to_json(), ensure_ascii=False),
            "composed_at": now(),
        }
        with self.errors(), self.engine.begin() as conn:
            conn.execute(insert_new(self.engine, DigestRow), [values])
            conn.execute(
                update(DigestRow).where(col(DigestRow.date) == digest.date).values(**values)
            )

    def get_digest(self, date: str) -> Digest:
        with self.errors(), self.session() as s:
            row = s.get(DigestRow, date)
        if row is None:
            raise NotFoundError(f"no digest for {date}: run 'digest compose --date {date}' first")
        return Digest.from_json(json.loads(row.data))

    def has_digest(self, date: str) -> bool:
        with self.errors(), self.session() as s:
            return s.get(DigestRow, date) is not None

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
                    counts=SendCounts(**{k: found.get(k, 0) for k in DELIVERY_STATES}),
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
