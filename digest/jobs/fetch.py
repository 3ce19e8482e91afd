"""`digest fetch`, and the first step of `digest run`: every configured source once, its new
and changed items stored as stories (issue #15).

A source that fails (unreachable, an HTTP error, too large, not a feed or a page) is one line
naming it and the reason; the others are fetched and stored all the same. Each source's state
(the validators of its last answer, when it last worked, its last error) is kept in the
database, so the next fetch is a conditional GET and an unchanged feed costs a 304.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import Config, SourceRule
from ..errors import DocumentError, FetchError
from ..fetch import Fetched, Request, Validators, fetch_all
from ..ingest.feeds import parse_source
from ..store import Store
from .ingest import IngestReport, store_items


@dataclass
class FetchReport:
    sources: int = 0
    new: int = 0  # stories stored or replaced
    unchanged: int = 0  # items seen before as they are (or a whole feed answered 304)
    failed: list[tuple[str, str]] = field(default_factory=list)  # source name, reason
    ingest: IngestReport = field(default_factory=IngestReport)  # items refused, late days

    @property
    def summary(self) -> str:
        return (
            f"{self.sources} sources, {self.new} new, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed"
        )

    @property
    def lines(self) -> list[str]:
        """One line per failed source, then per item left out, then the late-day warnings."""
        found = [f"failed: {name}: {reason}" for name, reason in self.failed]
        found += [f"refused: {exc}" for exc in self.ingest.refused]
        return found + self.ingest.warnings


def _request(source: SourceRule, store_state: dict[str, tuple[str, Validators]]) -> Request:
    url, validators = store_state.get(source.name, (source.url, Validators()))
    # Validators are the old address's: a source moved to another starts afresh.
    return Request(source.name, source.url, validators if url == source.url else Validators())


def fetch_sources(store: Store, config: Config) -> FetchReport:
    """Fetch every configured source once and store what is new."""
    report = FetchReport(sources=len(config.sources))
    if not config.sources:
        return report
    known = {
        name: (s.url, Validators(s.etag, s.last_modified))
        for name, s in store.source_states().items()
    }
    requests = [_request(source, known) for source in config.sources]
    answers = asyncio.run(
        fetch_all(requests, config.base_url, config.max_document_bytes, config.fetch_timeout)
    )
    zone = ZoneInfo(config.time_zone)
    sent: dict[str, bool] = {}
    for source, answer in zip(config.sources, answers, strict=True):
        if isinstance(answer, FetchError):
            report.failed.append((source.name, str(answer)))
            store.record_fetch(source.name, source.url, str(answer))
            continue
        try:
            report.unchanged += _store(store, source, answer, zone, report, sent)
        except Exception as exc:  # one source's items must not stop the others, nor the run
            reason = f"cannot be stored: {type(exc).__name__}: {exc}".splitlines()[0][:200]
            report.failed.append((source.name, reason))
    return report


def _store(
    store: Store,
    source: SourceRule,
    answer: Fetched,
    zone: ZoneInfo,
    report: FetchReport,
    sent: dict[str, bool],
) -> int:
    """Store one source's answer; how many of its items (or 1 for a whole 304) were
    unchanged."""
    kept = answer.validators
    if answer.data is None:
        store.record_fetch(source.name, source.url, None, kept.etag, kept.last_modified)
        return 1
    where = source.name if "://" in source.url else str(Path(source.url))
    try:
        parsed = parse_source(
            answer.data, where, source.name, zone, source.kind, answer.url, answer.content_type
        )
    except DocumentError as exc:
        report.failed.append((source.name, exc.reason))
        store.record_fetch(source.name, source.url, exc.reason)
        return 0
    before = report.ingest.duplicates
    new = store_items(store, parsed, report.ingest, sent)
    report.new += new
    store.record_fetch(source.name, source.url, None, kept.etag, kept.last_modified, new)
    return report.ingest.duplicates - before


__all__ = ["FetchReport", "fetch_sources"]
