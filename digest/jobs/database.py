"""The database itself: open it for the other use cases, and `digest db upgrade`."""

from __future__ import annotations

from ..config import Config
from ..store import Store
from ..store.base import upgrade_database


def open_store(config: Config) -> Store:
    """The store at the configured URL. An empty database is set up; one at another revision
    is refused with what to do (for an older one: `upgrade`)."""
    return Store(config.database_url, events=config.webhook_events)


def upgrade(config: Config) -> tuple[str | None, str]:
    """Bring the schema to this version's revision, keeping all data: (before, after), where
    before is None for an empty database."""
    return upgrade_database(config.database_url)


__all__ = ["open_store", "upgrade"]
