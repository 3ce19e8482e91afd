"""The one exception tree. The CLI catches DigestError once and prints its message as one line."""

from __future__ import annotations


class DigestError(Exception):
    """Root of every error digest raises on purpose."""


class ConfigError(DigestError, ValueError):
    """A setting is missing or malformed; the message names the file and the key."""


class DocumentError(DigestError, ValueError):
    """A story document was refused; the message names the file (and line where it helps)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


class ComposeError(DigestError):
    """A digest cannot be composed (for example, the day has no stories)."""


class RenderError(DigestError):
    """A template failed to render or MJML failed to compile."""


class NotFoundError(DigestError, LookupError):
    """Something asked for by date or address does not exist."""
