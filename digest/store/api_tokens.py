"""API tokens: a name and a SHA-256 of each token (the token itself is shown once, when it is
made, and kept nowhere)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlmodel import col, select

from .base import BaseStore, utc
from .tables import ApiTokenRow, now


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiTokenStore(BaseStore):
    def add_token(self, name: str, token_hash: str) -> bool:
        """Record a new token; False (and nothing changed) when a live token has this name.
        A revoked token's name may be given to a new token (rotating a key)."""
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                delete(ApiTokenRow).where(
                    col(ApiTokenRow.name) == name, col(ApiTokenRow.revoked_at).is_not(None)
                )
            )
            taken = conn.execute(
                select(ApiTokenRow.name).where(col(ApiTokenRow.name) == name)
            ).first()
            if taken is not None:
                return False
            conn.execute(
                ApiTokenRow.__table__.insert(),  # type: ignore[attr-defined]
                {"name": name, "token_hash": token_hash, "created_at": now()},
            )
            return True

    def token_name(self, token_hash: str) -> str | None:
        """The name of the live token with this hash (and it is marked used), else None."""
        with self.errors(), self.engine.begin() as conn:
            found = conn.execute(
                select(ApiTokenRow.name, ApiTokenRow.last_used_at).where(
                    col(ApiTokenRow.token_hash) == token_hash,
                    col(ApiTokenRow.revoked_at).is_(None),
                )
            ).first()
            if found is None:
                return None
            name, used = found
            stamp = now()
            # Written at most once a minute: a busy client must not make every call a write.
            if used is None or stamp - utc(used) > dt.timedelta(minutes=1):
                conn.execute(
                    update(ApiTokenRow)
                    .where(col(ApiTokenRow.name) == name)
                    .values(last_used_at=stamp)
                )
            return str(name)

    def revoke_token(self, name: str) -> bool:
        """False when there is no live token of that name."""
        with self.errors(), self.engine.begin() as conn:
            changed = conn.execute(
                update(ApiTokenRow)
                .where(col(ApiTokenRow.name) == name, col(ApiTokenRow.revoked_at).is_(None))
                .values(revoked_at=now())
            ).rowcount
        return bool(changed)

    def tokens(self) -> list[TokenInfo]:
        with self.errors(), self.session() as s:
            rows = s.exec(select(ApiTokenRow).order_by(col(ApiTokenRow.name))).all()
        return [
            TokenInfo(
                r.name,
                utc(r.created_at),
                utc(r.last_used_at) if r.last_used_at else None,
                utc(r.revoked_at) if r.revoked_at else None,
            )
            for r in rows
        ]


__all__ = ["ApiTokenStore", "TokenInfo"]
