"""The `digest` command line: each command parses its options, calls a use case in
`digest.jobs` and prints a summary. One module per group of commands: content (ingest, compose,
preview), sources (fetch, sources), desk (edit, edits), subscribers, sending (send, status,
run), approval (approve, hold), web (serve), editors, tokens, keywords, deliverability (check, dkim,
bounces) and database (db)."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import click

from ..errors import DigestError
from . import options
from .options import State

# Every command: its name, the module and function that make it, and the first paragraph of
# its help, which `digest --help` lists without importing any command's module (most of them
# pull in the database, the web or the crypto stack, which --help and most commands never
# need). tests/test_cli.py checks each against the command's own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": (
        "content",
        "ingest",
        "Read story documents (files, or folders searched for *.txt) into the database.",
    ),
    "compose": (
        "content",
        "compose",
        "Group a day's stories and headlines into sections and store the digest.",
    ),
    "preview": (
        "content",
        "preview",
        "Render a composed digest to outbox/DATE/ as digest.html, digest.txt and digest.eml.",
    ),
    "fetch": (
        "sources",
        "fetch",
        "Fetch every configured source ([[sources]]: feeds and article pages) once and store "
        "its new and changed items as stories.",
    ),
    "sources": (
        "sources",
        "sources",
        "List the configured sources with their fetch state: when each was last fetched and "
        "last worked, its last error, and how many items it has brought.",
    ),
    "edit": (
        "desk",
        "edit",
        "Edit one story, one related headline, or the day's subject and preheader.",
    ),
    "edits": (
        "desk",
        "edits",
        "List a day's edits, oldest first: when, who, what, and the old and new values.",
    ),
    "subscribers": ("subscribers", "subscribers", "Manage the subscriber list."),
    "send": (
        "sending",
        "send",
        "Send the composed digest for a day to every active subscriber, each exactly once.",
    ),
    "status": (
        "sending",
        "status",
        "Show a day's deliveries by state and its approval (pending, approved or held), and "
        "what each sending process (host:pid) sent, failed, deferred and skipped, and holds "
        "right now. The exit code is 1 when the day has no digest.",
    ),
    "run": (
        "sending",
        "run",
        "The daily job for cron: fetch the sources, ingest the inbox, compose the day if "
        "needed, send it.",
    ),
    "approve": ("approval", "approve", "Approve a day's composed digest, so that it may be sent."),
    "hold": ("approval", "hold", "Hold a day's digest: it is not sent until approved again."),
    "serve": (
        "web",
        "serve",
        "Run the web side: archive and feed, unsubscribe and preferences pages, subscribe "
        "form, and (with editor_password set) the editor's preview and test copies.",
    ),
    "editors": (
        "editors",
        "editors",
        "Manage the editor accounts that sign in to the editor pages (digest serve).",
    ),
    "tokens": (
        "tokens",
        "tokens",
        "Manage the tokens that open the JSON API (/api/v1, digest serve).",
    ),
    "webhooks": (
        "webhooks",
        "webhooks",
        "The endpoints told of events ([[webhooks]] in digest.toml).",
    ),
    "keywords": (
        "keywords",
        "keywords",
        "Manage the section keywords learned from the editor's desk.",
    ),
    "db": ("database", "db", "The database schema."),
    "dkim": ("deliverability", "dkim", "DKIM keys for signing every message."),
    "check": (
        "deliverability",
        "check",
        "Check a rendered message for what gets mail clipped, junked or refused.",
    ),
    "bounces": (
        "deliverability",
        "bounces",
        "Record the bounces and spam complaints in a Maildir folder or an mbox file.",
    ),
}


class DigestGroup(click.Group):
    """Catches DigestError once for every command and prints it as one line; imports a
    command's module only when that command runs (or its help is asked for)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)  # as click lists them

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = COMMANDS.get(cmd_name)
        if found is None:
            return None
        module = importlib.import_module(f"{__name__}.{found[0]}")
        command: click.Command = getattr(module, found[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists them, cut to the same width, from COMMANDS alone."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


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


def main() -> None:
    """Run the command line, then leave without tearing the interpreter down.

    Python's own exit frees every module and object one by one: after a command that loaded
    the database and message stacks that takes about a quarter of a second, every time. So
    once the command is done, and only the main thread is left, the exit handlers run (the
    store closes there: see State.store), the output is flushed, and the process ends."""
    options.close_at_exit = True
    try:
        cli(prog_name="digest")
    except SystemExit as exc:
        if threading.active_count() > 1:  # a thread to wait for: the ordinary way out
            raise
        status = _exit_status(exc.code)
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


def _exit_status(code: object) -> int:
    """What `sys.exit(code)` would make the exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


__all__ = ["State", "cli", "main"]
