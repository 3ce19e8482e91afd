"""The use cases the CLI (and later the web app) call: one function per command.

Each takes a Config and a Store and returns a value for the caller to print.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .compose import compose
from .config import Config
from .deliver.message import Recipient, fill_tokens
from .deliver.variants import Variants
from .dkim import load_signer, sign_message
from .errors import ComposeError, DocumentError, NotFoundError
from .ingest import Parsed, Parser, find_documents, read_document
from .model import Digest, Document, Subscriber
from .store import Store
from .store.subscribers import ImportReport
from .subscribers import SubscriberError, new_subscriber, normalize_email, read_csv

BATCH = 500  # documents stored per transaction


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    refused: list[DocumentError] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{self.stored} stored, {self.duplicates} duplicates skipped, "
            f"{len(self.refused)} refused"
        )


def parse_paths(
    paths: Iterable[Path], default_date: str | None = None
) -> tuple[list[Document], list[DocumentError]]:
    """Parse every document under `paths` without storing anything (for --json)."""
    docs: list[Document] = []
    errors: list[DocumentError] = []
    for path in find_documents(paths):
        try:
            docs.append(read_document(path, default_date)[0])
        except DocumentError as exc:
            errors.append(exc)
    return docs, errors


def ingest(store: Store, paths: Iterable[Path], default_date: str | None = None) -> IngestReport:
    """Read and store documents. Bad files are refused one by one; the good ones still go in.

    A file already ingested (same bytes) is not parsed again; the same story from another file
    (a syndicated copy) is counted as a duplicate. Batches overlap: one is parsed (on every
    core, when there are many) while the one before is stored.
    """
    report = IngestReport()
    files = list(find_documents(paths))
    with Parser(len(files)) as parser:
        waiting: tuple[list[tuple[str, str]], Callable[[], list[Parsed]]] | None = None
        for i in range(0, len(files), BATCH):
            todo = _new_files(store, files[i : i + BATCH], default_date, report)
            started = (
                [(path, sha) for path, _, _, sha in todo],
                parser.submit([(path, data, day) for path, data, day, _ in todo]),
            )
            if waiting:
                _store_parsed(store, *waiting, report)
            waiting = started
        if waiting:
            _store_parsed(store, *waiting, report)
    return report


def _new_files(
    store: Store, files: list[Path], default_date: str | None, report: IngestReport
) -> list[tuple[str, bytes, str | None, str]]:
    """(path, bytes, default date, sha256) of the files not ingested before."""
    raw: list[tuple[Path, bytes, str]] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.refused.append(DocumentError(str(path), f"cannot read: {exc.strerror}"))
            continue
        raw.append((path, data, hashlib.sha256(data).hexdigest()))
    known = store.known_files(sha for _, _, sha in raw)
    todo: list[tuple[str, bytes, str | None, str]] = []
    for path, data, sha in raw:
        if sha in known:
            report.duplicates += 1
            continue
        known.add(sha)  # the same bytes twice in one run count once
        todo.append((str(path), data, default_date, sha))
    return todo


def _store_parsed(
    store: Store,
    files: list[tuple[str, str]],
    results: Callable[[], list[Parsed]],
    report: IngestReport,
) -> None:
    items: list[tuple[Document, str, str, str]] = []
    for (path, sha), parsed in zip(files, results(), strict=True):
        if isinstance(parsed, DocumentError):
            report.refused.append(parsed)
        else:
            items.append((parsed[0], parsed[1], path, sha))
    for stored in store.add_documents(items):
        if stored:
            report.stored += 1
        else:
            report.duplicates += 1


def compose_day(store: Store, config: Config, date: str) -> Digest:
    """Compose the day's digest from its stored stories and store it (replacing an older one,
    unless sending has begun: then subscribers would get different digests for one day)."""
    if store.find_send(date) is not None:
        raise ComposeError(f"the digest for {date} is already being sent; it cannot change now")
    digest = compose(date, store.documents_for(date), config)
    store.save_digest(digest)
    return digest


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path


PREVIEW_RECIPIENT = Recipient(0, "reader@example.com", "Preview Reader", "preview", "preview")


def preview(
    store: Store, config: Config, date: str, sections: tuple[str, ...] | None = None
) -> PreviewFiles:
    """Write the day's digest as HTML, text and the full .eml under outbox/<date>/, exactly as
    a subscriber with `sections` (None: all) would get it, with placeholder link tokens."""
    digest = store.get_digest(date)
    template = Variants(config, digest).get(sections)
    if template is None:
        raise NotFoundError(f"the digest for {date} has none of the sections {sections}")
    r = PREVIEW_RECIPIENT

    folder = config.outbox / date
    folder.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(folder / "digest.html", folder / "digest.txt", folder / "digest.eml")
    tokens = (r.unsubscribe_token, r.preferences_token)
    files.html.write_text(fill_tokens(template.html, *tokens), encoding="utf-8")
    files.text.write_text(fill_tokens(template.text, *tokens), encoding="utf-8")
    files.eml.write_bytes(sign_message(load_signer(config), template.build(r)))
    return files


# ---- subscribers ------------------------------------------------------------------------


def import_subscribers(
    store: Store, config: Config, path: Path, skip_invalid: bool = False
) -> tuple[ImportReport | None, list[str]]:
    """Import a CSV. With bad rows nothing is imported, unless `skip_invalid`; either way the
    bad rows come back as 'FILE:LINE: reason' lines."""
    result = read_csv(path, config.section_names)
    if result.errors and not skip_invalid:
        return None, result.errors
    return store.upsert_subscribers(result.rows), result.errors


def add_subscriber(
    store: Store, config: Config, email: str, name: str | None, sections: str | None
) -> str:
    new = new_subscriber(email, name, sections, config.section_names)
    existing = store.find_subscriber(new.email)
    if existing and existing.status in ("unsubscribed", "bounced"):
        raise SubscriberError(f"{new.email} is {existing.status}; only they can subscribe again")
    if existing:  # what was not given stays as it was
        new = replace(
            new,
            name=new.name if name is not None else existing.name,
            sections=new.sections if sections is not None else existing.sections,
        )
    report = store.upsert_subscribers([new])
    return "added" if report.added else "updated" if report.updated else "unchanged"


def find(store: Store, email: str) -> Subscriber:
    sub = store.find_subscriber(normalize_email(email))
    if sub is None:
        raise NotFoundError(f"no subscriber {email}")
    return sub
