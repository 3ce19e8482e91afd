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

from . import app, sending
from .config import Config, load_config
from .errors import DigestError
from .store import Store
from .subscribers import STATES, write_csv


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


# ---- subscribers -------------------------------------------------------------------------


@cli.group()
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
    report, errors = app.import_subscribers(state.store, state.config, csv_file, skip_invalid)
    for err in errors:
        click.echo(f"refused: {err}", err=True)
    if report is None:
        click.echo(f"import: nothing imported: {len(errors)} bad rows (see --skip-invalid)")
    else:
        click.echo(f"import: {report.summary}, {len(errors)} bad rows skipped")
    if errors:
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
    outcome = app.add_subscriber(state.store, state.config, email, name, sections)
    click.echo(f"{outcome}: {app.find(state.store, email).email}")


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def subscribers_remove(state: State, email: str) -> None:
    """Delete a subscriber and their delivery records entirely.

    \b
    Example:
      digest subscribers remove ana@example.com
    """
    sub = app.find(state.store, email)
    state.store.remove_subscriber(sub.id)
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
    sub = app.find(state.store, email)
    state.store.set_status(sub.id, "unsubscribed")
    click.echo(f"unsubscribed: {sub.email}")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--status",
    type=click.Choice(STATES),
    help="Only subscribers in this state.",
)
@click.pass_obj
def subscribers_list(state: State, as_json: bool, status: str | None) -> None:
    """List subscribers.

    \b
    Example:
      digest subscribers list --status active --json
    """
    subs = state.store.list_subscribers(status)
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
    click.echo(f"{len(subs)} subscribers")


@subscribers.command("export")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def subscribers_export(state: State, csv_file: Path) -> None:
    """Write the active subscribers to a CSV that `import` reads back.

    \b
    Example:
      digest subscribers export backup.csv
    """
    subs = state.store.list_subscribers("active")
    csv_file.write_text(write_csv((s.email, s.name, s.sections) for s in subs), encoding="utf-8")
    click.echo(f"exported {len(subs)} subscribers to {csv_file}")


# ---- sending -----------------------------------------------------------------------------


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


@cli.command()
@date_option()
@click.option(
    "--transport",
    type=click.Choice(["smtp", "outbox"]),
    help="Default: smtp when smtp_host is configured, else outbox.",
)
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

    Running it again delivers only what is not yet sent (deferred ones are retried). The exit
    code is 1 when anything failed or was deferred.

    \b
    Example:
      digest send --date 2026-11-26 --transport smtp --concurrency 8
    """
    _warn_alignment(state.config)
    step, start, finish = _progress_bar()
    request = sending.SendRequest(date, transport, dry_run, concurrency, rate, workers)
    try:
        result = sending.send(state.store, state.config, request, step, start)
    finally:
        finish()
    click.echo(result.summary)
    if not result.complete:
        sys.exit(1)


@cli.command()
@date_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(state: State, date: str, as_json: bool) -> None:
    """Show a day's deliveries by state, and each sending process's share.

    \b
    Example:
      digest status --date 2026-11-26 --json
    """
    counts = sending.status(state.store, date)
    if as_json:
        click.echo(json.dumps(counts.as_dict()))
        return
    click.echo(f"{date}: " + ", ".join(f"{v} {k}" for k, v in counts.as_dict().items()))
    for worker, (done, held) in sorted(sending.worker_progress(state.store, date).items()):
        click.echo(f"  {worker}: {done} done" + (f", {held} in hand" if held else ""))


@cli.command()
@date_option(required=False, help="The day to send (default: today, UTC).")
@click.option(
    "--transport",
    type=click.Choice(["smtp", "outbox"]),
    help="Default: smtp when smtp_host is configured, else outbox.",
)
@click.pass_obj
def run(state: State, date: str | None, transport: str | None) -> None:
    """The daily job for cron: ingest the inbox, compose the day if needed, send it.

    Safe to run twice (the second run sends nothing new); refuses to start while another run
    or send holds the lock.

    \b
    Example:
      digest run --date 2026-11-26
    """
    day = date or dt.datetime.now(dt.UTC).date().isoformat()
    _warn_alignment(state.config)
    step, _, finish = _progress_bar()
    try:
        result = sending.run(state.store, state.config, day, transport, step)
    finally:
        finish()
    refused = result.ingest.refused
    for err in refused:
        click.echo(f"refused: {err}", err=True)
    click.echo(f"ingest: {result.ingest.summary}")
    if result.composed:
        click.echo(f"compose: {day}")
    click.echo(result.send.summary)
    if refused or not result.send.complete:
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on.",
)
@click.pass_obj
def serve(state: State, host: str, port: int) -> None:
    """Run the web side: archive and feed, unsubscribe and preferences pages, subscribe form,
    and (with editor_password set) the editor's preview and test copies.

    \b
    Example:
      DIGEST_EDITOR_PASSWORD=... digest serve --host 0.0.0.0 --port 8000
    """
    # Imported here: the other commands need not load the web stack.
    import uvicorn

    from .web import create_app

    web_app = create_app(state.config, state.store)
    editor = "on" if state.config.editor_password else "off (no editor_password)"
    click.echo(f"serving {state.config.name} on http://{host}:{port}/ (editor pages {editor})")
    uvicorn.run(web_app, host=host, port=port, proxy_headers=True)


@cli.group()
def db() -> None:
    """The database schema.

    \b
    Example:
      digest db upgrade
    """


@db.command("upgrade")
@click.pass_obj
def db_upgrade(state: State) -> None:
    """Bring the database schema to this version's revision, keeping all data. Commands set
    up an empty database themselves; one at an older revision needs this.

    \b
    Example:
      DIGEST_DATABASE_URL=postgresql+psycopg://digest@db/digest digest db upgrade
    """
    from .store.base import upgrade_database

    before, after = upgrade_database(state.config.database_url)
    click.echo(f"db: {before or 'empty'} -> {after}" if before != after else f"db: at {after}")


# ---- deliverability ----------------------------------------------------------------------


def _warn_alignment(config: Config) -> None:
    """At the start of send and run: one line on stderr when the sender domains differ."""
    from .dkim import alignment_warning

    if warning := alignment_warning(config):
        click.echo(warning, err=True)


@cli.group()
def dkim() -> None:
    """DKIM keys for signing every message.

    \b
    Example:
      digest dkim keygen --selector d2026 --domain news.example.org --out keys/
    """


@dkim.command("keygen")
@click.option("--selector", required=True, help="The DKIM selector (a DNS label), e.g. d2026.")
@click.option("--domain", required=True, help="The signing domain: the From domain or its parent.")
@click.option(
    "--out",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder for the key files.",
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["rsa", "ed25519"]),
    default="rsa",
    show_default=True,
    help="rsa (2048-bit, every receiver checks it) or ed25519 (RFC 8463; small and fast).",
)
def dkim_keygen(selector: str, domain: str, folder: Path, kind: str) -> None:
    """Write a new DKIM key pair and print the DNS TXT record to publish.

    The private key goes to OUT/SELECTOR.DOMAIN.key (mode 600, never over an existing file),
    the record to OUT/SELECTOR.DOMAIN.txt. Publish the record, then set dkim_key_file,
    dkim_selector and dkim_domain.

    \b
    Example:
      digest dkim keygen --selector d2026 --domain news.example.org --out /etc/digest/
    """
    from .dkim import keygen, zone_line

    pair = keygen(selector, domain, folder, kind)
    click.echo(f"private key: {pair.private} (mode 600; keep it secret)")
    click.echo(f"publish this TXT record at {pair.name} (also in {pair.record_file}):")
    click.echo(zone_line(pair.name, pair.record))
    click.echo(
        f"then set dkim_key_file = {str(pair.private)!r}, dkim_selector = {selector!r}, "
        f"dkim_domain = {domain!r}"
    )


@cli.command()
@click.argument("eml", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@date_option(required=False, help="Check the day's preview (written as `digest preview` does).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--spamassassin/--no-spamassassin",
    default=True,
    show_default=True,
    help="Score with SpamAssassin's local rules, when it is installed.",
)
@click.pass_obj
def check(
    state: State, eml: Path | None, date: str | None, as_json: bool, spamassassin: bool
) -> None:
    """Check a rendered message for what gets mail clipped, junked or refused.

    Findings, one a line: HTML size against Gmail's clipping, List-Unsubscribe,
    List-Unsubscribe-Post and List-Id, lines over 998 characters, a text part, alt text,
    https links, DKIM alignment and signature, and the SpamAssassin score with every rule
    that fired. The exit code is 1 when any finding is an error.

    \b
    Example:
      digest check --date 2026-11-26
      digest check outbox/2026-11-26/digest.eml --json
    """
    from .check import check_message

    if (eml is None) == (date is None):
        raise click.UsageError("give one of FILE.eml or --date")
    path = eml if eml is not None else app.preview(state.store, state.config, str(date)).eml
    findings = check_message(path.read_bytes(), state.config, spamassassin)
    if as_json:
        click.echo(json.dumps([vars(f) for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
        errors = sum(f.level == "error" for f in findings)
        warnings = sum(f.level == "warning" for f in findings)
        click.echo(f"check: {path}: {errors} errors, {warnings} warnings")
    if any(f.level == "error" for f in findings):
        sys.exit(1)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what came of each message as JSON.")
@click.pass_obj
def bounces(state: State, path: Path, as_json: bool) -> None:
    """Record the bounces and spam complaints in a Maildir folder or an mbox file.

    Delivery status notifications (RFC 3464) and feedback reports (ARF, RFC 5965) are mapped
    to their subscriber and send by the VERP return path (bounce_address), the unsubscribe
    link or the Message-ID. A hard bounce (5.x.x) counts toward bounce_limit, three soft ones
    (4.x.x) in a row count as one hard, and a complaint unsubscribes at once. Reading the same
    mailbox again changes nothing. Exit code 1 when some report matched no one or was forged.

    \b
    Example:
      digest bounces ~/Maildir/.bounces
      digest bounces /var/mail/bounces --json
    """
    from .bounces import process, read_mailbox

    secret = sending.secret_for(state.config, state.config.default_transport)
    report = process(state.store, state.config, secret, read_mailbox(path))
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    for problem in report.problems:
        click.echo(f"{problem.result}: {problem.source}: {problem.detail}", err=True)
    if not as_json:
        click.echo(report.summary)
    if report.problems:
        sys.exit(1)


def main() -> None:
    cli(prog_name="digest")
