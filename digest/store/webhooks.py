"""The webhook outbox: events (written by the changes they report, BaseStore.emit), one
delivery row per event and endpoint, claimed by a dispatcher with a lease so that two
processes (`digest serve` and `digest run`, or two machines) never post the same one at once.

An endpoint is named by a SHA-256 of its URL: the URL lives in the config, and an endpoint
that is removed from it simply stops being posted to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, tuple_, update
from sqlmodel import col, func, select

from .base import BaseStore, insert_new, utc
from .tables import WebhookDeliveryRow, WebhookEventRow, now

SPREAD_BATCH = 500


def failure_data(
    date: str, subscriber_id: int, email: str, reply: str | None, attempts: int
) -> dict[str, Any]:
    """A delivery.failed event's data: at send time, or from a bounce afterwards."""
    return {
        "date": date,
        "subscriber": {"id": subscriber_id, "email": email},
        "reply": reply,
        "attempts": attempts,
    }


@dataclass(frozen=True)
class Due:
    """An event to post to one endpoint."""

    event_id: int
    endpoint: str
    uid: str
    kind: str
    created_at: dt.datetime
    data: dict[str, Any]
    attempts: int  # tries before this one
    lease_until: dt.datetime  # the lease it was claimed with


@dataclass(frozen=True)
class Backlog:
    pending: int = 0
    sent: int = 0
    failed: int = 0
    last_sent_at: dt.datetime | None = None
    last_error: str | None = None


def _leased(due: Due) -> tuple[Any, ...]:
    """The delivery row of `due`, while the lease it was claimed with still holds: a
    dispatcher that outlived its lease must not overwrite what the one after it recorded."""
    return (
        col(WebhookDeliveryRow.event_id) == due.event_id,
        col(WebhookDeliveryRow.endpoint) == due.endpoint,
        col(WebhookDeliveryRow.lease_until) == due.lease_until,
    )


class WebhookStore(BaseStore):
    def spread_events(self, wants: Mapping[str, frozenset[str]]) -> int:
        """Give each new event a delivery row for every endpoint that wants its kind
        (`wants`: endpoint -> kinds); returns how many events were spread. Events that no
        endpoint wants are marked spread too."""
        spread = 0
        while True:
            with self.errors(), self.engine.begin() as conn:
                query = (
                    select(WebhookEventRow.id, WebhookEventRow.type)
                    .where(col(WebhookEventRow.spread).is_(False))
                    .order_by(col(WebhookEventRow.id))
                    .limit(SPREAD_BATCH)
                )
                if not self.is_sqlite:  # another dispatcher may be spreading the same ones
                    query = query.with_for_update(skip_locked=True)
                events = conn.execute(query).all()
                if not events:
                    return spread
                stamp = now()
                rows = [
                    {"event_id": event_id, "endpoint": endpoint, "next_at": stamp}
                    for event_id, kind in events
                    for endpoint, kinds in wants.items()
                    if kind in kinds
                ]
                if rows:
                    conn.execute(insert_new(self.engine, WebhookDeliveryRow), rows)
                conn.execute(
                    update(WebhookEventRow)
                    .where(col(WebhookEventRow.id).in_([e[0] for e in events]))
                    .values(spread=True)
                )
                spread += len(events)

    def claim_webhooks(self, endpoints: list[str], limit: int, lease: dt.timedelta) -> list[Due]:
        """Up to `limit` due deliveries to these endpoints, oldest event first, leased to the
        caller until `lease` from now."""
        if not endpoints:
            return []
        stamp = now()
        free = (col(WebhookDeliveryRow.lease_until).is_(None)) | (
            col(WebhookDeliveryRow.lease_until) < stamp
        )
        due = (
            select(WebhookDeliveryRow.event_id, WebhookDeliveryRow.endpoint)
            .where(
                col(WebhookDeliveryRow.state) == "pending",
                col(WebhookDeliveryRow.next_at) <= stamp,
                col(WebhookDeliveryRow.endpoint).in_(endpoints),
                free,
            )
            .order_by(col(WebhookDeliveryRow.event_id))
            .limit(limit)
        )
        if not self.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        # One statement: two dispatchers (on SQLite too, where a SELECT then an UPDATE could
        # both see the same rows free) never lease the same delivery.
        until = stamp + lease
        claim = (
            update(WebhookDeliveryRow)
            .where(
                tuple_(col(WebhookDeliveryRow.event_id), col(WebhookDeliveryRow.endpoint)).in_(due),
                free,
            )
            .values(lease_until=until)
            .returning(col(WebhookDeliveryRow.event_id), col(WebhookDeliveryRow.endpoint))
        )
        with self.errors(), self.engine.begin() as conn:
            keys = conn.execute(claim).all()
        if not keys:
            return []
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(WebhookDeliveryRow, WebhookEventRow)
                .join(WebhookEventRow, col(WebhookEventRow.id) == col(WebhookDeliveryRow.event_id))
                .where(col(WebhookDeliveryRow.event_id).in_([k[0] for k in keys]))
            ).all()
        wanted = {(e, p) for e, p in keys}
        found = []
        for delivery, event in rows:
            if (delivery.event_id, delivery.endpoint) not in wanted:
                continue
            found.append(
                Due(
                    delivery.event_id,
                    delivery.endpoint,
                    event.uid,
                    event.type,
                    utc(event.created_at),
                    dict(event.data),
                    delivery.attempts,
                    until,
                )
            )
        return sorted(found, key=lambda d: (d.event_id, d.endpoint))

    def webhook_later(self, due: Due, at: dt.datetime) -> None:
        """Put back one not tried this time: due again `at`, its tries as they were."""
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                update(WebhookDeliveryRow).where(*_leased(due)).values(next_at=at, lease_until=None)
            )

    def webhook_result(self, due: Due, error: str | None, retry_at: dt.datetime | None) -> None:
        """Record one try: sent (no error), to be tried again at `retry_at`, or failed for
        good (an error and no `retry_at`)."""
        stamp = now()
        values: dict[str, Any] = {"attempts": due.attempts + 1, "lease_until": None}
        if error is None:
            values.update(state="sent", done_at=stamp, last_error=None)
        elif retry_at is not None:
            values.update(next_at=retry_at, last_error=error)
        else:
            values.update(state="failed", done_at=stamp, last_error=error)
        with self.errors(), self.engine.begin() as conn:
            conn.execute(update(WebhookDeliveryRow).where(*_leased(due)).values(**values))

    def prune_webhooks(self, before: dt.datetime) -> int:
        """Forget the events made before `before` that wait for no endpoint any more (taken
        or failed for good), with their delivery rows; returns how many."""
        pending = select(WebhookDeliveryRow.event_id).where(
            col(WebhookDeliveryRow.state) == "pending"
        )
        old = select(WebhookEventRow.id).where(
            col(WebhookEventRow.created_at) < before,
            col(WebhookEventRow.spread).is_(True),
            col(WebhookEventRow.id).not_in(pending),
        )
        with self.errors(), self.engine.begin() as conn:
            ids = [i for (i,) in conn.execute(old)]
            for i in range(0, len(ids), SPREAD_BATCH):
                chunk = ids[i : i + SPREAD_BATCH]
                conn.execute(
                    delete(WebhookDeliveryRow).where(col(WebhookDeliveryRow.event_id).in_(chunk))
                )
                conn.execute(delete(WebhookEventRow).where(col(WebhookEventRow.id).in_(chunk)))
        return len(ids)

    def webhook_backlogs(self) -> dict[str, Backlog]:
        """Per endpoint: how many are pending, sent and failed, the last success, the last
        error."""
        with self.errors(), self.session() as s:
            counts = s.exec(
                select(
                    WebhookDeliveryRow.endpoint,
                    WebhookDeliveryRow.state,
                    func.count(),
                    func.max(WebhookDeliveryRow.done_at),
                ).group_by(col(WebhookDeliveryRow.endpoint), col(WebhookDeliveryRow.state))
            ).all()
            errors = s.exec(
                select(WebhookDeliveryRow.endpoint, WebhookDeliveryRow.last_error)
                .where(col(WebhookDeliveryRow.last_error).is_not(None))
                .order_by(col(WebhookDeliveryRow.event_id).desc())
            ).all()
        found: dict[str, dict[str, Any]] = {}
        for endpoint, state, n, last in counts:
            entry = found.setdefault(endpoint, {})
            entry[state] = n
            if state == "sent" and last is not None:
                entry["last_sent_at"] = utc(last)
        for endpoint, error in errors:
            found.setdefault(endpoint, {}).setdefault("last_error", error)
        return {
            endpoint: Backlog(
                entry.get("pending", 0),
                entry.get("sent", 0),
                entry.get("failed", 0),
                entry.get("last_sent_at"),
                entry.get("last_error"),
            )
            for endpoint, entry in found.items()
        }


__all__ = ["Backlog", "Due", "WebhookStore"]
