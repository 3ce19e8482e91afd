"""Bounces and complaints: read delivery status notifications (RFC 3464) and feedback reports
(ARF, RFC 5965) from a Maildir or an mbox, map each to the subscriber and send it is about,
and record it.

A report is trusted only through something we signed: the VERP token in the envelope sender
(`bounce_address`), or the unsubscribe token in the returned message's List-Unsubscribe. Our
Message-IDs are guessable, so one alone counts only when the report's recipient is the address
that delivery went to. A token that does not verify is reported as forged and changes nothing.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import mailbox
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from .config import Config
from .deliver.message import addr_spec
from .errors import ConfigError, NotFoundError
from .store import Store
from .store.bounces import Target
from .tokens import TokenError, make_token, read_token

# bounces+<token>.<YYYYMMDD>@domain: the token names the subscriber, the date the send.
VERP = re.compile(r"\+(b[0-9a-f]{8,16}\.[0-9a-f]{1,16}\.[A-Za-z0-9_-]{22})\.(\d{8})@", re.I)
UNSUBSCRIBE_LINK = re.compile(r"/u/([A-Za-z0-9_-]+\.[0-9a-f]+\.[A-Za-z0-9_-]+)>")
UNSUBSCRIBE_SUBJECT = re.compile(
    r"(?:re:\s*)?unsubscribe\s+([A-Za-z0-9_-]+\.[0-9a-f]+\.[A-Za-z0-9_-]+)\s*$", re.I
)
OUR_MESSAGE_ID = re.compile(r"<digest\.(\d{4}-\d\d-\d\d)\.(\d+)\.[^@>\s]+@[^>\s]+>")
STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
SMTP_CODE = re.compile(r"\b([245])\d\d\b")
# ARF feedback types that are a person's complaint (auth-failure and not-spam are not).
COMPLAINTS = frozenset({"abuse", "fraud", "virus", "other"})
MAX_LOCAL_PART = 64  # RFC 5321
_SEVERITY = {"hard": 4, "soft": 3, "delayed": 2, "delivered": 1}
_HEADERS = email.parser.HeaderParser(policy=email.policy.default)


def return_path_for(config: Config, secret: str) -> Callable[[int, str], str]:
    """The envelope sender for (subscriber id, digest date): <local>+<token>.<date>@<domain>
    under bounce_address, else the one return_path (or From) address for everyone."""
    if not config.bounce_address:
        fixed = addr_spec(config.return_path or config.from_addr)
        return lambda _subscriber_id, _date: fixed
    local, at, domain = addr_spec(config.bounce_address).rpartition("@")
    if not at or not local or not domain:
        raise ConfigError("bounce_address must be an address, like bounces@news.example.org")
    if len(local) + 1 + len(make_token(secret, "bounce", 0)) + 9 > MAX_LOCAL_PART:
        raise ConfigError("bounce_address: the part before @ is too long to carry a VERP tag")

    def verp(subscriber_id: int, date: str) -> str:
        token = make_token(secret, "bounce", subscriber_id)
        return f"{local}+{token}.{date.replace('-', '')}@{domain}"

    return verp


# ---- reading reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What one message in the bounce mailbox says, before it is matched to anyone."""

    kind: str  # hard, soft, delayed, delivered, complaint, feedback, other
    detail: str  # status and diagnostic, or the feedback type; one line
    recipient: str | None = None  # the address it is about, when the report says
    verp: tuple[tuple[str, str], ...] = ()  # (token, YYYY-MM-DD) from envelope addresses
    unsubscribe_tokens: tuple[str, ...] = ()  # from the returned message's List-Unsubscribe
    message_id: str | None = None  # the returned message's


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _address(field_value: str | None) -> str | None:
    """'rfc822; Ana@Example.com' -> 'ana@example.com'."""
    if not field_value:
        return None
    value = field_value.rpartition(";")[2].strip().strip("<>").strip()
    return value.lower() or None


def _classify(block: Message) -> tuple[str, str]:
    """(kind, detail) of one per-recipient DSN block."""
    action = str(block.get("Action", "")).strip().lower()
    status = STATUS.search(str(block.get("Status", "")))
    diagnostic = _one_line(str(block.get("Diagnostic-Code", "")))
    code = status.group(0) if status else ""
    klass = status.group(1) if status else ""
    if not klass and (smtp := SMTP_CODE.search(diagnostic)):
        klass = smtp.group(1)
    detail = _one_line(f"{code} {diagnostic}") or action
    if action == "failed":
        # Failed with a 4.x.x status: the MTA gave up retrying a temporary failure.
        return ("soft" if klass == "4" else "hard"), detail
    if action == "delayed":
        return "delayed", detail
    return "delivered", detail


def _returned(parts: list[Message]) -> Message | None:
    """The original message (or its headers) that a report carries back."""
    for part in parts:
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            return inner if isinstance(inner, Message) else None
        if kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            return _HEADERS.parsestr(text)
    return None


def _fields(part: Message | None) -> Message:
    """The fields of a message/feedback-report part (the parser reads them as a message)."""
    if part is not None and part.is_multipart():
        inner = part.get_payload(0)
        if isinstance(inner, Message):
            return inner
    raw = part.get_payload(decode=True) if part is not None else None
    return _HEADERS.parsestr(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else "")


def _tokens(texts: Iterable[str], returned: Message | None) -> dict[str, Any]:
    verp = []
    for text in texts:
        verp += [(t, f"{d[:4]}-{d[4:6]}-{d[6:]}") for t, d in VERP.findall(text)]
    unsubscribe: list[str] = []
    message_id = None
    if returned is not None:
        for value in returned.get_all("List-Unsubscribe", []):
            unsubscribe += UNSUBSCRIBE_LINK.findall(str(value))
        message_id = str(returned.get("Message-ID", "")).strip() or None
    return {
        "verp": tuple(dict.fromkeys(verp)),
        "unsubscribe_tokens": tuple(dict.fromkeys(unsubscribe)),
        "message_id": message_id,
    }


def parse_report(data: bytes) -> Report:
    """Read a DSN or an ARF report; anything else is kind 'other'."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    report_type = str(msg.get_param("report-type", "", header="content-type")).lower()
    if msg.get_content_type() != "multipart/report" or not msg.is_multipart():
        # The List-Unsubscribe mailto: a mail client sends "unsubscribe TOKEN" as the subject.
        asked = UNSUBSCRIBE_SUBJECT.match(_one_line(str(msg.get("Subject", ""))))
        if asked:
            return Report(
                "unsubscribe", "unsubscribe request by email", unsubscribe_tokens=(asked.group(1),)
            )
        return Report("other", "not a delivery status notification or feedback report")
    parts = [p for p in msg.get_payload() if isinstance(p, Message)]
    returned = _returned(parts)
    envelope = [str(v) for k, v in msg.items() if k.lower() in _ENVELOPE_HEADERS]
    if returned is not None:
        envelope += [str(v) for v in returned.get_all("Return-Path", [])]
    if report_type == "delivery-status":
        status = next((p for p in parts if p.get_content_type() == "message/delivery-status"), None)
        blocks = [b for b in (status.get_payload() if status else []) if isinstance(b, Message)]
        if len(blocks) < 2:
            return Report("other", "delivery status notification without a recipient")
        envelope += [str(v) for v in blocks[0].values()]  # X-Postfix-Sender and the like
        kind, detail, recipient = "delivered", "", None
        for block in blocks[1:]:
            k, d = _classify(block)
            if _SEVERITY[k] > _SEVERITY[kind] or not detail:
                kind, detail = k, d
                recipient = _address(block.get("Original-Recipient")) or _address(
                    block.get("Final-Recipient")
                )
        return Report(kind, detail, recipient, **_tokens(envelope, returned))
    if report_type == "feedback-report":
        part = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
        fields = _fields(part)
        feedback = str(fields.get("Feedback-Type", "")).strip().lower()
        envelope += [str(v) for v in fields.get_all("Original-Mail-From", [])]
        recipient = _address(fields.get("Original-Rcpt-To")) or (
            _address(addr_spec(str(returned.get("To", "")))) if returned is not None else None
        )
        kind = "complaint" if feedback in COMPLAINTS else "feedback"
        return Report(kind, f"feedback {feedback or '?'}", recipient, **_tokens(envelope, returned))
    return Report("other", f"a report of type {report_type or '?'}")


_ENVELOPE_HEADERS = frozenset(
    {"to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to"}
)


def read_mailbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every message in a Maildir folder, an mbox file, or one .eml."""
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise NotFoundError(f"{path}: not a Maildir folder (no cur/ or new/)")
        folder = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(folder.keys()):
            yield f"{path}/{key}", folder.get_bytes(key)
        return
    if not path.is_file():
        raise NotFoundError(f"{path}: no such Maildir folder or mbox file")
    with path.open("rb") as fh:
        is_mbox = fh.read(5) == b"From "
    if not is_mbox:
        yield str(path), path.read_bytes()
        return
    box = mailbox.mbox(path, factory=None, create=False)
    for n, key in enumerate(box.keys(), 1):
        yield f"{path}:{n}", box.get_bytes(key)


# ---- recording ----------------------------------------------------------------------------


@dataclass
class Outcome:
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
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def problems(self) -> list[Outcome]:
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


def _unsubscribe(store: Store, secret: str, source: str, report: Report) -> Outcome:
    """An unsubscribe request mailed to the List-Unsubscribe address: honoured at once, when
    the token in its subject verifies."""
    try:
        subscriber_id = read_token(secret, report.unsubscribe_tokens[0], "unsubscribe")
    except TokenError:
        return Outcome(source, "unsubscribe", "forged", "the token in the subject does not verify")
    sub = store.get_subscriber(subscriber_id)
    if sub is None:
        return Outcome(source, "unsubscribe", "unmatched", f"no subscriber {subscriber_id}")
    changed = sub.status != "unsubscribed"
    if changed:
        store.set_status(sub.id, "unsubscribed")
    result = "recorded" if changed else "already recorded"
    return Outcome(source, "unsubscribe", result, report.detail, sub.email, None, "unsubscribed")


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
            out.outcomes.append(Outcome(source, report.kind, "ignored", report.detail))
            continue
        target, problem, why = _identify(store, secret, report)
        if target is None:
            out.outcomes.append(Outcome(source, report.kind, problem, f"{report.detail}: {why}"))
            continue
        if report.kind == "complaint":
            applied = store.record_complaint(target, report.detail)
        else:
            hard = report.kind == "hard"
            applied = store.record_bounce(target, hard, report.detail, config.bounce_limit)
        out.outcomes.append(
            Outcome(
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


__all__ = [
    "BounceReport",
    "Outcome",
    "Report",
    "parse_report",
    "process",
    "read_mailbox",
    "return_path_for",
]
