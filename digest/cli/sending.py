"""Sending: `digest send`, `digest status`, and the cron job `digest run`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from ..errors import ApprovalError, NotFoundError
from ..jobs import quick
from .options import State, date_option, json_option, lazy, transport_option

if TYPE_CHECKING:
    from ..config import Config
    from ..jobs import daily, sending
else:  # loaded when a command first uses it (see lazy)
    sending = lazy("digest.jobs.sending")
    daily = lazy("digest.jobs.daily")


def _progress_bar() -> tuple[
    Callable[[int], None] | None, Callable[[int], None] | None, Callable[[], None]
]:
    """A progress bar on a terminal; nothing when cron or a pipe is watching."""
    if not sys.stdout.isatty():
        return None, None, lambda: None
    holder: dict[str, Any] = {}

    def start(total: int) -> None:
        holder["bar"] = click.progressbar(length=max(total, 1), label="sending", file=sys.stderr)
        holder["bar"].__enter__()

    def step(n: int) -> None:
        if "bar" in holder:
            holder["bar"].update(n)

    def finish() -> None:
        if "bar" in holder:
            holder["bar"].__exit__(None, None, None)

    return step, start, finish


def _warn_alignment(config: Config) -> None:
    """At the start of send and run: one line on stderr when the sender domains differ."""
    if warning := sending.sender_warning(config):
        click.echo(warning, err=True)


@click.command()
@date_option()
@transport_option()
@click.option(
    "--dry-run", is_flag=True, help="Render and write to the outbox, whatever the config."
)
@click.option("--concurrency", type=click.IntRange(1, 1000), help="SMTP connections at once.")
@click.option("--rate", type=click.FloatRange(0), help="Messages per second at most (0: no limit).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Sending processes sharing the send through the database.",
)
@click.pass_obj
def send(
    state: State,
    date: str,
    transport: str | None,
    dry_run: bool,
    concurrency: int | None,
    rate: float | None,
    workers: int,
) -> None:
    """Send the composed digest for a day to every active subscriber, each exactly once.

    Running it again delivers only what is not yet sent (deferred ones are retried). A day
    that is held, or waits for a required approval, is refused (see digest approve). The exit
    code is 1 when anything failed or was deferred, or the day was refused or held.

    \b
    Example:
      digest send --date 2026-11-26 --transport smtp --concurrency 8
    """
    _warn_alignment(state.config)
    step, start, finish = _progress_bar()
    request = sending.SendRequest(date, transport, dry_run, concurrency, rate, workers)
    try:
        result = sending.send(state.store, state.config, request, step, start)
    except ApprovalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        finish()
    click.echo(result.summary)
    if not result.complete:
        sys.exit(1)


@click.command()
@date_option()
@json_option(help="Print JSON.")
@click.pass_obj
def status(state: State, date: str, as_json: bool) -> None:
    """Show a day's deliveries by state and its approval (pending, approved or held), and
    what each sending process (host:pid) sent, failed, deferred and skipped, and holds right
    now. The exit code is 1 when the day has no digest.

    \b
    Example:
      digest status --date 2026-11-26 --json
    """
    try:
        day = quick.day_status(state.config, date)
        if day is None:  # not a SQLite file at this schema: the store answers
            day = sending.day_status(state.store, date, state.config)
    except NotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(day.as_json()))
        return
    line = f"{date}: " + ", ".join(f"{v} {k}" for k, v in day.counts.items())
    line = line if day.begun else f"{line} (composed, not sent yet)"
    click.echo(f"{line}; approval: {day.approval}")
    for worker, share in sorted(day.workers.items()):
        click.echo(f"  {worker}: " + ", ".join(f"{v} {k}" for k, v in share.items()))


@click.command()
@date_option(required=False, help="The day to send (default: today, UTC).")
@transport_option()
@click.pass_obj
def run(state: State, date: str | None, transport: str | None) -> None:
    """The daily job for cron: fetch the sources, ingest the inbox, compose the day if needed,
    send it.

    Safe to run twice (the second run sends nothing new); refuses to start while another run
    or send holds the lock, or when the inbox folder (the inbox setting) does not exist. A day
    that is held, or waits for a required approval, is composed and not sent (exit code 0):
    the first run after `digest approve` sends it. A day that waits is mailed once to the
    editors in the editor_emails setting, with the link to its editor page.

    \b
    Example:
      digest run --date 2026-11-26
    """
    # Today where the newsletter is made (time_zone), not where the machine's clock says.
    day = date or dt.datetime.now(ZoneInfo(state.config.time_zone)).date().isoformat()
    _warn_alignment(state.config)
    step, _, finish = _progress_bar()
    try:
        result = daily.run(state.store, state.config, day, transport, step)
    finally:
        finish()
    if result.fetched is not None:
        click.echo(f"fetch: {result.fetched.summary}")
        for line in result.fetched.lines:
            click.echo(line, err=True)
    refused = result.ingest.refused
    for err in refused:
        click.echo(f"refused: {err}", err=True)
    for warning in result.ingest.warnings:
        click.echo(warning, err=True)
    click.echo(f"ingest: {result.ingest.summary}")
    if result.composed:
        click.echo(f"compose: {day}")
    click.echo(result.send_line)
    if result.notice.told:
        click.echo(f"notify: {day} waits for approval; told {', '.join(result.notice.told)}")
    for warning in result.notice.warnings:
        click.echo(warning, err=True)  # the editors not told do not fail the run
    if result.webhooks is not None:
        # An endpoint that is down does not fail the run: its events wait in the database.
        click.echo(f"webhooks: {result.webhooks.summary}")
        for url, error in result.webhooks.errors.items():
            click.echo(f"webhooks: {url}: {error}", err=True)
    failed = result.fetched is not None and result.fetched.failed
    if refused or failed or not result.complete:
        sys.exit(1)
