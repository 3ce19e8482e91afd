"""The database tables. Only the store package imports sqlmodel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..model import Document


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Named constraints and indexes, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class StoryRow(SQLModel, table=True):
    __tablename__ = "stories"
    __table_args__ = (
        # Where a new document finds the story it may be another version of (stories.py):
        # the same day and the same opening words, title or file. See migration 0004. The
        # first also serves every query by day (0004 dropped the index on the date alone).
        Index(None, "date", "lead"),
        Index(None, "date", "title_key"),
        Index(None, "date", "path_key"),
        Index(None, "path_key"),  # a feed item's story, whatever its day (0009)
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(unique=True, max_length=64)
    date: str = Field(max_length=10)
    # Hashes (32 hex digits) of the body's first words (None: too short a body to tell), of
    # the title's folded words, and of the path: set on every write, nullable only because
    # rows older than 0004 got them afterwards.
    lead: str | None = Field(default=None, max_length=32)
    title_key: str | None = Field(default=None, max_length=32)
    path_key: str | None = Field(default=None, max_length=32)
    title: str = Field(sa_column=Column(Text, nullable=False))
    title_source: str = Field(max_length=16)
    source: str | None = Field(default=None, max_length=200)
    section_label: str | None = Field(default=None, max_length=200)
    body: list[str] = Field(sa_column=Column(JSON, nullable=False))
    related_links: list[str] = Field(sa_column=Column(JSON, nullable=False))
    headline_groups: list[list[str]] = Field(sa_column=Column(JSON, nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    ingested_at: dt.datetime = Field(default_factory=now)
    # From a feed or a page (see 0009): the original's address, and the feed's categories.
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    categories: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))

    def document(self) -> Document:
        return Document.from_json(
            {
                "date": self.date,
                "title": self.title,
                "title_source": self.title_source,
                "source": self.source,
                "section_label": self.section_label,
                "body": self.body,
                "related_links": self.related_links,
                "headline_groups": self.headline_groups,
                "url": self.url,
                "categories": self.categories or [],
            }
        )


class FileRow(SQLModel, table=True):
    """Every file ingested, by content hash, so a file already read is not read again."""

    __tablename__ = "ingested_files"

    sha256: str = Field(primary_key=True, max_length=64)
    path: str = Field(sa_column=Column(Text, nullable=False))
    story_id: int | None = Field(default=None, foreign_key="stories.id")
    # The fingerprint of the body the file held: when a correction has since replaced that
    # story's text, another copy of this body is an older version, not a new correction.
    fingerprint: str | None = Field(default=None, max_length=64, index=True)
    ingested_at: dt.datetime = Field(default_factory=now)


class DigestRow(SQLModel, table=True):
    __tablename__ = "digests"

    date: str = Field(primary_key=True, max_length=10)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    preheader: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))  # Digest.to_json(), as sent
    composed_at: dt.datetime = Field(default_factory=now)
    # The composition before the editors' overrides (edits.py), which every edit is applied
    # to again; None for digests stored before 0007 (their `data` is their base).
    base: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Once the send has begun `data` stays what subscribers get; an edit after that corrects
    # this copy, which the archive and the feed show, marked corrected at that time.
    archive: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    corrected_at: dt.datetime | None = None


class SubscriberRow(SQLModel, table=True):
    __tablename__ = "subscribers"
    # An id is never given out twice, even after the highest one is removed: the links in
    # old emails name the id, and must never act on somebody else (SQLite's AUTOINCREMENT;
    # PostgreSQL's sequence never goes back anyway). See migration 0003.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)  # normalised, lower case
    name: str | None = Field(default=None, max_length=200)
    sections: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="active", index=True, max_length=16)
    hard_bounces: int = 0  # consecutive permanent failures; reset by a delivery
    created_at: dt.datetime = Field(default_factory=now)
    updated_at: dt.datetime = Field(default_factory=now)


class SendRow(SQLModel, table=True):
    """A digest's send, created once per date whoever starts it."""

    __tablename__ = "sends"

    id: int | None = Field(default=None, primary_key=True)
    date: str = Field(unique=True, max_length=10)
    started_at: dt.datetime = Field(default_factory=now)
    finished_at: dt.datetime | None = None


class DeliveryRow(SQLModel, table=True):
    """One subscriber's copy of one send, and where it stands."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("send_id", "subscriber_id"),
        # What a worker claims from: the queued deliveries of a send, in id order.
        Index(None, "send_id", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    send_id: int = Field(foreign_key="sends.id")
    subscriber_id: int = Field(foreign_key="subscribers.id", index=True)
    # queued, sending (claimed by a worker), sent, failed, deferred, skipped
    state: str = Field(default="queued", max_length=16)
    attempts: int = 0
    last_reply: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str | None = Field(default=None, max_length=300, index=True)  # for bounces
    worker: str | None = Field(default=None, max_length=100)
    lease_until: dt.datetime | None = None
    updated_at: dt.datetime = Field(default_factory=now)


class EditorSessionRow(SQLModel, table=True):
    """A signed-in editor's session: the cookie names it, signing out deletes it."""

    __tablename__ = "editor_sessions"

    id: str = Field(primary_key=True, max_length=64)  # the random session id
    editor: str = Field(default="editor", max_length=100)  # the signed-in editor's name
    created_at: dt.datetime = Field(default_factory=now)
    expires_at: dt.datetime = Field(index=True)


class RateEventRow(SQLModel, table=True):
    """One counted hit of a rate limit (a subscribe request, a confirmation email), so every
    process serving the web side counts against the same limit. The key is a hash: no client
    address or mailbox is kept here."""

    __tablename__ = "rate_events"
    __table_args__ = (Index(None, "kind", "key_hash", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    key_hash: str = Field(max_length=64)  # sha256 hex of what is limited
    at: dt.datetime = Field(index=True)


class ApprovalRow(SQLModel, table=True):
    """A day's approval, once an editor has given or withheld it: `approved` or `held` (a
    `pending` row is never written: without a row, the `approval` setting decides)."""

    __tablename__ = "approvals"

    date: str = Field(primary_key=True, max_length=10)
    state: str = Field(max_length=16)
    changed_at: dt.datetime = Field(default_factory=now)
    changed_by: str = Field(max_length=100)  # "cli", or the signed-in editor's name


class EditorRow(SQLModel, table=True):
    """A named editor account: the web side's sign-in. Only an argon2 hash of the password
    is kept (see jobs/editors.py)."""

    __tablename__ = "editors"

    name: str = Field(primary_key=True, max_length=40)
    password_hash: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=now)


class OverrideRow(SQLModel, table=True):
    """An editor's override of a day's digest: what the last edit of one field of one item
    set. The item is named by something composing again does not change: `story:ID` (the
    story's row id, kept through corrections), `headline:KEY` (its normalised text),
    `section:NAME` (the order of its stories) or `day` (subject, preheader, lead)."""

    __tablename__ = "overrides"

    date: str = Field(primary_key=True, max_length=10)
    target: str = Field(primary_key=True, max_length=400)
    field: str = Field(primary_key=True, max_length=16)
    value: str = Field(sa_column=Column(Text, nullable=False))


class EditRow(SQLModel, table=True):
    """The log of edits: who changed what, when, from what to what (as the editor saw it)."""

    __tablename__ = "edits"
    __table_args__ = (Index(None, "date", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    date: str = Field(max_length=10)
    target: str = Field(max_length=400)
    label: str = Field(sa_column=Column(Text, nullable=False))  # the item, as it was named
    field: str = Field(max_length=16)
    old: str = Field(sa_column=Column(Text, nullable=False))
    new: str = Field(sa_column=Column(Text, nullable=False))
    editor: str = Field(max_length=100)  # "cli", or the signed-in editor's name
    at: dt.datetime = Field(default_factory=now)
    archive_only: bool = False  # made after the send began: it corrected the archive copy


class KeywordRow(SQLModel, table=True):
    """A section keyword an editor added from the desk, used beside the config's."""

    __tablename__ = "section_keywords"

    section: str = Field(primary_key=True, max_length=100)
    word: str = Field(primary_key=True, max_length=100)
    added_by: str = Field(max_length=100)
    added_at: dt.datetime = Field(default_factory=now)


class NoticeRow(SQLModel, table=True):
    """An editor told that a day waits for approval (the `editor_emails` setting): each is
    told once a day, whichever process or machine runs `digest run`."""

    __tablename__ = "approval_notices"

    date: str = Field(primary_key=True, max_length=10)
    address: str = Field(primary_key=True, max_length=320)
    told_at: dt.datetime = Field(default_factory=now)


class SourceRow(SQLModel, table=True):
    """A configured source's fetch state: the validators its last answer gave (for the next
    conditional GET), when it was last asked and last worked, its last error, its items."""

    __tablename__ = "sources"

    name: str = Field(primary_key=True, max_length=100)
    url: str = Field(sa_column=Column(Text, nullable=False))
    etag: str | None = Field(default=None, max_length=400)
    last_modified: str | None = Field(default=None, max_length=100)
    checked_at: dt.datetime | None = None
    ok_at: dt.datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    items: int = 0


class ApiTokenRow(SQLModel, table=True):
    """A JSON API token (`digest tokens create`): its name and a SHA-256 of the token, never
    the token, which is shown once. A token is 32 random bytes: no slow hash is needed to
    keep a stolen table from giving tokens away. Revoking keeps the row, for the list."""

    __tablename__ = "api_tokens"

    name: str = Field(primary_key=True, max_length=40)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: dt.datetime = Field(default_factory=now)
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class WebhookEventRow(SQLModel, table=True):
    """An event for the webhooks, written in the transaction of the change it reports (an
    outbox): a receiver that is down, or a process killed a moment after the change, loses
    nothing. `uid` is the id receivers de-duplicate by; `spread` says a delivery row has been
    made for each endpoint that wants the event."""

    __tablename__ = "webhook_events"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(unique=True, max_length=40)
    type: str = Field(max_length=40)
    created_at: dt.datetime = Field(default_factory=now)
    data: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    spread: bool = Field(default=False, index=True)
    # The subscriber it is about, if any: removing a subscriber removes these too.
    subscriber_id: int | None = Field(default=None, index=True)


class WebhookDeliveryRow(SQLModel, table=True):
    """One event for one endpoint (named by a SHA-256 of its URL), and where it stands:
    pending (with the time of its next try), sent, or failed for good."""

    __tablename__ = "webhook_deliveries"
    # What a dispatcher claims from: the pending ones that are due.
    __table_args__ = (Index(None, "state", "next_at"),)

    event_id: int = Field(primary_key=True, foreign_key="webhook_events.id")
    endpoint: str = Field(primary_key=True, max_length=64)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_at: dt.datetime = Field(default_factory=now)
    lease_until: dt.datetime | None = None  # a dispatcher is posting it until then
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    done_at: dt.datetime | None = None
