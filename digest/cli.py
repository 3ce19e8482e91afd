"""The `digest` command line: parse options, call one function in app.py, print a summary."""

from __future__ import annotations

import datetime as dt
import json
import sys
import webbrowser
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from . import app
from .config import Config, load_config
from .errors import DigestError
from .store import Store


class State:
    """Loads the config and opens the store on first use, so --help never touches either."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def store(self) -> Store:
        return Store(self.config.database_url)


class DigestGroup(click.Group):
    """Catches DigestError once for every command and prints it as one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


def _check_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def date_option(
    required: bool = True, help: str = "The digest's day, YYYY-MM-DD."
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--date", "date", required=required, callback=_check_date, help=help)


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


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parsed documents; store nothing.")
@click.option(
    "--date", "default_date", callback=_check_date, help="Date for documents that carry none."
)
@click.pass_obj
def ingest(state: State, paths: tuple[Path, ...], as_json: bool, default_date: str | None) -> None:
    """Read story documents (files, or folders searched for *.txt) into the database.

    Bad files are refused with a one-line error each; the good ones still go in, and the exit
    code is 1 when anything was refused. The same story is stored once.

    \b
    Example:
      digest ingest samples/2026-11-26/
      digest ingest --json story.txt
    """
    if as_json:
        docs, errors = app.parse_paths(paths, default_date)
        click.echo(json.dumps([d.to_json() for d in docs], indent=2, ensure_ascii=False))
    else:
        report = app.ingest(state.store, paths, default_date)
        errors = report.refused
    for err in errors:
        click.echo(f"refused: {err}", err=True)
    if not as_json:
        click.echo(f"ingest: {report.summary}")
    if errors:
        sys.exit(1)


@cli.command()
@date_option()
@click.option("--json", "as_json", is_flag=True, help="Print the digest as JSON.")
@click.pass_obj
def compose(state: State, date: str, as_json: bool) -> None:
    """Group a day's stories and headlines into sections and store the digest.

    \b
    Example:
      digest compose --date 2026-11-26 --json
    """
    digest = app.compose_day(state.store, state.config, date)
    if as_json:
        click.echo(json.dumps(digest.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(
            f"compose: {date}: {digest.story_count} stories, {digest.headline_count} headlines "
            f"in {len(digest.sections)} sections; subject: {digest.subject}"
        )


@cli.command()
@date_option()
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a browser.")
@click.pass_obj
def preview(state: State, date: str, open_browser: bool) -> None:
    """Render a composed digest to outbox/DATE/ as digest.html, digest.txt and digest.eml.

    \b
    Example:
      digest preview --date 2026-11-26 --open
    """
    files = app.preview(state.store, state.config, date)
    for path in (files.html, files.text, files.eml):
        click.echo(str(path))
    if open_browser:
        webbrowser.open(files.html.resolve().as_uri())


def main() -> None:
    cli(prog_name="digest")
