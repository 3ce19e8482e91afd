"""Ingest: story documents in, Document values out.

`parse` is the pure parser (text to Document); `files` finds and reads files and runs the
parser over every core for large batches.
"""

from .explain import explain
from .files import MAX_DOCUMENT_BYTES, Parsed, Parser, find_documents, read_document, read_file
from .parse import decode, fingerprint, parse_document, parse_with_fingerprint

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Parsed",
    "Parser",
    "decode",
    "explain",
    "find_documents",
    "fingerprint",
    "parse_document",
    "parse_with_fingerprint",
    "read_document",
    "read_file",
]
