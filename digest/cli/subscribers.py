"""`digest subscribers`: import, add, remove, unsubscribe, list and export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..jobs import quick
from ..subscribers import SUBSCRIBER_STATES
from .options import State, json_option, lazy, plural

if TYPE_CHECKING:
    from ..jobs import subscribers as jobs
else:  # loaded when a command first uses it (see lazy): `list` may not need it
    jobs = lazy("digest.jobs.subscribers")


@click.group()
def subscribers() -> None:
    """Manage the subscriber list.

    \b
    Example:
      digest subscribers import subscribers/sample.csv
      digest subscribers list --json
    """


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows even if some are bad.")
@click.pass_obj
def subscribers_import(state: State, csv_file: Path, skip_invalid: bool) -> None:
    """Import subscribers from a CSV with columns email, name, sections.

    sections is optional: section names separated by ';', empty for all. By default a file
    with any bad row imports nothing (each bad row is reported with its line number). An
    address that unsubscribed is never resubscribed by an import. Importing twice changes
    nothing.

    \b
    Example:
      digest subscribers import subscribers/sample.csv --skip-invalid
    """
    report, bad = jobs.import_subscribers(
        state.store,
        state.config,
        csv_file,
        skip_invalid,
        refused=lambda reason: click.echo(f"refused: {reason}", err=True),
    )
    if report is None:
        click.echo(f"import: nothing imported: {plural(bad, 'bad row')} (see --skip-invalid)")
    else:
        click.echo(f"import: {report.summary}, {plural(bad, 'bad row')} skipped")
    if bad:
        sys.exit(1)


@subscribers.command("add")
@click.argument("email")
@click.option("--name", help="Display name.")
@click.option("--sections", help="Section names separated by ';' (default: all).")
@click.pass_obj
def subscribers_add(state: State, email: str, name: str | None, sections: str | None) -> None:
    """Add a subscriber, or update the name and sections of an existing one.

    \b
    Example:
      digest subscribers add ana@example.com --name "Ana Ruiz" --sections "Space;Nuclear"
    """
    outcome = jobs.add_subscriber(state.store, state.config, email, name, sections)
    click.echo(f"{outcome}: {jobs.find(state.store, email).email}")


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def subscribers_remove(state: State, email: str) -> None:
    """Delete a subscriber and their delivery records entirely.

    \b
    Example:
      digest subscribers remove ana@example.com
    """
    sub = jobs.remove(state.store, email)
    click.echo(f"removed: {sub.email}")


@subscribers.command("unsubscribe")
@click.argument("email")
@click.pass_obj
def subscribers_unsubscribe(state: State, email: str) -> None:
    """Stop sending to a subscriber, keeping the record (an import will not resubscribe them).

    \b
    Example:
      digest subscribers unsubscribe ana@example.com
    """
    sub = jobs.unsubscribe_address(state.store, email)
    click.echo(f"unsubscribed: {sub.email}")


@subscribers.command("list")
@json_option(help="Print JSON.")
@click.option(
    "--status",
    type=click.Choice(SUBSCRIBER_STATES),
    help="Only subscribers in this state.",
)
@click.pass_obj
def subscribers_list(state: State, as_json: bool, status: str | None) -> None:
    """List subscribers.

    \b
    Example:
      digest subscribers list --status active --json
    """
    subs = quick.subscribers(state.config, status)
    if subs is None:  # not a SQLite file at this schema: the store answers
        subs = jobs.list_subscribers(state.store, status)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "email": s.email,
                        "name": s.name,
                        "sections": list(s.sections) if s.sections else None,
                        "status": s.status,
                    }
                    for s in subs
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    for s in subs:
        sections = "; ".join(s.sections) if s.sections else "all sections"
        click.echo(f"{s.email}\t{s.name or ''}\t{s.status}\t{sections}")
    click.echo(plural(len(subs), "subscriber"))


@subscribers.command("export")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def subscribers_export(state: State, csv_file: Path) -> None:
    """Write the active subscribers to a CSV that `import` reads back.

    \b
    Example:
      digest subscribers export backup.csv
    """
    count = jobs.export(state.store, csv_file)
    click.echo(f"exported {plural(count, 'subscriber')} to {csv_file}")
