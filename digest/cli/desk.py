"""The editorial desk on the command line: `digest edit` and `digest edits`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .options import State, date_option, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import desk
else:  # loaded when a command first uses it (see lazy)
    desk = lazy("digest.jobs.desk")

BY = "cli"  # who made the edit, as the log records it


@click.command()
@date_option()
@click.option("--story", metavar="ID", help="The story to edit (its id in compose --json).")
@click.option("--headline", metavar="TEXT", help="The related headline to edit, by its text.")
@click.option("--title", help="The story's new title ('' puts back the composed one).")
@click.option("--summary", help="The story's new summary ('' puts back the composed one).")
@click.option("--section", metavar="NAME", help="Move the story or headline to this section.")
@click.option("--drop", is_flag=True, help="Leave it out.")
@click.option("--restore", is_flag=True, help="Put a dropped one back.")
@click.option("--lead", is_flag=True, help="Make the story the lead: first, and the subject's.")
@click.option("--up", is_flag=True, help="Move the story one place up in its section.")
@click.option("--down", is_flag=True, help="Move the story one place down in its section.")
@click.option("--subject", help="The day's subject line ('' puts back the composed one).")
@click.option("--preheader", help="The day's preheader ('' puts back the composed one).")
@click.pass_obj
def edit(
    state: State,
    date: str,
    story: str | None,
    headline: str | None,
    title: str | None,
    summary: str | None,
    section: str | None,
    drop: bool,
    restore: bool,
    lead: bool,
    up: bool,
    down: bool,
    subject: str | None,
    preheader: str | None,
) -> None:
    """Edit one story, one related headline, or the day's subject and preheader.

    Each edit is kept as an override of what composing made, so it survives composing the
    day again and late or corrected documents; every edit is logged (digest edits). An edit
    before the day's send begins changes what subscribers get, and withdraws an approval;
    after, it corrects the archive's copy only. An unknown story, headline or section is a
    one-line error naming the valid ones.

    \b
    Example:
      digest compose --date 2026-11-26 --json     # each story's id
      digest edit --date 2026-11-26 --story 12 --title "Ariane 6 flies" --lead
      digest edit --date 2026-11-26 --headline "Some headline" --section Defense
      digest edit --date 2026-11-26 --subject "Ariane 6 flies, and more"
    """
    for pair, both in (
        ("--drop and --restore", drop and restore),
        ("--up and --down", up and down),
    ):
        if both:
            raise click.UsageError(f"{pair} cannot go together")
    request = desk.EditRequest(
        story=story,
        headline=headline,
        title=title,
        summary=summary,
        section=section,
        drop=True if drop else False if restore else None,
        lead=lead,
        move=-1 if up else 1 if down else 0,
        subject=subject,
        preheader=preheader,
    )
    result = desk.edit(state.store, state.config, date, request, BY)
    if not result.changes:
        click.echo(f"edit: {date}: nothing changed")
        return
    for c in result.changes:
        click.echo(f"edit: {date}: {c.label}: {c.field}: {c.old!r} -> {c.new!r}")
    if result.archive_only:
        click.echo(f"edit: {date} is being sent or was sent: this corrects the archive only")
    else:
        click.echo(f"edit: subject: {result.digest.subject}")


@click.command()
@date_option()
@json_option(help="Print the log as JSON.")
@click.pass_obj
def edits(state: State, date: str, as_json: bool) -> None:
    """List a day's edits, oldest first: when, who, what, and the old and new values.

    \b
    Example:
      digest edits --date 2026-11-26 --json
    """
    log = desk.log(state.store, date)
    if as_json:
        rows = [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "editor": e.editor,
                "target": e.target,
                "item": e.label,
                "field": e.field,
                "old": e.old,
                "new": e.new,
                "archive_only": e.archive_only,
            }
            for e in log
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not log:
        click.echo(f"edits: {date}: none")
    for e in log:
        where = " (archive only)" if e.archive_only else ""
        click.echo(
            f"{e.at:%Y-%m-%d %H:%M:%S} {e.editor}: {e.label}: {e.field}: "
            f"{e.old!r} -> {e.new!r}{where}"
        )
