"""What bounce processing asks of the database: find the delivery a bounce is about, and record
hard and soft bounces and complaints, idempotently (a mailbox read twice changes nothing more).

No column of its own: a bounce is written on the delivery (`failed`, or a "soft bounce:" reply on
a `sent` one), and the subscriber's `hard_bounces` is recomputed from that history, so the rule
is the send-time one (consecutive permanent failures reach bounce_limit) across both sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from .base import BaseStore
from .subscribers import as_subscriber, status_event
from .tables import DeliveryRow, SendRow, SubscriberRow, now
from .webhooks import failure_data

HARD_MARK = "bounce: "
SOFT_MARK = "soft bounce: "
COMPLAINT_MARK = "complaint: "
# Soft bounces (4.x.x) in a row that count as one hard bounce.
SOFT_PER_HARD = 3


@dataclass(frozen=True)
class Target:
    """The delivery a bounce is about, and its subscriber."""

    delivery_id: int
    date: str
    message_id: str | None
    subscriber_id: int
    email: str


@dataclass(frozen=True)
class Applied:
    """What recording one bounce changed."""

    changed: bool  # False: this bounce was recorded before
    hard_bounces: int
    status: str


class BounceStore(BaseStore):
    def bounce_target(self, subscriber_id: int, date: str | None) -> Target | None:
        """The subscriber's delivery on `date`, or their latest one sent when the date is not
        known."""
        query = (
            select(DeliveryRow, SendRow.date, SubscriberRow.email)
            .join(SendRow, col(SendRow.id) == col(DeliveryRow.send_id))
            .join(SubscriberRow, col(SubscriberRow.id) == col(DeliveryRow.subscriber_id))
            .where(col(DeliveryRow.subscriber_id) == subscriber_id)
        )
        if date is not None:
            query = query.where(col(SendRow.date) == date)
        else:
            query = query.where(col(DeliveryRow.state).in_(("sent", "failed")))
        with self.errors(), self.session() as s:
            found = s.exec(query.order_by(col(SendRow.date).desc()).limit(1)).first()
        return _target(found) if found else None

    def bounce_target_by_message_id(self, message_id: str) -> Target | None:
        query = (
            select(DeliveryRow, SendRow.date, SubscriberRow.email)
            .join(SendRow, col(SendRow.id) == col(DeliveryRow.send_id))
            .join(SubscriberRow, col(SubscriberRow.id) == col(DeliveryRow.subscriber_id))
            .where(col(DeliveryRow.message_id) == message_id)
        )
        with self.errors(), self.session() as s:
            found = s.exec(query.limit(1)).first()
        return _target(found) if found else None

    def record_bounce(self, target: Target, hard: bool, reply: str, bounce_limit: int) -> Applied:
        """Mark the delivery hard- or soft-bounced, then recount the subscriber's run of
        bounces; at bounce_limit an active subscriber becomes `bounced`."""
        with self.errors(), self.session() as s:
            row = s.get(DeliveryRow, target.delivery_id)
            sub = s.get(SubscriberRow, target.subscriber_id)
            assert row is not None and sub is not None
            changed = False
            if hard and row.state != "failed":
                row.state, row.last_reply, changed = "failed", HARD_MARK + reply, True
            elif not hard and row.state == "sent" and not _marked(row.last_reply):
                row.last_reply, changed = SOFT_MARK + reply, True
            if changed:
                row.updated_at = now()
                s.add(row)
                s.flush()
                if hard:  # a delivery that went out and came back: it failed after all
                    data = failure_data(
                        target.date, sub.id or 0, sub.email, row.last_reply, row.attempts
                    )
                    self.emit(s.connection(), "delivery.failed", data)
            streak = _streak(s, target.subscriber_id)
            if sub.hard_bounces != streak or (streak >= bounce_limit and sub.status == "active"):
                sub.hard_bounces = streak
                bounced = streak >= bounce_limit and sub.status == "active"
                if bounced:
                    sub.status = "bounced"
                sub.updated_at = now()
                s.add(sub)
                if bounced:
                    s.flush()
                    status_event(self, s.connection(), as_subscriber(sub))
            s.commit()
            return Applied(changed, sub.hard_bounces, sub.status)

    def record_complaint(self, target: Target, reply: str) -> Applied:
        """A spam complaint: stop at once (`unsubscribed`; a bounced address stays bounced)."""
        with self.errors(), self.session() as s:
            row = s.get(DeliveryRow, target.delivery_id)
            sub = s.get(SubscriberRow, target.subscriber_id)
            assert row is not None and sub is not None
            changed = False
            if row.state == "sent" and not (row.last_reply or "").startswith(COMPLAINT_MARK):
                row.last_reply, row.updated_at, changed = COMPLAINT_MARK + reply, now(), True
                s.add(row)
            if sub.status in ("active", "paused", "pending"):
                sub.status, sub.updated_at, changed = "unsubscribed", now(), True
                s.add(sub)
                s.flush()
                status_event(self, s.connection(), as_subscriber(sub))
            s.commit()
            return Applied(changed, sub.hard_bounces, sub.status)


def _target(found: tuple[DeliveryRow, str, str]) -> Target:
    row, date, email = found
    assert row.id is not None
    return Target(row.id, date, row.message_id, row.subscriber_id, email)


def _marked(reply: str | None) -> bool:
    return (reply or "").startswith((HARD_MARK, SOFT_MARK, COMPLAINT_MARK))


def _streak(s: Session, subscriber_id: int) -> int:
    """Consecutive bounces, newest send first: each failed delivery counts one, every
    SOFT_PER_HARD soft-bounced ones count one; a delivery sent without a bounce ends the run.
    Deliveries skipped or not yet out are stepped over."""
    rows = s.exec(
        select(DeliveryRow.state, DeliveryRow.last_reply)
        .join(SendRow, col(SendRow.id) == col(DeliveryRow.send_id))
        .where(col(DeliveryRow.subscriber_id) == subscriber_id)
        .order_by(col(SendRow.date).desc())
    )
    hard = soft = 0
    for state, reply in rows:
        if state == "failed":
            hard += 1
        elif state == "sent" and (reply or "").startswith(SOFT_MARK):
            soft += 1
        elif state == "sent":
            break
    return hard + soft // SOFT_PER_HARD
