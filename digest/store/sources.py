"""Configured sources' fetch state, one row each: the validators their last answer gave (for
the next conditional GET), when they were last asked and last worked, their last error, and
how many items they have brought."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from .base import BaseStore, insert_new, utc
from .tables import SourceRow, now


@dataclass(frozen=True)
class SourceState:
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    checked_at: dt.datetime | None = None
    ok_at: dt.datetime | None = None
    error: str | None = None
    items: int = 0


def _utc(stamp: dt.datetime | None) -> dt.datetime | None:
    return utc(stamp) if stamp else None


class SourceStore(BaseStore):
    def source_states(self) -> dict[str, SourceState]:
        with self.errors(), self.session() as s:
            rows = s.exec(select(SourceRow)).all()
        return {
            r.name: SourceState(
                r.name,
                r.url,
                r.etag,
                r.last_modified,
                _utc(r.checked_at),
                _utc(r.ok_at),
                r.error,
                r.items,
            )
            for r in rows
        }

    def record_fetch(
        self,
        name: str,
        url: str,
        error: str | None,
        etag: str | None = None,
        last_modified: str | None = None,
        new_items: int = 0,
    ) -> None:
        """What one fetch of a source came to: an answer (error None: its validators are kept
        for the next conditional GET) or the reason it failed (the old validators stay). A
        source whose address changed starts afresh: the old validators were another's."""
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            conn.execute(insert_new(self.engine, SourceRow), [{"name": name, "url": url}])
            old = conn.execute(select(SourceRow.url).where(col(SourceRow.name) == name)).scalar()
            values: dict[str, object] = {
                "url": url,
                "checked_at": stamp,
                "error": error[:1000] if error else None,
            }
            if old != url:
                values.update(etag=None, last_modified=None)
            if error is None:
                # A validator too long for its column is not kept (the next GET is a full one).
                values.update(
                    etag=etag if etag and len(etag) <= 400 else None,
                    last_modified=last_modified
                    if last_modified and len(last_modified) <= 100
                    else None,
                    ok_at=stamp,
                    items=SourceRow.items + new_items,
                )
            conn.execute(update(SourceRow).where(col(SourceRow.name) == name).values(**values))


__all__ = ["SourceState", "SourceStore"]
