"""A day's approval: `pending`, `approved` or `held`, shared by every process and machine.

Only an editor's decision is stored (one row per day). Without a row, the `approval` setting
decides: `auto` counts the day as approved, `required` as pending. A send under way reads the
state each time it claims a batch, so a hold stops every sending process (see send.py).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from .base import BaseStore, insert_new
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

    def set_approval(self, date: str, state: str, by: str) -> None:
        """Record an editor's decision (an upsert: the last decision wins)."""
        if state not in ("approved", "held"):
            raise ValueError(f"cannot record approval state {state!r}")
        values = {"date": date, "state": state, "changed_at": now(), "changed_by": by}
        with self.errors(), self.engine.begin() as conn:
            conn.execute(insert_new(self.engine, ApprovalRow), [values])
            conn.execute(update(ApprovalRow).where(col(ApprovalRow.date) == date).values(**values))

    def editors_told(self, date: str) -> set[str]:
        """The editors already told that the day waits for approval."""
        with self.errors(), self.session() as s:
            return set(s.exec(select(NoticeRow.address).where(NoticeRow.date == date)))

    def record_told(self, date: str, address: str) -> None:
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                insert_new(self.engine, NoticeRow),
                [{"date": date, "address": address, "told_at": now()}],
            )


__all__ = ["APPROVAL_STATES", "ApprovalStore"]
