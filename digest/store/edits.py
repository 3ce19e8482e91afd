"""Editors' edits of a day's digest: the overrides they set (see digest/edits.py) and the log
of every edit, who made it, when, from what to what.

An edit is written with the digest it makes, in one transaction that holds the day's digest
row: the overrides change, the edited digest is stored, and the log grows together or not at
all. Before the day's send begins, the edited digest is what subscribers get; after, it is
the archive's corrected copy and what subscribers got stays as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlmodel import col, select

from ..edits import Overrides
from ..errors import NotFoundError
from ..model import Digest
from .base import BaseStore, insert_new, utc
from .digests import DigestStore, dumps, has_send, lock_day, withdraw
from .tables import DigestRow, EditRow, OverrideRow, now


@dataclass(frozen=True)
class Change:
    """One override to set (`value` None: remove it, back to as composed), and its log line:
    the item as the editor saw it named, and the old and new values as shown."""

    target: str
    field: str
    value: str | None
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Edit:
    """One line of a day's edit log."""

    date: str
    target: str
    label: str
    field: str
    old: str
    new: str
    editor: str
    at: dt.datetime
    archive_only: bool


class EditStore(BaseStore):
    def overrides(self, date: str) -> Overrides:
        with self.errors(), self.engine.connect() as conn:
            return DigestStore.read_overrides(conn, date)

    def edit_digest(
        self,
        date: str,
        plan: Callable[[Digest, Overrides], Sequence[Change]],
        editor: str,
        edited: Callable[[Digest, Overrides], Digest],
    ) -> tuple[tuple[Change, ...], Digest, bool]:
        """Decide the changes from the day's base and overrides as they are now
        (`plan(base, overrides)`: under the day's lock, so two editors' edits never work from
        the same stale view), record them, and store the day's digest made again from its
        base with every override (`edited(base, overrides)`). Returns the changes, the
        digest, and whether the send had begun (then it is the archive's corrected copy)."""
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            lock_day(conn, date)
            row = conn.execute(
                select(DigestRow.base, DigestRow.data).where(col(DigestRow.date) == date)
            ).first()
            if row is None:
                raise NotFoundError(f"no digest for {date}: run 'digest compose --date {date}'")
            started = has_send(conn, date)
            base = Digest.from_json(json.loads(row.base or row.data))
            changes = tuple(plan(base, DigestStore.read_overrides(conn, date)))
            if not changes:
                return (), Digest.from_json(json.loads(row.data)), started
            for c in changes:
                key = (
                    col(OverrideRow.date) == date,
                    col(OverrideRow.target) == c.target,
                    col(OverrideRow.field) == c.field,
                )
                conn.execute(delete(OverrideRow).where(*key))
                if c.value is not None:
                    conn.execute(
                        insert_new(self.engine, OverrideRow),
                        [{"date": date, "target": c.target, "field": c.field, "value": c.value}],
                    )
            conn.execute(
                insert_new(self.engine, EditRow),
                [
                    {
                        "date": date,
                        "target": c.target,
                        "label": c.label,
                        "field": c.field,
                        "old": c.old,
                        "new": c.new,
                        "editor": editor,
                        "at": stamp,
                        "archive_only": started,
                    }
                    for c in changes
                ],
            )
            digest = edited(base, DigestStore.read_overrides(conn, date))
            values: dict[str, object] = {"subject": digest.subject, "preheader": digest.preheader}
            if started:
                values.update(archive=dumps(digest), corrected_at=stamp)
            else:
                values.update(data=dumps(digest))
                withdraw(conn, date)
            conn.execute(update(DigestRow).where(col(DigestRow.date) == date).values(**values))
        return changes, digest, started

    def edit_log(self, date: str) -> list[Edit]:
        """The day's edits, oldest first."""
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(EditRow).where(EditRow.date == date).order_by(col(EditRow.id))
            ).all()
        return [
            Edit(
                r.date,
                r.target,
                r.label,
                r.field,
                r.old,
                r.new,
                r.editor,
                utc(r.at),
                r.archive_only,
            )
            for r in rows
        ]


__all__ = ["Change", "Edit", "EditStore"]
