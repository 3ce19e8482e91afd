"""A day's approval: `digest approve` and `digest hold`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ..errors import NotFoundError
from .options import State, date_option, lazy

if TYPE_CHECKING:
    from ..jobs import approval
else:  # loaded when a command first uses it (see lazy)
    approval = lazy("digest.jobs.approval")

BY = "cli"  # who changed the state, as the approvals table records it


def _decide(state: State, date: str, approve: bool) -> approval.Change:
    """Call the use case; a day with no digest is an error naming it (exit code 1)."""
    act = approval.approve if approve else approval.hold
    try:
        return act(state.store, state.config, date, BY)
    except NotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.command()
@date_option()
@click.pass_obj
def approve(state: State, date: str) -> None:
    """Approve a day's composed digest, so that it may be sent.

    With approval = "required" a day is sent only once approved: the next `digest run` (or a
    `digest send`) sends it. Approving a held day resumes its send where it stopped, and
    nobody gets it twice. The exit code is 1 when the day has no digest.

    \b
    Example:
      digest approve --date 2026-11-26
    """
    change = _decide(state, date, approve=True)
    click.echo(f"approve: {date} approved (was {change.before}); the next digest run sends it")


@click.command()
@date_option()
@click.pass_obj
def hold(state: State, date: str) -> None:
    """Hold a day's digest: it is not sent until approved again.

    A send under way (any process, any machine) starts no new message, lets those in flight
    finish and be recorded, and stops; `digest approve` resumes it. The exit code is 1 when
    the day has no digest.

    \b
    Example:
      digest hold --date 2026-11-26
    """
    change = _decide(state, date, approve=False)
    click.echo(
        f"hold: {date} held (was {change.before}); digest approve --date {date} lets it go out"
    )
