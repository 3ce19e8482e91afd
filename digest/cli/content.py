"""The composing half: `digest ingest`, `digest compose` and `digest preview`."""

from __future__ import annotations

import json
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from .options import State, date_option, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import digests
    from ..jobs import ingest as ingesting
else:  # loaded when a command first uses it (see lazy)
    digests = lazy("digest.jobs.digests")
    ingesting = lazy("digest.jobs.ingest")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option(help="Print the parsed documents; store nothing.")
@click.option(
    "--explain",
    is_flag=True,
    help="Print each line of each FILE with the role the parser gave it and why, then what "
    "it made of them; store nothing.",
)
@date_option(required=False, help="Date for documents that carry none.", dest="default_date")
@click.pass_obj
def ingest(
    state: State,
    paths: tuple[Path, ...],
    as_json: bool,
    explain: bool,
    default_date: str | None,
) -> None:
    """Read story documents (files, or folders searched for *.txt) into the database.

    Bad files are refused with a one-line error each; the good ones still go in, and the exit
    code is 1 when anything was refused. The same story is stored once: a corrected or fuller
    version replaces it, a copy or shorter capture is skipped. Stories for a day whose digest
    was already sent are stored with a warning.

    \b
    Example:
      digest ingest samples/2026-11-26/
      digest ingest --json story.txt
      digest ingest --explain inbox/odd-page.txt
    """
    if explain:
        accepted = True
        for i, path in enumerate(paths):
            lines, ok = ingesting.explain_file(path, default_date, state.config.max_document_bytes)
            click.echo("\n".join([*([""] if i else []), f"==> {path}", *lines]))
            accepted = accepted and ok
        sys.exit(0 if accepted else 1)
    if as_json:
        zone = ZoneInfo(state.config.time_zone)
        docs, errors = ingesting.parse_paths(
            paths, default_date, state.config.max_document_bytes, zone
        )
        click.echo(json.dumps([d.to_json() for d in docs], indent=2, ensure_ascii=False))
    else:
        config = state.config
        zone = ZoneInfo(config.time_zone)  # the calendar a feed item's time falls on
        report = ingesting.ingest(state.store, paths, default_date, config.max_document_bytes, zone)
        errors = report.refused
    for err in errors:
        click.echo(f"refused: {err}", err=True)
    if not as_json:
        for warning in report.warnings:
            click.echo(warning, err=True)
        click.echo(f"ingest: {report.summary}")
    if errors:
        sys.exit(1)


@click.command()
@date_option()
@json_option(help="Print the digest as JSON, each story with its archive page's url.")
@click.pass_obj
def compose(state: State, date: str, as_json: bool) -> None:
    """Group a day's stories and headlines into sections and store the digest.

    With --json each story also carries its `url`: its page in the web archive
    (base_url/archive/DATE/ID-title-words), live once the day's send has begun.

    \b
    Example:
      digest compose --date 2026-11-26 --json
    """
    digest = digests.compose_day(state.store, state.config, date)
    if as_json:
        data = digests.with_urls(digest, state.config.base_url)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(
            f"compose: {date}: {digest.story_count} stories, {digest.headline_count} headlines "
            f"in {len(digest.sections)} sections; subject: {digest.subject}"
        )


@click.command()
@date_option()
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a browser.")
@click.pass_obj
def preview(state: State, date: str, open_browser: bool) -> None:
    """Render a composed digest to outbox/DATE/ as digest.html, digest.txt and digest.eml.

    \b
    Example:
      digest preview --date 2026-11-26 --open
    """
    files = digests.preview(state.store, state.config, date)
    for path in (files.html, files.text, files.eml):
        click.echo(str(path))
    if open_browser:
        webbrowser.open(files.html.resolve().as_uri())
