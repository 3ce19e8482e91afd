"""digest: compose a daily news digest from story documents and send it to subscribers."""

from .config import Config, SectionRule, load_config
from .errors import (
    ComposeError,
    ConfigError,
    DigestError,
    DocumentError,
    NotFoundError,
    RenderError,
)
from .model import Digest, Document, Section, StoryItem

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
