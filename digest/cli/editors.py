"""`digest editors`: add, remove and list the named editor accounts of the web side."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from .options import State, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import editors as jobs
else:  # loaded when a command first uses it (see lazy)
    jobs = lazy("digest.jobs.editors")


@click.group()
def editors() -> None:
    """Manage the editor accounts that sign in to the editor pages (digest serve).

    Each editor signs in with a name and a password; only an argon2 hash of the password
    is stored. The editor_password setting, if set, also signs in, as the editor named
    'editor'.

    \b
    Example:
      digest editors add alice
      digest editors list
    """


@editors.command("add")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
@click.pass_obj
def editors_add(state: State, name: str, password_stdin: bool) -> None:
    """Add an editor account named NAME, asking for its password (twice, not shown).

    NAME is 1-40 letters, digits, '.', '_' or '-'; the password has at least 8 characters.
    A name already taken is refused.

    \b
    Example:
      digest editors add alice
      printf '%s\\n' "$PASSWORD" | digest editors add bob --password-stdin
    """
    jobs.check_name(name)  # before asking for a password
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    jobs.add_editor(state.store, name, password)
    click.echo(f"editors: added {name}")


@editors.command("remove")
@click.argument("name")
@click.pass_obj
def editors_remove(state: State, name: str) -> None:
    """Remove the editor account NAME; its sessions end at once.

    \b
    Example:
      digest editors remove alice
    """
    jobs.remove_editor(state.store, name)
    click.echo(f"editors: removed {name} (and signed it out)")


@editors.command("list")
@json_option()
@click.pass_obj
def editors_list(state: State, as_json: bool) -> None:
    """List the editor accounts: names and when each was added (never passwords).

    \b
    Example:
      digest editors list --json
    """
    accounts = jobs.list_editors(state.store)
    if as_json:
        rows = [{"name": a.name, "created_at": a.created_at.isoformat()} for a in accounts]
        click.echo(json.dumps(rows, indent=2))
        return
    if not accounts:
        click.echo("editors: none (digest editors add NAME)")
    for a in accounts:
        click.echo(f"{a.name}\tadded {a.created_at:%Y-%m-%d %H:%M} UTC")
