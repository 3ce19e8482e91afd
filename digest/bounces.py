"""Bounces and complaints, read: delivery status notifications (RFC 3464), feedback reports
(ARF, RFC 5965) and emailed unsubscribe requests, from a Maildir, an mbox or one file. Pure
parsing: what a report says, and which of our tokens and Message-IDs it carries back.
Matching a report to a delivery and recording it is jobs/bounces.py's work.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import mailbox
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from .addresses import addr_spec
from .deliver.envelope import read_verp
from .errors import NotFoundError

UNSUBSCRIBE_LINK = re.compile(r"/u/([A-Za-z0-9_-]+\.[0-9a-f]+\.[A-Za-z0-9_-]+)>")
UNSUBSCRIBE_SUBJECT = re.compile(
    r"(?:re:\s*)?unsubscribe\s+([A-Za-z0-9_-]+\.[0-9a-f]+\.[A-Za-z0-9_-]+)\s*$", re.I
)
OUR_MESSAGE_ID = re.compile(r"<digest\.(\d{4}-\d\d-\d\d)\.(\d+)\.[^@>\s]+@[^>\s]+>")
STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
SMTP_CODE = re.compile(r"\b([245])\d\d\b")
# ARF feedback types that are a person's complaint (auth-failure and not-spam are not).
COMPLAINTS = frozenset({"abuse", "fraud", "virus", "other"})
_SEVERITY = {"hard": 4, "soft": 3, "delayed": 2, "delivered": 1}
_HEADERS = email.parser.HeaderParser(policy=email.policy.default)


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
        verp += read_verp(text)
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


__all__ = ["OUR_MESSAGE_ID", "Report", "parse_report", "read_mailbox"]
