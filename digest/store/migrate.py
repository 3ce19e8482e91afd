"""Schema migrations with Alembic: `digest db upgrade`, and an empty database set up on first use.

A database at an older revision is upgraded (by `digest db upgrade`), never dropped; commands
refuse to work on one, rather than guess. Migrations take a lock first, so several machines
starting at once on an empty PostgreSQL database set it up exactly once.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

from ..errors import SchemaError
from ..migrations import FOLDER, NEWEST

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is loaded only to migrate: a database already at the newest revision, which is
# every command's usual case, is recognised without it (see digest/migrations/__init__.py).
FIRST = "0001"
_PG_LOCK_KEY = 0x64696765  # "dige": one advisory lock for all digest migrations


def _config(conn: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(FOLDER))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(conn: Connection) -> str | None:
    """The database's revision, None when it has none (empty, or made before migrations)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            lock.commit()
            try:
                yield
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                lock.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _upgrade(engine: Engine) -> tuple[str | None, str]:
    # The caller holds the migration lock.
    with engine.begin() as conn:
        before = current(conn)
        from alembic import command

        if before is None and inspect(conn).has_table("stories"):
            # Made by digest before it had migrations: that schema is the first revision.
            command.stamp(_config(conn), FIRST)
            before = FIRST
        command.upgrade(_config(conn), "head")
        return before, current(conn) or "?"


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns (before, after)."""
    with _migration_lock(engine):
        return _upgrade(engine)


def _revision_and_empty(engine: Engine) -> tuple[str | None, bool]:
    with engine.connect() as conn:
        revision = current(conn)
        return revision, revision is None and not inspect(conn).get_table_names()


def ensure_schema(engine: Engine) -> None:
    """Set up an empty database; refuse one at another revision with what to do about it."""
    newest = NEWEST
    revision, _ = _revision_and_empty(engine)
    if revision == newest:
        return
    # Look again under the lock: another process may be setting up this same empty database
    # right now, and between its commit and our look the tables exist but we saw no revision.
    with _migration_lock(engine):
        revision, empty = _revision_and_empty(engine)
        if revision == newest:
            return
        if empty:
            _upgrade(engine)
            return
    raise SchemaError(
        f"the database is at revision {revision or 'none (made before migrations)'}, "
        f"this digest needs {newest}: run 'digest db upgrade' (it keeps all data)"
    )
