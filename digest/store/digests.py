"""Composed digests: stored and read back, listed with their sends for the editor, and the
published ones (whose send has begun) for the archive and its feed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, update
from sqlmodel import col, func, select

from ..edits import Overrides
from ..errors import ComposeError, NotFoundError
from ..model import Digest
from .base import BaseStore, insert_new, utc
from .delivery import DELIVERY_STATES, SendCounts
from .tables import ApprovalRow, DeliveryRow, DigestRow, OverrideRow, SendRow, now


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


def digest_data(digest: Digest) -> dict[str, object]:
    """A digest as webhook events show it: the day, its subject, how much it holds."""
    return {
        "date": digest.date,
        "subject": digest.subject,
        "stories": digest.story_count,
        "headlines": digest.headline_count,
    }


def dumps(digest: Digest) -> str:
    return json.dumps(digest.to_json(), ensure_ascii=False)


def lock_day(conn: Connection, date: str) -> None:
    """Take the day's digest row for this transaction (a write that changes nothing: a row
    lock on PostgreSQL, the database's write lock on SQLite). Composing, editing and
    starting the send all take it first, so none of them sees the others half done: an edit
    either lands before the send starts, and goes out, or after, and corrects the archive."""
    conn.execute(update(DigestRow).where(col(DigestRow.date) == date).values(date=date))


def version_of(conn: Connection, date: str) -> str | None:
    data = conn.execute(select(DigestRow.data).where(col(DigestRow.date) == date)).scalar()
    return None if data is None else hashlib.sha256(data.encode()).hexdigest()[:16]


def has_send(conn: Connection, date: str) -> bool:
    return conn.execute(select(SendRow.id).where(col(SendRow.date) == date)).first() is not None


def withdraw(conn: Connection, date: str) -> None:
    """Forget the day's approval, as its digest changed since (a hold stays): what goes out
    must be what was approved."""
    conn.execute(
        delete(ApprovalRow).where(
            col(ApprovalRow.date) == date, col(ApprovalRow.state) == "approved"
        )
    )


class DigestStore(BaseStore):
    def save_digest(self, digest: Digest, base: Digest | None = None) -> None:
        """Store the day's digest (and the composition before editors' overrides, when it
        differs), replacing an older one: an upsert, as two machines may compose the same
        day at once (both composed the same stories)."""
        with self.errors(), self.engine.begin() as conn:
            self._write(conn, digest, base or digest)

    def _write(self, conn: Connection, digest: Digest, base: Digest) -> None:
        values = {
            "date": digest.date,
            "subject": digest.subject,
            "preheader": digest.preheader,
            "data": dumps(digest),
            "base": dumps(base),
            "composed_at": now(),
        }
        conn.execute(insert_new(self.engine, DigestRow), [values])
        conn.execute(update(DigestRow).where(col(DigestRow.date) == digest.date).values(**values))

    def save_composed(self, base: Digest, edited: Callable[[Digest, Overrides], Digest]) -> Digest:
        """Store a fresh composition of the day with the day's overrides applied
        (`edited(base, overrides)`), unless its send has begun (ComposeError: subscribers
        would get different digests for one day). An approval given before is withdrawn."""
        date = base.date
        with self.errors(), self.engine.begin() as conn:
            # The row first, so that there is one to lock: a first compose running at the
            # same time on another machine waits here until it commits (on PostgreSQL a
            # missing row locks nothing), and a send it began then is seen below.
            first = {"date": date, "subject": base.subject, "preheader": base.preheader}
            conn.execute(
                insert_new(self.engine, DigestRow),
                [{**first, "data": dumps(base), "base": dumps(base), "composed_at": now()}],
            )
            lock_day(conn, date)
            if has_send(conn, date):
                raise ComposeError(
                    f"the digest for {date} is already being sent; it cannot change now"
                )
            digest = edited(base, self.read_overrides(conn, date))
            self._write(conn, digest, base)
            withdraw(conn, date)
            self.emit(conn, "digest.composed", digest_data(digest))
        return digest

    def digest_version(self, date: str) -> str | None:
        """A short fingerprint of what the day's digest holds now (None: no digest): an
        approval given on a page names it, so a digest changed since is not approved unseen."""
        with self.errors(), self.engine.connect() as conn:
            return version_of(conn, date)

    @staticmethod
    def read_overrides(conn: Connection, date: str) -> Overrides:
        rows = conn.execute(
            select(OverrideRow.target, OverrideRow.field, OverrideRow.value).where(
                col(OverrideRow.date) == date
            )
        )
        return Overrides({(target, name): value for target, name, value in rows})

    def begin_send(self, date: str, required: bool) -> tuple[int, Digest] | None:
        """The day's send, created once (the unique date decides any race), and the digest it
        sends: what `data` holds when it starts, which no edit changes from then on. None,
        and no send, unless the day is approved at that moment (`required`: as the
        `approval` setting says): an edit just made may have withdrawn the approval."""
        with self.errors(), self.engine.begin() as conn:
            lock_day(conn, date)
            row = conn.execute(select(DigestRow.data).where(col(DigestRow.date) == date)).first()
            if row is None:
                raise NotFoundError(f"no digest for {date}: run 'digest compose --date {date}'")
            state = conn.execute(
                select(ApprovalRow.state).where(col(ApprovalRow.date) == date)
            ).scalar()
            if (state or ("pending" if required else "approved")) != "approved":
                return None
            started = conn.execute(
                insert_new(self.engine, SendRow).returning(col(SendRow.id)),
                {"date": date, "started_at": now()},
            ).first()
            found = conn.execute(select(SendRow.id).where(col(SendRow.date) == date)).scalar()
            if started is not None:  # this call began it: the event is written once
                digest = Digest.from_json(json.loads(row[0]))
                self.emit(conn, "send.started", digest_data(digest))
        assert found is not None
        return found, Digest.from_json(json.loads(row[0]))

    def _row(self, date: str) -> DigestRow:
        with self.errors(), self.session() as s:
            row = s.get(DigestRow, date)
        if row is None:
            raise NotFoundError(f"no digest for {date}: run 'digest compose --date {date}' first")
        return row

    def get_digest(self, date: str) -> Digest:
        """The day's digest as subscribers get it (once sending has begun, as they got it)."""
        return Digest.from_json(json.loads(self._row(date).data))

    def base_digest(self, date: str) -> Digest:
        """The day's composition before editors' overrides."""
        row = self._row(date)
        return Digest.from_json(json.loads(row.base or row.data))

    def archive_copy(self, date: str) -> tuple[Digest, dt.datetime | None]:
        """The day's digest as the archive shows it, and when an edit made after the send
        began last corrected it (None: never)."""
        row = self._row(date)
        corrected = utc(row.corrected_at) if row.corrected_at else None
        return Digest.from_json(json.loads(row.archive or row.data)), corrected

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
                    composed_at=utc(digest.composed_at),
                    started=utc(send.started_at) if send else None,
                    finished=utc(send.finished_at) if send and send.finished_at else None,
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
        return [Published(d, subj, pre, utc(started)) for d, subj, pre, started in rows]

    def is_published(self, date: str) -> bool:
        with self.errors(), self.session() as s:
            found = s.exec(
                select(DigestRow.date)
                .join(SendRow, col(SendRow.date) == col(DigestRow.date))
                .where(DigestRow.date == date)
            ).first()
        return found is not None

    def published_neighbours(self, date: str) -> tuple[str | None, str | None]:
        """The published days just before and just after `date` (None: there is none)."""
        days = select(DigestRow.date).join(SendRow, col(SendRow.date) == col(DigestRow.date))
        with self.errors(), self.session() as s:
            before = s.exec(
                days.where(col(DigestRow.date) < date).order_by(col(DigestRow.date).desc())
            ).first()
            after = s.exec(
                days.where(col(DigestRow.date) > date).order_by(col(DigestRow.date))
            ).first()
        return before, after
