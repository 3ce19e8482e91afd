"""`digest db`: the database schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .options import State, lazy

if TYPE_CHECKING:
    from ..jobs import database
else:  # loaded when a command first uses it (see lazy)
    database = lazy("digest.jobs.database")


@click.group()
def db() -> None:
    """The database schema.

    \b
    Example:
      digest db upgrade
    """


@db.command("upgrade")
@click.pass_obj
def db_upgrade(state: State) -> None:
    """Bring the database schema to this version's revision, keeping all data. Commands set
    up an empty database themselves; one at an older revision needs this.

    \b
    Example:
      DIGEST_DATABASE_URL=postgresql+psycopg://digest@db/digest digest db upgrade
    """
    before, after = database.upgrade(state.config)
    click.echo(f"db: {before or 'empty'} -> {after}" if before != after else f"db: at {after}")
