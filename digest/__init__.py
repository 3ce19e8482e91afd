"""digest: compose a daily news digest from story documents and send it to subscribers."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ComposeError,
    ConfigError,
    DigestError,
    DocumentError,
    NotFoundError,
    RenderError,
)

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


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # looked up once
    return value


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
