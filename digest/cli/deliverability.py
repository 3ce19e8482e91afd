"""Deliverability: `digest check` a message, `digest dkim keygen`, and record `digest bounces`.

The checker, the key tools and the bounce parser are imported inside their commands, so the
other commands (and --help) need not load them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .options import State, date_option, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import digests
else:  # loaded when a command first uses it (see lazy)
    digests = lazy("digest.jobs.digests")


@click.group()
def dkim() -> None:
    """DKIM keys for signing every message.

    \b
    Example:
      digest dkim keygen --selector d2026 --domain news.example.org --out keys/
    """


@dkim.command("keygen")
@click.option(
    "--selector",
    "selectors",
    required=True,
    multiple=True,
    help="The DKIM selector (a DNS label), e.g. d2026. With --type both: give it twice "
    "(the RSA key's first), or once to get SELECTOR-rsa and SELECTOR-ed25519.",
)
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
    type=click.Choice(["rsa", "ed25519", "both"]),
    default="rsa",
    show_default=True,
    help="rsa (2048-bit, every receiver checks it), ed25519 (RFC 8463; small and fast, but "
    "not every receiver checks it), or both: a key of each, to sign every message twice.",
)
def dkim_keygen(selectors: tuple[str, ...], domain: str, folder: Path, kind: str) -> None:
    """Write new DKIM keys and print the DNS TXT record of each to publish.

    Each private key goes to OUT/SELECTOR.DOMAIN.key (mode 600, never over an existing file),
    its record to OUT/SELECTOR.DOMAIN.txt. Publish the records, then set dkim_key_file,
    dkim_selector and dkim_domain as printed. With --type both, every message is signed with
    RSA and with Ed25519 (RFC 8463), so receivers that cannot check Ed25519 still find a
    signature they can.

    \b
    Example:
      digest dkim keygen --selector d2026 --domain news.example.org --out /etc/digest/
      digest dkim keygen --type both --selector r2026 --selector e2026 \\
        --domain news.example.org --out /etc/digest/
    """
    from ..deliver.dkim import keygen_set, zone_line

    kinds = ["rsa", "ed25519"] if kind == "both" else [kind]
    if len(selectors) == 1 and len(kinds) == 2:
        selectors = tuple(f"{selectors[0]}-{k}" for k in kinds)
    if len(selectors) != len(kinds):
        wanted = "one or two --selector" if kind == "both" else "one --selector"
        raise click.UsageError(f"give {wanted} for --type {kind}")
    pairs = keygen_set(list(zip(selectors, kinds, strict=True)), domain, folder)
    for pair in pairs:
        click.echo(f"private key: {pair.private} (mode 600; keep it secret)")
        click.echo(f"publish this TXT record at {pair.name} (also in {pair.record_file}):")
        click.echo(zone_line(pair.name, pair.record))
    if len(pairs) == 1:
        keys, names = repr(str(pairs[0].private)), repr(selectors[0])
    else:
        keys = "[" + ", ".join(repr(str(p.private)) for p in pairs) + "]"
        names = "[" + ", ".join(repr(s) for s in selectors) + "]"
    click.echo(
        f"then set dkim_key_file = {keys}, dkim_selector = {names}, dkim_domain = {domain!r}"
    )


@click.command()
@click.argument("eml", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@date_option(required=False, help="Check the day's preview (written as `digest preview` does).")
@json_option(help="Print the findings as JSON.")
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
    from ..check import check_message

    if (eml is None) == (date is None):
        raise click.UsageError("give one of FILE.eml or --date")
    path = eml if eml is not None else digests.preview(state.store, state.config, str(date)).eml
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


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@json_option(help="Print what came of each message as JSON.")
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
    from ..jobs.bounces import record_mailbox

    report = record_mailbox(state.store, state.config, path)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    for problem in report.problems:
        click.echo(f"{problem.result}: {problem.source}: {problem.detail}", err=True)
    if not as_json:
        click.echo(report.summary)
    if report.problems:
        sys.exit(1)
