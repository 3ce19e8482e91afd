"""Quick reads: `digest status` and `digest subscribers list` answered straight from a SQLite
file with the standard library's sqlite3, without the store.

Loading SQLAlchemy, SQLModel and Alembic takes longer than the whole 0.15 s these two commands
may take to start (issue #16). So when the database is a SQLite file that exists and whose
schema is this version's (the Alembic revision below), it is opened read-only and asked exactly
what the store would be asked. Anything else (PostgreSQL, a missing file, another revision, any
SQLite error) gets None, and the caller asks the store: the answer is the same either way,
which tests/test_quick_reads.py checks against the store on the same database.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from ..config import Config
from ..migrations import NEWEST
from ..model import Subscriber
from .status import DayStatus, no_digest

# A database at any revision other than the newest is left to the store, which refuses it or
# sets it up.
HEAD = NEWEST

# As the store reports them (store/delivery.py DELIVERY_STATES; store/progress.py WorkerShare).
DELIVERY_STATES = ("queued", "sent", "failed", "deferred", "skipped")
SHARE_OF = {  # a delivery's state -> the worker share it counts toward
    "sent": "sent",
    "failed": "failed",
    "deferred": "deferred",
    "skipped": "skipped",
    "sending": "in hand",
}
SHARE_KEYS = ("sent", "failed", "deferred", "skipped", "in hand")

_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def sqlite_file(url: str) -> Path | None:
    """The file a plain SQLite URL names (sqlite:///relative.db, sqlite:////absolute.db);
    None for anything else: another database, memory, or a URL with options."""
    for prefix in _PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if path and path != ":memory:" and "?" not in path:
                return Path(path)
    return None


@contextmanager
def _reading(config: Config) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to the configured SQLite file at HEAD; None when there is no
    such file. Closed on the way out."""
    path = sqlite_file(config.database_url)
    if path is None or not path.is_file():
        yield None
        return
    uri = f"{path.resolve().as_uri()}?mode=ro"
    # The store's busy timeout: a writer committing at this moment is waited for.
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        found = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        yield conn if found == [(HEAD,)] else None


def day_status(config: Config, date: str) -> DayStatus | None:
    """As jobs/sending.py's day_status (NotFoundError when the day has no digest); None when
    only the store can tell."""
    try:
        with _reading(config) as conn:
            return None if conn is None else _day_status(conn, date, config.approval_required)
    except sqlite3.Error:
        return None


def _day_status(conn: sqlite3.Connection, date: str, required: bool) -> DayStatus:
    send = conn.execute("SELECT id FROM sends WHERE date = ?", (date,)).fetchone()
    composed = conn.execute("SELECT 1 FROM digests WHERE date = ?", (date,)).fetchone()
    if send is None and composed is None:
        raise no_digest(date)
    decided = conn.execute("SELECT state FROM approvals WHERE date = ?", (date,)).fetchone()
    # No decision on record: the approval setting decides (store/approvals.py).
    approval = decided[0] if decided else "pending" if required else "approved"
    if send is None:
        return DayStatus(dict.fromkeys(DELIVERY_STATES, 0), {}, False, approval)
    by_state: dict[str, int] = {}
    workers: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        "SELECT worker, state, COUNT(*) FROM deliveries WHERE send_id = ? GROUP BY worker, state",
        (send[0],),
    )
    for worker, state, n in rows:
        # A claimed delivery (`sending`) is still to be sent: it counts as queued.
        key = "queued" if state == "sending" else state
        by_state[key] = by_state.get(key, 0) + n
        if worker is not None and state in SHARE_OF:
            share = workers.setdefault(worker or "?", {})
            share[SHARE_OF[state]] = n
    counts = {state: by_state.get(state, 0) for state in DELIVERY_STATES}
    shares = {w: {k: share.get(k, 0) for k in SHARE_KEYS} for w, share in workers.items()}
    return DayStatus(counts, shares, True, approval)


def subscribers(config: Config, status: str | None = None) -> list[Subscriber] | None:
    """Every subscriber (in a state), in id order, as the store lists them; None when only the
    store can tell."""
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    query = (
        "SELECT id, email, name, sections, status, hard_bounces "
        f"FROM subscribers {where} ORDER BY id"
    )
    try:
        with _reading(config) as conn:
            if conn is None:
                return None
            return [_subscriber(*row) for row in conn.execute(query, args)]
    except (sqlite3.Error, ValueError):  # ValueError: sections that are not JSON
        return None


def _subscriber(
    id: int, email: str, name: str | None, sections: str | None, status: str, bounces: int
) -> Subscriber:
    chosen = json.loads(sections) if sections is not None else None  # a JSON list, or null
    return Subscriber(id, email, name, tuple(chosen) if chosen else None, status, bounces)


__all__ = ["HEAD", "day_status", "sqlite_file", "subscribers"]
