"""A day's approval: `pending`, `approved` or `held`, shared by every process and machine.

Only an editor's decision is stored (one row per day). Without a row, the `approval` setting
decides: `auto` counts the day as approved, `required` as pending. A send under way reads the
state each time it claims a batch, so a hold stops every sending process (see send.py).
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import col, select

from ..errors import ApprovalError
from .base import BaseStore, insert_new
from .digests import lock_day, version_of
from .tables import ApprovalRow, NoticeRow, now

APPROVAL_STATES = ("pending", "approved", "held")


class ApprovalStore(BaseStore):
    def approval(self, date: str, required: bool) -> str:
        """The day's state; without a decision on record, `pending` when approval is
        `required`, else `approved`."""
        with self.errors(), self.session() as s:
            row = s.get(ApprovalRow, date)
        if row is not None:
            return row.state
        return "pending" if required else "approved"

    def set_approval(self, date: str, state: str, by: str, seen: str | None = None) -> None:
        """Record an editor's decision (an upsert: the last decision wins). `seen`: the
        digest_version the editor looked at; when the digest has changed since (an edit or
        a recompose), an approval is refused, so nothing is approved unseen."""
        if state not in ("approved", "held"):
            raise ValueError(f"cannot record approval state {state!r}")
        values = {"date": date, "state": state, "changed_at": now(), "changed_by": by}
        with self.errors(), self.engine.begin() as conn:
            lock_day(conn, date)
            if seen is not None and state == "approved" and version_of(conn, date) != seen:
                raise ApprovalError(
                    f"the digest for {date} changed since it was shown (an edit or a "
                    "recompose): look at it again, then approve"
                )
            before = conn.execute(
                select(ApprovalRow.state).where(col(ApprovalRow.date) == date)
            ).scalar()
            conn.execute(insert_new(self.engine, ApprovalRow), [values])
            conn.execute(update(ApprovalRow).where(col(ApprovalRow.date) == date).values(**values))
            if state == "approved" and before != "approved":
                self.emit(conn, "digest.approved", {"date": date, "by": by})

    def editors_told(self, date: str) -> set[str]:
        """The editors already told that the day waits for approval."""
        with self.errors(), self.session() as s:
            return set(s.exec(select(NoticeRow.address).where(NoticeRow.date == date)))

    def claim_notice(self, date: str, address: str) -> bool:
        """Claim telling `address` that the day waits: True for the one process (on any
        machine) that claimed it first, which then mails it (or gives it back)."""
        with self.errors(), self.engine.begin() as conn:
            # RETURNING gives the row back only when this statement inserted it: the row
            # count of an ON CONFLICT DO NOTHING insert is not reliable across drivers.
            found = conn.execute(
                insert_new(self.engine, NoticeRow).returning(col(NoticeRow.address)),
                {"date": date, "address": address, "told_at": now()},
            )
            return found.first() is not None

    def release_notice(self, date: str, address: str) -> None:
        """Give a claim back: its mail failed, so the next run tries again."""
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                delete(NoticeRow).where(
                    col(NoticeRow.date) == date, col(NoticeRow.address) == address
                )
            )


__all__ = ["APPROVAL_STATES", "ApprovalStore"]
