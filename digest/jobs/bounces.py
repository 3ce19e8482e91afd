"""Recording what comes back: bounces, complaints and emailed unsubscribe requests.

A report is trusted only through something we signed: the VERP token in the envelope sender
(`bounce_address`), or the unsubscribe token in the returned message's List-Unsubscribe. Our
Message-IDs are guessable, so one alone counts only when the report's recipient is the address
that delivery went to. A token that does not verify is reported as forged and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..bounces import OUR_MESSAGE_ID, Report, parse_report, read_mailbox
from ..config import Config, secret_for
from ..errors import TokenError
from ..store import Store
from ..store.bounces import Target
from ..tokens import read_token


@dataclass
class BounceOutcome:
    """What came of one message in the mailbox."""

    source: str
    kind: str
    result: str  # recorded, already recorded, ignored, unmatched, forged, no delivery
    detail: str
    email: str | None = None
    date: str | None = None
    status: str | None = None  # the subscriber's state afterwards


PROBLEMS = ("unmatched", "forged", "no delivery")


@dataclass
class BounceReport:
    outcomes: list[BounceOutcome] = field(default_factory=list)

    @property
    def problems(self) -> list[BounceOutcome]:
        return [o for o in self.outcomes if o.result in PROBLEMS]

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(o) for o in self.outcomes]

    @property
    def summary(self) -> str:
        done = [o for o in self.outcomes if o.result in ("recorded", "already recorded")]
        kinds = Counter(o.kind for o in done)
        new = [o for o in done if o.result == "recorded"]
        return (
            f"bounces: {len(self.outcomes)} messages: {kinds['hard']} hard, {kinds['soft']} soft, "
            f"{kinds['complaint']} complaints ({len(done) - len(new)} seen before); "
            f"{sum(o.status == 'bounced' for o in new)} subscribers now bounced, "
            f"{sum(o.kind in ('complaint', 'unsubscribe') for o in new)} unsubscribed; "
            f"{sum(o.result == 'ignored' for o in self.outcomes)} ignored, "
            f"{len(self.problems)} not matched"
        )


def _identify(store: Store, secret: str, report: Report) -> tuple[Target | None, str, str]:
    """(delivery, result, detail): the delivery a report is about, or why none is trusted."""
    signed: dict[int, str | None] = {}  # subscriber id -> date, when the token gives one
    forged: list[str] = []
    for token, sent_on in report.verp:
        try:
            signed.setdefault(read_token(secret, token, "bounce"), sent_on)
        except TokenError:
            forged.append("return path")
    for token in report.unsubscribe_tokens:
        try:
            signed.setdefault(read_token(secret, token, "unsubscribe"), None)
        except TokenError:
            forged.append("List-Unsubscribe link")
    ours = OUR_MESSAGE_ID.fullmatch(report.message_id or "")
    if len(signed) > 1:
        return None, "forged", "tokens for different subscribers"
    if signed:
        [(subscriber_id, date)] = signed.items()
        if date is None and ours and int(ours.group(2)) == subscriber_id:
            date = ours.group(1)
        target = store.bounce_target(subscriber_id, date)
        if target is None:
            return None, "no delivery", f"subscriber {subscriber_id} has no delivery {date or ''}"
        return target, "", ""
    if forged:
        return None, "forged", f"the token in the {forged[0]} does not verify"
    if not ours or report.message_id is None:
        return None, "unmatched", "no token or Message-ID of ours"
    target = store.bounce_target_by_message_id(report.message_id)
    if target is None:
        return None, "unmatched", f"no delivery has Message-ID {report.message_id}"
    if report.recipient != target.email.lower():
        return None, "unmatched", "Message-ID of ours, but the recipient is not its subscriber"
    return target, "", ""


def _unsubscribe(store: Store, secret: str, source: str, report: Report) -> BounceOutcome:
    """An unsubscribe request mailed to the List-Unsubscribe address: honoured at once, when
    the token in its subject verifies."""
    try:
        subscriber_id = read_token(secret, report.unsubscribe_tokens[0], "unsubscribe")
    except TokenError:
        return BounceOutcome(
            source, "unsubscribe", "forged", "the token in the subject does not verify"
        )
    sub = store.get_subscriber(subscriber_id)
    if sub is None:
        return BounceOutcome(source, "unsubscribe", "unmatched", f"no subscriber {subscriber_id}")
    changed = sub.status != "unsubscribed"
    if changed:
        store.set_status(sub.id, "unsubscribed")
    result = "recorded" if changed else "already recorded"
    return BounceOutcome(
        source, "unsubscribe", result, report.detail, sub.email, None, "unsubscribed"
    )


def process(
    store: Store, config: Config, secret: str, messages: Iterable[tuple[str, bytes]]
) -> BounceReport:
    """Record every bounce, complaint and emailed unsubscribe request among `messages`.
    Safe to run over the same mailbox again: what was recorded once is not counted twice."""
    out = BounceReport()
    for source, data in messages:
        report = parse_report(data)
        if report.kind == "unsubscribe":
            out.outcomes.append(_unsubscribe(store, secret, source, report))
            continue
        if report.kind not in ("hard", "soft", "complaint"):
            out.outcomes.append(BounceOutcome(source, report.kind, "ignored", report.detail))
            continue
        target, problem, why = _identify(store, secret, report)
        if target is None:
            out.outcomes.append(
                BounceOutcome(source, report.kind, problem, f"{report.detail}: {why}")
            )
            continue
        if report.kind == "complaint":
            applied = store.record_complaint(target, report.detail)
        else:
            hard = report.kind == "hard"
            applied = store.record_bounce(target, hard, report.detail, config.bounce_limit)
        out.outcomes.append(
            BounceOutcome(
                source,
                report.kind,
                "recorded" if applied.changed else "already recorded",
                report.detail,
                target.email,
                target.date,
                applied.status,
            )
        )
    return out


def record_mailbox(store: Store, config: Config, path: Path) -> BounceReport:
    """`digest bounces PATH`: read a Maildir, an mbox or one message and record it all."""
    secret = secret_for(config, config.default_transport)
    return process(store, config, secret, read_mailbox(path))


__all__ = ["BounceOutcome", "BounceReport", "process", "record_mailbox"]
