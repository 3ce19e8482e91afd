"""Telling the editors that a day's digest waits for their approval (the setting
`editor_emails`): `digest run` mails each of them one plain email with the link to the day's
editor page. Once per day: who was told is kept in the database (`approval_notices`), so a
later run, on any machine, mails only the editors not told yet (one added to the setting, or
one whose mail failed).

A failure here never fails the run: it comes back as a `warning:` line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..deliver.outgoing import Outgoing
from ..errors import DigestError
from ..store import Store
from .mail import deliver_one, plain_message


@dataclass(frozen=True)
class Notice:
    """The editors told in this run, and a warning line for each one who could not be."""

    told: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def day_link(config: Config, date: str) -> str:
    """The day's editor page (behind the editor sign-in: the link opens nothing by itself)."""
    return f"{config.base_url.rstrip('/')}/editor/{date}"


def approval_request(config: Config, date: str, to: str) -> bytes:
    """A short plain-text email: the day waits for approval, and where to give it."""
    return plain_message(
        config,
        to,
        None,
        "approval",
        f"{config.name}: the digest for {date} waits for your approval",
        f"The digest of {config.name} for {date} is composed and waits for an editor's "
        "approval: nothing goes to subscribers until it is approved.\n\n"
        f"Preview it, correct it and approve it (or hold it) on its page:\n\n"
        f"{day_link(config, date)}\n\n"
        f"Or from the command line: digest approve --date {date}\n",
    )


def tell_editors(store: Store, outgoing: Outgoing, date: str) -> Notice:
    """Mail every editor in `editor_emails` not yet told that `date` waits for approval,
    through the configured transport (SMTP, or outbox/DATE/editor-notices/)."""
    config = outgoing.config
    if not config.editor_emails:
        return Notice()
    told: list[str] = []
    warnings: list[str] = []
    for to in config.editor_emails:
        # Claimed before it is mailed: two machines running `digest run` at once tell each
        # editor once between them.
        if not store.claim_notice(date, to):
            continue
        try:
            message = outgoing.sign(approval_request(config, date, to))
            deliver_one(outgoing, f"{date}/editor-notices", to, message)
        except (DigestError, OSError) as exc:
            store.release_notice(date, to)
            warnings.append(f"warning: {to} was not told that {date} waits for approval: {exc}")
            continue
        told.append(to)
    return Notice(tuple(told), tuple(warnings))


__all__ = ["Notice", "approval_request", "day_link", "tell_editors"]
