"""Each sending process's share of a send, for `digest status`: what it sent, failed,
deferred and skipped, and what it holds right now."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select

from .base import BaseStore
from .tables import DeliveryRow


@dataclass(frozen=True)
class WorkerShare:
    """One sending process's deliveries in a send, by the state it left them in."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    in_hand: int = 0  # claimed (`sending`) and not yet recorded

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "deferred": self.deferred,
            "skipped": self.skipped,
            "in hand": self.in_hand,
        }


# A delivery keeps the worker that last tried it. Only these states count toward its share:
# a deferred delivery put back in the queue for the next run is nobody's until claimed again.
_FIELD = {
    "sent": "sent",
    "failed": "failed",
    "deferred": "deferred",
    "skipped": "skipped",
    "sending": "in_hand",
}


class ProgressStore(BaseStore):
    def worker_shares(self, send_id: int) -> dict[str, WorkerShare]:
        """Per worker ("host:pid"): its deliveries in this send, by state."""
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(DeliveryRow.worker, DeliveryRow.state, func.count())
                .where(
                    col(DeliveryRow.send_id) == send_id,
                    col(DeliveryRow.worker).is_not(None),
                    col(DeliveryRow.state).in_(list(_FIELD)),
                )
                .group_by(col(DeliveryRow.worker), col(DeliveryRow.state))
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for worker, state, n in rows:
            counts.setdefault(worker or "?", {})[_FIELD[state]] = n
        return {worker: WorkerShare(**by_field) for worker, by_field in counts.items()}


__all__ = ["ProgressStore", "WorkerShare"]
