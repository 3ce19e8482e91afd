"""Engine set-up and error translation shared by the store's parts."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from ..errors import ConfigError, DigestError
from . import tables
from .migrate import ensure_schema, upgrade


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The timeout waits out a writer's lock; it comes first, because switching a new file to
    # WAL takes a lock too, which another process setting up the same file may hold.
    # WAL lets a preview read while a send writes.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    # SQLite's lower() and LIKE fold A-Z only: searches by name fold every letter with this.
    dbapi_conn.create_function("fold", 1, fold, deterministic=True)


def fold(value: object) -> object:
    """A text in the case a search compares in (str.casefold); anything else as it is."""
    return value.casefold() if isinstance(value, str) else value


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"database_url: cannot use {safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Database failures become one-line DigestErrors without the password."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise DigestError(f"database {safe_url(url)}: {reason}") from None


def upgrade_database(url: str) -> tuple[str | None, str]:
    """`digest db upgrade`: (revision before, revision after)."""
    engine = make_engine(url)
    try:
        with database_errors(url):
            return upgrade(engine)
    finally:
        engine.dispose()


IN_LIST = 256


def padded_chunks(ids: Sequence[int], size: int = IN_LIST) -> Iterator[list[int]]:
    """`ids` in lists of exactly `size`, the last padded by repeating an id (harmless in IN).

    An IN list renders one placeholder per value, so every new length is a new SQL text, and
    the drivers keep a prepared statement per text and connection (sqlite3 up to 128, psycopg
    up to 100). A send that records outcome batches of every length grew by about 35 MB a
    process that way; one length keeps one statement."""
    for i in range(0, len(ids), size):
        chunk = list(ids[i : i + size])
        yield chunk + [chunk[-1]] * (size - len(chunk))


def utc(stamp: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC one: SQLite hands back naive datetimes for what was
    stored as aware UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def insert_new(engine: Engine, table: Any) -> Any:
    """INSERT that skips rows whose unique key is already there (another machine, or another
    process, may have inserted the same row a moment ago): ON CONFLICT DO NOTHING."""
    # The dialects are imported here: PostgreSQL's alone takes 30 ms that a send on SQLite
    # need not spend (and a PostgreSQL engine has loaded it already).
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing()


class BaseStore:
    def __init__(self, url: str, events: Iterable[str] = ()) -> None:
        self.url = url
        # The webhook event types some configured webhook wants: only those are written.
        self.events = frozenset(events)
        self.engine = make_engine(url)
        with self.errors():
            ensure_schema(self.engine)

    def emit(self, conn: Connection, kind: str, data: dict[str, Any]) -> None:
        """Write a webhook event in the caller's transaction (so it exists exactly when the
        change it reports does), when a configured webhook wants that kind. An event about a
        subscriber (`data["subscriber"]["id"]`) is removed with them."""
        if kind in self.events:
            about = data.get("subscriber")
            conn.execute(
                tables.WebhookEventRow.__table__.insert(),  # type: ignore[attr-defined]
                {
                    "uid": f"evt_{secrets.token_hex(12)}",
                    "type": kind,
                    "created_at": tables.now(),
                    "data": data,
                    "spread": False,
                    "subscriber_id": about.get("id") if isinstance(about, dict) else None,
                },
            )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def errors(self) -> AbstractContextManager[None]:
        return database_errors(self.url)
