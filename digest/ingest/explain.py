"""`digest ingest --explain FILE`: each line of a document with the role the parser gave it and
why, then what the parser made of them, so a wrong title or a lost paragraph shows its cause."""

from __future__ import annotations

from ..errors import DocumentError
from .parse import parse_document
from .roles import assign

TEXT_CHARS = 72  # of each line shown


def explain(
    text: str, path: str = "<text>", default_date: str | None = None
) -> tuple[list[str], bool]:
    """The report's lines (one per non-blank line of `text`, then the outcome), and whether
    the document is accepted."""
    out = [f"{'line':>5}  {'role':<10}  {'why':<44}  text"]
    for line in assign(text):
        shown = line.text if len(line.text) <= TEXT_CHARS else line.text[: TEXT_CHARS - 1] + "…"
        why = line.why + (f" ({line.date})" if line.date else "")
        out.append(f"{line.number:>5}  {line.role:<10}  {why:<44}  {shown}")
    try:
        doc = parse_document(text, path, default_date)
    except DocumentError as exc:
        out.append(f"refused: {exc.reason}")
        return out, False
    origin = {"document": "the page", "headline": "a related headline", "sentence": "the body"}
    out += [
        f"date: {doc.date}",
        f"title: {doc.title} (from {origin[doc.title_source]})",
        f"source: {doc.source or '-'}",
        f"section label: {doc.section_label or '-'}",
        f"paragraphs: {len(doc.body)}, related links: {len(doc.related_links)}, "
        f"headline groups: {len(doc.headline_groups)} "
        f"({sum(len(g) for g in doc.headline_groups)} headlines)",
    ]
    return out, True


__all__ = ["explain"]
