"""digest: compose a daily news digest from story documents and send it to subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    ComposeError,
    ConfigError,
    DigestError,
    DocumentError,
    NotFoundError,
    RenderError,
)
from .lazy import lazy_names

if TYPE_CHECKING:
    from .config import Config, SectionRule, load_config
    from .model import Digest, Document, Section, StoryItem

# Where the rest of the names live. They are imported on first use: every command imports
# this package first, and the config module alone (with the address validator it needs)
# takes a good part of the 0.15 s a command may take to start (issue #16).
_LAZY = {
    "Config": "config",
    "SectionRule": "config",
    "load_config": "config",
    "Digest": "model",
    "Document": "model",
    "Section": "model",
    "StoryItem": "model",
}


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "ComposeError",
    "Config",
    "ConfigError",
    "Digest",
    "DigestError",
    "Document",
    "DocumentError",
    "NotFoundError",
    "RenderError",
    "Section",
    "SectionRule",
    "StoryItem",
    "load_config",
]
