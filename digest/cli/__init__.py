"""The `digest` command line: each command parses its options, calls a use case in
`digest.jobs` and prints a summary. One module per group of commands: content (ingest, compose,
preview), sources (fetch, sources), desk (edit, edits), subscribers, sending (send, status,
run), approval (approve, hold), web (serve), editors, keywords, deliverability (check, dkim,
bounces) and database (db)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import DigestError
from . import (
    approval,
    content,
    database,
    deliverability,
    desk,
    editors,
    keywords,
    sending,
    sources,
    subscribers,
    web,
)
from .options import State


class DigestGroup(click.Group):
    """Catches DigestError once for every command and prints it as one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=DigestGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: digest.toml in the working folder, if any).",
)
@click.version_option(package_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Compose a daily news digest from story documents and send it to subscribers.

    \b
    Example, the whole composing half on the sample day:
      digest ingest samples/
      digest compose --date 2026-11-26
      digest preview --date 2026-11-26
    """
    ctx.obj = State(config_path)


for command in (
    content.ingest,
    content.compose,
    content.preview,
    sources.fetch,
    sources.sources,
    desk.edit,
    desk.edits,
    subscribers.subscribers,
    sending.send,
    sending.status,
    sending.run,
    approval.approve,
    approval.hold,
    web.serve,
    editors.editors,
    keywords.keywords,
    database.db,
    deliverability.dkim,
    deliverability.check,
    deliverability.bounces,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="digest")


__all__ = ["State", "cli", "main"]
