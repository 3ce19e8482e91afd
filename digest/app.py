"""The use cases the CLI (and later the web app) call: one function per command.

Each takes a Config and a Store and returns a value for the caller to print.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .compose import compose
from .config import Config
from .deliver.message import Envelope, build_message, domain_of
from .errors import DocumentError
from .ingest import decode, find_documents, fingerprint, parse_document, read_document
from .model import Digest, Document
from .render import Links, Renderer
from .store import Store

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
    (a syndicated copy) is counted as a duplicate.
    """
    report = IngestReport()
    files = list(find_documents(paths))
    for i in range(0, len(files), BATCH):
        _ingest_batch(store, files[i : i + BATCH], default_date, report)
    return report


def _ingest_batch(
    store: Store, files: list[Path], default_date: str | None, report: IngestReport
) -> None:
    raw: list[tuple[Path, bytes, str]] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.refused.append(DocumentError(str(path), f"cannot read: {exc.strerror}"))
            continue
        raw.append((path, data, hashlib.sha256(data).hexdigest()))
    known = store.known_files(sha for _, _, sha in raw)
    items: list[tuple[Document, str, str, str]] = []
    for path, data, sha in raw:
        if sha in known:
            report.duplicates += 1
            continue
        known.add(sha)  # the same bytes twice in one run count once
        try:
            doc = parse_document(decode(data, str(path)), str(path), default_date)
        except DocumentError as exc:
            report.refused.append(exc)
            continue
        items.append((doc, fingerprint(doc), str(path), sha))
    for stored in store.add_documents(items):
        if stored:
            report.stored += 1
        else:
            report.duplicates += 1


def compose_day(store: Store, config: Config, date: str) -> Digest:
    """Compose the day's digest from its stored stories and store it (replacing an older one)."""
    digest = compose(date, store.documents_for(date), config)
    store.save_digest(digest)
    return digest


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path


def preview_links(config: Config, date: str) -> Links:
    base = config.base_url.rstrip("/")
    return Links(
        unsubscribe=f"{base}/u/preview",
        preferences=f"{base}/p/preview",
        archive=f"{base}/archive/{date}",
    )


def preview(
    store: Store, config: Config, date: str, renderer: Renderer | None = None
) -> PreviewFiles:
    """Write the day's digest as HTML, text and a full .eml under outbox/<date>/."""
    digest = store.get_digest(date)
    renderer = renderer or Renderer(config)
    links = preview_links(config, date)
    html, cap = renderer.fit(digest, links)
    text = renderer.text(digest, links, headline_cap=cap)
    domain = domain_of(config.from_addr)
    envelope = Envelope(
        from_addr=config.from_addr,
        to_addr=f"subscriber@{domain}",
        to_name="Preview Reader",
        subject=digest.subject,
        message_id=f"<digest.{date}.preview@{domain}>",
        list_id=list_id(config),
        unsubscribe_url=links.unsubscribe,
    )
    message = build_message(envelope, text, html)
    folder = config.outbox / date
    folder.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(folder / "digest.html", folder / "digest.txt", folder / "digest.eml")
    files.html.write_text(html, encoding="utf-8")
    files.text.write_text(text, encoding="utf-8")
    files.eml.write_bytes(message.as_bytes())
    return files


def list_id(config: Config) -> str:
    """RFC 2919 List-Id: the newsletter's name and a dotted identifier under its domain."""
    slug = "".join(c if c.isalnum() else "-" for c in config.name.lower()).strip("-")
    slug = "-".join(p for p in slug.split("-") if p) or "digest"
    name = config.name.replace('"', "'")
    return f'"{name}" <{slug}.{domain_of(config.from_addr)}>'
