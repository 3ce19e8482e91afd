"""The one exception tree, in one place (as aiosmtplib and rss2email keep theirs).

Everything digest raises on purpose is a DigestError; the CLI catches it once and prints its
message as one line. Where an error is also a kind of built-in error, it inherits that too, so
callers that know nothing of digest can still catch it (`except ValueError`).
"""

from __future__ import annotations


class DigestError(Exception):
    """Root of every error digest raises on purpose."""


# ---- input and settings -------------------------------------------------------------------


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


class SubscriberError(DigestError, ValueError):
    """A subscriber's address, name or sections are not acceptable."""


class TokenError(DigestError, ValueError):
    """A link token is malformed, altered, for another action, or expired."""


class HeaderError(DigestError, ValueError):
    """A header value would have injected another header (CR or LF inside it)."""


# ---- composing and rendering --------------------------------------------------------------


class ComposeError(DigestError):
    """A digest cannot be composed (for example, the day has no stories)."""


class EditError(DigestError, ValueError):
    """An editor's edit names an unknown story, headline or section, or cannot be made."""


class FetchError(DigestError):
    """A source (a feed or a page) could not be fetched; the message is the one-line reason."""


class RenderError(DigestError):
    """A template failed to render or MJML failed to compile."""


class NotFoundError(DigestError, LookupError):
    """Something asked for by date or address does not exist."""


class EditorError(DigestError, ValueError):
    """An editor account that cannot be made as asked (bad name, taken, short password)."""


class KeywordError(DigestError, ValueError):
    """A section keyword that cannot be learned as given (empty, too long, odd characters)."""


class ApiTokenError(DigestError, ValueError):
    """An API token that cannot be made as asked (a bad or taken name)."""


class FieldError(DigestError, ValueError):
    """A value given for a named field is refused (the JSON API answers 422 naming it)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ApprovalError(DigestError):
    """A day's digest is held, or waits for an approval that is required, so it is not sent."""


# ---- the database and the run lock --------------------------------------------------------


class SchemaError(DigestError):
    """The database's schema is not the one this version of digest works with."""


class LockedError(DigestError):
    """Another run or send holds the lock."""


# ---- delivery -----------------------------------------------------------------------------


class DeliveryFailure(DigestError):
    """A message was not accepted. `reply` is the server's answer or what went wrong.

    `connection` tells a failure to reach the server at all (cannot connect, a dropped or
    timed-out connection) from a reply about this recipient (a 4xx greylisting or a 5xx):
    only the first kind, many in a row, means the server is down and the run should stop.
    """

    permanent = False

    def __init__(self, reply: str, *, connection: bool = False) -> None:
        self.reply = reply
        self.connection = connection
        super().__init__(reply)


class TransientFailure(DeliveryFailure):
    """Worth another try later: a 4xx reply, a dropped connection, a timeout."""


class PermanentFailure(DeliveryFailure):
    """Will not work however often it is tried: a 5xx reply to this recipient."""

    permanent = True


class TransportError(DigestError):
    """The transport cannot work at all (say, the server refused our login): the run stops
    and what was not sent stays queued."""


# ---- the web side -------------------------------------------------------------------------


class LoginRequired(DigestError):
    """No valid editor session: the web app answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(f"sign-in required for {next_path}")


__all__ = [
    "ApiTokenError",
    "ApprovalError",
    "ComposeError",
    "ConfigError",
    "DeliveryFailure",
    "DigestError",
    "DocumentError",
    "FieldError",
    "HeaderError",
    "KeywordError",
    "LockedError",
    "LoginRequired",
    "NotFoundError",
    "PermanentFailure",
    "RenderError",
    "SchemaError",
    "SubscriberError",
    "TokenError",
    "TransientFailure",
    "TransportError",
]
