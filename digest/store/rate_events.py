"""Rate-limit events: each counted hit is a row, so a limit holds across every process and
machine serving the web side, not per process."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, delete, func, select

from .base import BaseStore
from .tables import RateEventRow, now


class RateEventStore(BaseStore):
    def take_rate_slot(
        self, kind: str, key_hash: str, limit: int, window: float, at: dt.datetime | None = None
    ) -> bool:
        """Count a hit of `kind` for `key_hash`, unless `limit` hits are already counted in the
        last `window` seconds: then False, and this hit is not counted.

        The hit is committed before the count, so two processes racing for the last slot
        cannot both get it (each sees the other's row, or one sees both and gives way)."""
        stamp = at or now()
        since = stamp - dt.timedelta(seconds=window)
        with self.errors(), self.session() as s:
            # What is outside the window counts for nothing any more.
            s.exec(
                delete(RateEventRow).where(
                    col(RateEventRow.kind) == kind, col(RateEventRow.at) <= since
                )
            )
            row = RateEventRow(kind=kind, key_hash=key_hash, at=stamp)
            s.add(row)
            s.commit()
            counted = s.exec(
                select(func.count()).where(
                    col(RateEventRow.kind) == kind,
                    col(RateEventRow.key_hash) == key_hash,
                    col(RateEventRow.at) > since,
                )
            ).one()
            if counted <= limit:
                return True
            s.exec(delete(RateEventRow).where(col(RateEventRow.id) == row.id))
            s.commit()
            return False
