"""Alembic's migrations of the schema (env.py, versions/), and the newest revision.

The newest revision is read off the file names, so a command can tell a database that needs
no migrating without loading Alembic (about 11 MB and 70 ms) or SQLAlchemy: each revision id
is its file's four-digit prefix, one after another (a test holds this to Alembic's own
answer). Alembic loads env.py and the versions by path; this package runs neither."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
NEWEST = max(p.name[:4] for p in (FOLDER / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))

__all__ = ["FOLDER", "NEWEST"]
