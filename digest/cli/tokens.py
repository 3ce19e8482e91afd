"""`digest tokens`: create, list and revoke the tokens of the JSON API (digest serve)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .options import State, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import api_tokens as jobs
else:  # loaded when a command first uses it (see lazy)
    jobs = lazy("digest.jobs.api_tokens")


@click.group()
def tokens() -> None:
    """Manage the tokens that open the JSON API (/api/v1, digest serve).

    A client sends its token as 'Authorization: Bearer TOKEN'. A token is shown once, when
    it is created; only a hash of it is stored.

    \b
    Example:
      digest tokens create crm-sync
      digest tokens list
      digest tokens revoke crm-sync
    """


@tokens.command("create")
@click.argument("name")
@click.pass_obj
def tokens_create(state: State, name: str) -> None:
    """Create a token named NAME and print it, alone on the last line. It is shown this
    once: keep it now.

    NAME is 1-40 letters, digits, '.', '_' or '-'; a name a live token has is refused.

    \b
    Example:
      digest tokens create crm-sync | tail -n 1 > crm-sync.token
    """
    token = jobs.create_token(state.store, name)
    click.echo(f"tokens: created {name}; it is shown once, keep it now:")
    click.echo(token)


@tokens.command("list")
@json_option()
@click.pass_obj
def tokens_list(state: State, as_json: bool) -> None:
    """List the tokens by name: when each was created, last used and revoked (never the
    tokens themselves).

    \b
    Example:
      digest tokens list --json
    """
    found = jobs.list_tokens(state.store)
    if as_json:
        rows = [
            {
                "name": t.name,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in found
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not found:
        click.echo("tokens: none (digest tokens create NAME)")
    for t in found:
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        revoked = f"\trevoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else ""
        click.echo(f"{t.name}\tcreated {t.created_at:%Y-%m-%d %H:%M} UTC\t{used}{revoked}")


@tokens.command("revoke")
@click.argument("name")
@click.pass_obj
def tokens_revoke(state: State, name: str) -> None:
    """Revoke the token named NAME: it stops working at once.

    \b
    Example:
      digest tokens revoke crm-sync
    """
    jobs.revoke_token(state.store, name)
    click.echo(f"tokens: revoked {name}")
