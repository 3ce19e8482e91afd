"""Sends and deliveries: the state that makes every send resumable.

A delivery moves queued -> sending (claimed, with a lease) -> sent | failed | deferred |
skipped. A process killed mid-send leaves rows in `sending`; the next run puts them back in
the queue (at once on SQLite, where the run lock says nobody else is sending; after the lease
elsewhere), so every subscriber is sent to, and a repeat carries the same Message-ID.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Text, bindparam, cast, text, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from ..model import Subscriber
from .base import BaseStore, padded_chunks
from .subscribers import subscriber_data, subscribers_where
from .tables import DeliveryRow, SendRow, SubscriberRow, now
from .webhooks import failure_data

# text() statements must bind times exactly as the ORM stores them (aware, UTC).
_TIME = DeliveryRow.__table__.c.updated_at.type  # type: ignore[attr-defined]


def worker_alive(worker: str) -> bool:
    """False only when `worker` ("host:pid") was a process on this machine that is gone."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


DELIVERY_STATES = ("queued", "sent", "failed", "deferred", "skipped")


@dataclass(frozen=True)
class SendCounts:
    queued: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in DELIVERY_STATES}

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    subscriber: Subscriber
    attempts: int


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery attempt came to."""

    delivery_id: int
    subscriber_id: int
    state: str  # sent, failed, deferred, skipped
    reply: str | None
    message_id: str | None
    attempts: int  # attempts made in this run
    # Whether the subscriber had bounces to forget when claimed: a send resets the count only
    # then, which spares almost every write an UPDATE (the writes come every few ms).
    had_bounces: bool = True


class DeliveryStore(BaseStore):
    def get_or_create_send(self, date: str) -> int:
        """The send for a date, created once: the unique date decides any race."""
        with self.errors(), self.session() as s:
            found = s.exec(select(SendRow.id).where(SendRow.date == date)).first()
            if found is not None:
                return found
            row = SendRow(date=date)
            s.add(row)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                winner = s.exec(select(SendRow.id).where(SendRow.date == date)).one()
                assert winner is not None
                return winner
            assert row.id is not None
            return row.id

    def find_send(self, date: str) -> int | None:
        with self.errors(), self.session() as s:
            return s.exec(select(SendRow.id).where(SendRow.date == date)).first()

    def enqueue(self, send_id: int, back_issues: bool = False) -> int:
        """Queue a delivery for every active subscriber who has none in this send yet.

        A send's readers are those active when it began: one who became active later (signed
        up, confirmed, resumed) starts with the next issue, so a rerun does not queue them,
        unless `back_issues`. When a subscriber became active is bounded by `updated_at`,
        which every activation sets (so does any later change, which can only make this
        stricter), and by `created_at`. Until the send has queued anyone (its first run died
        before getting here), everyone active now counts: nobody has had the issue yet. A
        delivery already queued or sent is never touched."""
        only_then = (
            ""
            if back_issues
            else "AND (NOT EXISTS (SELECT 1 FROM deliveries f WHERE f.send_id = :send) "
            "  OR (s.created_at <= x.started_at AND s.updated_at <= x.started_at)) "
        )
        sql = text(
            "INSERT INTO deliveries (send_id, subscriber_id, state, attempts, updated_at) "
            "SELECT :send, s.id, 'queued', 0, :now FROM subscribers s "
            "JOIN sends x ON x.id = :send "
            "WHERE s.status = 'active' AND NOT EXISTS ("
            "  SELECT 1 FROM deliveries d WHERE d.send_id = :send AND d.subscriber_id = s.id) "
            f"{only_then}"
            # Two machines starting the same send at once may queue the same subscriber.
            "ON CONFLICT (send_id, subscriber_id) DO NOTHING"
        ).bindparams(bindparam("now", type_=_TIME))
        with self.errors(), self.engine.begin() as conn:
            return conn.execute(sql, {"send": send_id, "now": now()}).rowcount or 0

    def requeue(self, send_id: int) -> int:
        """Deferred deliveries get another try; claims of dead workers go back to the queue.

        A claim is dead when its lease ran out, or at once when its worker was a process on
        this machine that no longer exists (a killed `digest send`: no waiting for its lease).
        """
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            n = (
                conn.execute(
                    update(DeliveryRow)
                    .where(
                        col(DeliveryRow.send_id) == send_id, col(DeliveryRow.state) == "deferred"
                    )
                    .values(state="queued", updated_at=stamp)
                ).rowcount
                or 0
            )
            sending = (col(DeliveryRow.send_id) == send_id, col(DeliveryRow.state) == "sending")
            holders = conn.execute(select(DeliveryRow.worker).where(*sending).distinct())
            dead = [w for (w,) in holders if w and not worker_alive(w)]
            expired = col(DeliveryRow.lease_until) < stamp
            n += (
                conn.execute(
                    update(DeliveryRow)
                    .where(
                        *sending, expired | col(DeliveryRow.worker).in_(dead) if dead else expired
                    )
                    .values(state="queued", worker=None, lease_until=None, updated_at=stamp)
                ).rowcount
                or 0
            )
        return n

    def held_by_others(self, send_id: int, worker: str) -> int:
        """Deliveries other live workers hold: wait for them, they may come back."""
        with self.errors(), self.session() as s:
            return s.exec(
                select(func.count()).where(
                    col(DeliveryRow.send_id) == send_id,
                    col(DeliveryRow.state) == "sending",
                    col(DeliveryRow.worker) != worker,
                )
            ).one()

    def renew_lease(self, send_id: int, worker: str, lease: dt.timedelta) -> None:
        """Keep this worker's claims: a live worker never loses them to another."""
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                update(DeliveryRow)
                .where(
                    col(DeliveryRow.send_id) == send_id,
                    col(DeliveryRow.state) == "sending",
                    col(DeliveryRow.worker) == worker,
                )
                .values(lease_until=now() + lease)
            )

    def claim(self, send_id: int, worker: str, limit: int, lease: dt.timedelta) -> list[Claim]:
        """Take up to `limit` queued deliveries for this worker, in one statement."""
        lock = "" if self.is_sqlite else " FOR UPDATE SKIP LOCKED"
        sql = text(
            "UPDATE deliveries SET state = 'sending', worker = :worker, lease_until = :lease, "
            "updated_at = :now WHERE id IN (SELECT id FROM deliveries WHERE send_id = :send "
            f"AND state = 'queued' ORDER BY id LIMIT :limit{lock}) "
            "RETURNING id, subscriber_id, attempts"
        ).bindparams(bindparam("lease", type_=_TIME), bindparam("now", type_=_TIME))
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            rows = conn.execute(
                sql,
                {
                    "worker": worker,
                    "lease": stamp + lease,
                    "now": stamp,
                    "send": send_id,
                    "limit": limit,
                },
            ).all()
        if not rows:
            return []
        subscribers = self._subscribers([r[1] for r in rows])
        return sorted(
            (Claim(r[0], subscribers[r[1]], r[2]) for r in rows if r[1] in subscribers),
            key=lambda c: c.delivery_id,
        )

    def section_choices(self, send_id: int) -> list[tuple[str, ...] | None]:
        """The distinct section choices of the subscribers still queued in a send."""
        # As text: PostgreSQL cannot compare json values for DISTINCT.
        query = (
            select(cast(col(SubscriberRow.sections), Text))
            .distinct()
            .join(DeliveryRow, col(DeliveryRow.subscriber_id) == col(SubscriberRow.id))
            .where(col(DeliveryRow.send_id) == send_id, col(DeliveryRow.state) == "queued")
        )
        with self.errors(), self.session() as s:
            found = {json.dumps(json.loads(c)) if c else "null" for c in s.exec(query)}
        return [tuple(c) if c else None for c in map(json.loads, sorted(found))]

    def _subscribers(self, ids: Sequence[int]) -> dict[int, Subscriber]:
        from .subscribers import as_subscriber

        with self.errors(), self.session() as s:
            found: dict[int, Subscriber] = {}
            for chunk in padded_chunks(ids):
                rows = s.exec(select(SubscriberRow).where(col(SubscriberRow.id).in_(chunk)))
                found.update((r.id, as_subscriber(r)) for r in rows if r.id is not None)
            return found

    def adopt(self, ids: Sequence[int], dead: str, tag: str) -> None:
        """Take over the deliveries `ids` still claimed by the dead worker `dead`, under the
        name `tag` (unique to the caller), so that its journal is applied once, whoever else
        recovers it at the same time."""
        with self.errors(), self.engine.begin() as conn:
            for chunk in padded_chunks(ids):
                conn.execute(
                    update(DeliveryRow)
                    .where(
                        col(DeliveryRow.id).in_(chunk),
                        col(DeliveryRow.worker) == dead,
                        col(DeliveryRow.state) == "sending",
                    )
                    .values(worker=tag)
                )

    def record(self, outcomes: Sequence[DeliveryOutcome], bounce_limit: int, worker: str) -> None:
        """Write a batch of outcomes in one transaction, with the subscribers' bounce counts."""
        if not outcomes:
            return
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                update(DeliveryRow)
                # Only while the claim is still ours: a worker that lost its lease (it stalled
                # past it) must not overwrite what the worker who took over recorded.
                .where(
                    col(DeliveryRow.id) == bindparam("did"),
                    col(DeliveryRow.worker) == bindparam("w"),
                )
                .values(
                    state=bindparam("st"),
                    last_reply=bindparam("reply"),
                    message_id=bindparam("mid"),
                    attempts=DeliveryRow.attempts + bindparam("n"),
                    worker=bindparam("keep"),  # who sent it stays, for per-worker progress
                    lease_until=None,
                    updated_at=stamp,
                ),
                [
                    {
                        "did": o.delivery_id,
                        "w": worker,
                        "keep": None if o.state == "queued" else worker,
                        "st": o.state,
                        "reply": o.reply,
                        "mid": o.message_id,
                        "n": o.attempts,
                    }
                    for o in outcomes
                ],
            )
            failed = [o.subscriber_id for o in outcomes if o.state == "failed"]
            sent = [o.subscriber_id for o in outcomes if o.state == "sent" and o.had_bounces]
            if failed and "delivery.failed" in self.events:
                ids = [o.delivery_id for o in outcomes if o.state == "failed"]
                self._failed_events(conn, ids, worker)
            # The padding repeats an id inside one IN list, which still matches its row once.
            for chunk in padded_chunks(failed):
                conn.execute(
                    update(SubscriberRow)
                    .where(col(SubscriberRow.id).in_(chunk))
                    .values(hard_bounces=SubscriberRow.hard_bounces + 1, updated_at=stamp)
                )
                bounced = conn.execute(
                    update(SubscriberRow)
                    .where(
                        col(SubscriberRow.id).in_(chunk),
                        col(SubscriberRow.hard_bounces) >= bounce_limit,
                        col(SubscriberRow.status) == "active",
                    )
                    .values(status="bounced", updated_at=stamp)
                    .returning(col(SubscriberRow.id))
                ).all()
                if bounced and "subscriber.bounced" in self.events:
                    table = SubscriberRow.__table__  # type: ignore[attr-defined]
                    for sub in subscribers_where(conn, table.c.id.in_([b[0] for b in bounced])):
                        self.emit(conn, "subscriber.bounced", {"subscriber": subscriber_data(sub)})
            for chunk in padded_chunks(sent):
                conn.execute(
                    update(SubscriberRow)
                    .where(col(SubscriberRow.id).in_(chunk), col(SubscriberRow.hard_bounces) > 0)
                    .values(hard_bounces=0)
                )

    def _failed_events(self, conn: Connection, delivery_ids: list[int], worker: str) -> None:
        """A delivery.failed event for each of these deliveries this worker has just written
        as failed (one whose claim it had lost was not written, and gets none)."""
        for chunk in padded_chunks(delivery_ids):
            rows = conn.execute(
                select_columns(
                    col(DeliveryRow.id),
                    col(SendRow.date),
                    col(SubscriberRow.id),
                    col(SubscriberRow.email),
                    col(DeliveryRow.last_reply),
                    col(DeliveryRow.attempts),
                )
                .join(SendRow, col(SendRow.id) == col(DeliveryRow.send_id))
                .join(SubscriberRow, col(SubscriberRow.id) == col(DeliveryRow.subscriber_id))
                .where(
                    col(DeliveryRow.id).in_(chunk),  # padded: one SQL text (see padded_chunks)
                    col(DeliveryRow.state) == "failed",
                    col(DeliveryRow.worker) == worker,
                )
                .order_by(col(DeliveryRow.id))
            ).all()
            for _, date, sub_id, email, reply, attempts in rows:
                data = failure_data(date, sub_id or 0, email, reply, attempts)
                self.emit(conn, "delivery.failed", data)

    def counts(self, send_id: int | None) -> SendCounts:
        if send_id is None:
            return SendCounts()
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(DeliveryRow.state, func.count())
                .where(DeliveryRow.send_id == send_id)
                .group_by(DeliveryRow.state)
            ).all()
        by_state = dict(rows)
        by_state["queued"] = by_state.get("queued", 0) + by_state.pop("sending", 0)
        return SendCounts(**{k: by_state.get(k, 0) for k in DELIVERY_STATES})

    def finish_send(self, send_id: int) -> None:
        """Mark the send finished; the first time, with a send.finished event carrying the
        counts (the one event a whole send makes, besides its failures)."""
        this = col(SendRow.id) == send_id
        with self.errors(), self.engine.begin() as conn:
            # One statement says who finished it first: two machines ending the same send
            # at once write one event between them.
            first = conn.execute(
                update(SendRow)
                .where(this, col(SendRow.finished_at).is_(None))
                .values(finished_at=now())
                .returning(col(SendRow.date))
            ).first()
            if first is None:
                conn.execute(update(SendRow).where(this).values(finished_at=now()))
            elif "send.finished" in self.events:
                data = {"date": first[0], "counts": self.counts(send_id).as_dict()}
                self.emit(conn, "send.finished", data)

    def sends(self) -> list[tuple[str, int]]:
        """(date, send id) of every send, newest first."""
        with self.errors(), self.session() as s:
            rows = s.exec(select(SendRow.date, SendRow.id).order_by(col(SendRow.date).desc()))
            return [(d, i) for d, i in rows if i is not None]
