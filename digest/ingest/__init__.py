"""Ingest: story documents in, Document values out.

`parse` is the pure parser (text to Document); `files` finds and reads files and runs the
parser over every core for large batches; `explain` (imported from its module: the name is
the module's too) says how the parser read a document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .files import (
        MAX_DOCUMENT_BYTES,
        Parsed,
        Parser,
        find_documents,
        read_document,
        read_file,
    )
    from .parse import decode, fingerprint, parse_document, parse_with_fingerprint

# Imported on first use: the store and compose need only `lines`, and a send would otherwise
# load the whole parser (lxml, the feed readers) before its first message (issue #16).
_LAZY = {
    "MAX_DOCUMENT_BYTES": "files",
    "Parsed": "files",
    "Parser": "files",
    "find_documents": "files",
    "read_document": "files",
    "read_file": "files",
    "decode": "parse",
    "fingerprint": "parse",
    "parse_document": "parse",
    "parse_with_fingerprint": "parse",
}


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Parsed",
    "Parser",
    "decode",
    "find_documents",
    "fingerprint",
    "parse_document",
    "parse_with_fingerprint",
    "read_document",
    "read_file",
]
