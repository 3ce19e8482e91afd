"""Sources beside the story documents: `digest fetch` and `digest sources`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from .options import State, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import fetch as fetching
else:  # loaded when a command first uses it (see lazy)
    fetching = lazy("digest.jobs.fetch")


@click.command()
@click.pass_obj
def fetch(state: State) -> None:
    """Fetch every configured source ([[sources]]: feeds and article pages) once and store
    its new and changed items as stories.

    Prints one summary line, then one line per source that failed (its name and the reason)
    and per item left out. The exit code is 1 when a source failed (the others are stored
    all the same), 0 otherwise. `digest run` fetches before it composes.

    \b
    Example:
      digest fetch
    """
    report = fetching.fetch_sources(state.store, state.config)
    click.echo(f"fetch: {report.summary}")
    for line in report.lines:
        click.echo(line, err=True)
    if report.failed:
        sys.exit(1)


@click.command()
@json_option(help="Print the sources as JSON.")
@click.pass_obj
def sources(state: State, as_json: bool) -> None:
    """List the configured sources with their fetch state: when each was last fetched and
    last worked, its last error, and how many items it has brought.

    \b
    Example:
      digest sources --json
    """
    known = state.store.source_states()
    rows = []
    for source in state.config.sources:
        s = known.get(source.name)
        rows.append(
            {
                "name": source.name,
                "url": source.url,
                "kind": source.kind,
                "sections": list(source.sections),
                "checked_at": s.checked_at.isoformat(timespec="seconds")
                if s and s.checked_at
                else None,
                "ok_at": s.ok_at.isoformat(timespec="seconds") if s and s.ok_at else None,
                "error": s.error if s else None,
                "items": s.items if s else 0,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("sources: none configured (add [[sources]] tables to digest.toml)")
    for r in rows:
        when = r["ok_at"] or "never"
        state_line = f"error: {r['error']}" if r["error"] else "ok"
        click.echo(f"{r['name']}\t{r['url']}\t{r['items']} items\tlast worked {when}\t{state_line}")
