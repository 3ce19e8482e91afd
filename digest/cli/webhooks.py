"""`digest webhooks`: each endpoint's backlog, and posting what is due now."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from .options import State, json_option, lazy

if TYPE_CHECKING:
    from ..deliver import loop
    from ..jobs import webhooks as jobs
else:  # loaded when a command first uses it (see lazy)
    jobs = lazy("digest.jobs.webhooks")
    loop = lazy("digest.deliver.loop")


@click.group()
def webhooks() -> None:
    """The endpoints told of events ([[webhooks]] in digest.toml).

    Events are kept in the database from the moment of the change they report, and posted by
    `digest serve` (every few seconds) and at the end of `digest run`; an endpoint that is
    down gets them later, tried again less and less often for webhook_give_up_hours.

    \b
    Example:
      digest webhooks list
      digest webhooks send
    """


@webhooks.command("list")
@json_option(help="Print the endpoints as JSON.")
@click.pass_obj
def webhooks_list(state: State, as_json: bool) -> None:
    """Each endpoint (its address without credentials or query), its events, how many
    events wait for it, were taken and failed for good, when one was last taken, and the
    last error.

    \b
    Example:
      digest webhooks list --json
    """
    rows = [
        {
            "url": e.url,
            "events": list(e.events),
            "pending": e.backlog.pending,
            "sent": e.backlog.sent,
            "failed": e.backlog.failed,
            "last_sent_at": e.backlog.last_sent_at.isoformat(timespec="seconds")
            if e.backlog.last_sent_at
            else None,
            "last_error": e.backlog.last_error,
        }
        for e in jobs.endpoints(state.store, state.config)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("webhooks: none configured (add [[webhooks]] tables to digest.toml)")
    for r in rows:
        error = f"\tlast error: {r['last_error']}" if r["last_error"] else ""
        click.echo(
            f"{r['url']}\t{r['pending']} pending, {r['sent']} sent, {r['failed']} failed"
            f"\tlast sent {r['last_sent_at'] or 'never'}{error}"
        )


@webhooks.command("send")
@click.pass_obj
def webhooks_send(state: State) -> None:
    """Post every event that is due now (what `digest serve` does every few seconds). The
    exit code is 1 when an endpoint did not take an event.

    \b
    Example:
      digest webhooks send
    """
    report = loop.run(jobs.dispatch(state.store, state.config))
    click.echo(f"webhooks: {report.summary}")
    for url, error in report.errors.items():
        click.echo(f"{url}: {error}", err=True)
    if report.errors:
        sys.exit(1)
