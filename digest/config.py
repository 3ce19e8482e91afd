"""Settings, loaded once: embedded defaults, then digest.toml, then DIGEST_* environment.

The result is a frozen Config that callers pass in; nothing reads settings from a global.
Secrets (SMTP password, secret key, editor password) are kept out of the Config's repr, so they
never reach a log.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .addresses import normalize_address
from .errors import ConfigError
from .rules import SectionRule as SectionRule  # re-exported: config's readers use them
from .rules import SourceRule as SourceRule
from .rules import WebhookRule as WebhookRule
from .rules import (
    category_sections,
    section_rules,
    source_rules,
    text_setting,
    webhook_rules,
)

DEFAULTS_FILE = Path(__file__).with_name("default.toml")
CONFIG_NAME = "digest.toml"
TLS_MODES = ("none", "starttls", "tls")
TRANSPORTS = ("smtp", "outbox")
APPROVAL_MODES = ("auto", "required")  # auto: a day is approved unless held
SECRET_FILE = ".digest-secret"  # the outbox demo's own link secret, beside the lock file


@dataclass(frozen=True)
class Config:
    name: str
    database_url: str = field(repr=False)  # may carry a password
    outbox: Path
    inbox: Path
    base_url: str
    from_addr: str
    summary_chars: int
    html_max_bytes: int
    more_section: str
    sections: tuple[SectionRule, ...]
    templates: Path | None = None
    # delivery
    transport: str | None = None  # None: smtp when smtp_host is set, else outbox
    smtp_host: str | None = None
    smtp_port: int | None = None  # None: 465 for tls, 587 for starttls, else 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls: str = "none"
    smtp_timeout: float = 30.0
    smtp_verify: bool = True
    smtp_ca_file: Path | None = None
    concurrency: int = 8
    rate: float = 0.0  # messages per second, 0 for no limit
    max_attempts: int = 3
    retry_backoff: float = 1.0
    bounce_limit: int = 3
    secret_key: str | None = field(default=None, repr=False)
    unsubscribe_mailto: str | None = None
    return_path: str | None = None
    # the sender's physical address, in every footer (US CAN-SPAM wants one); None: not shown
    postal_address: str | None = None
    lock_file: Path = Path("digest.lock")
    # deliverability (DKIM, bounces)
    # One key per selector, paired in order (an RSA and an Ed25519 key: RFC 8463's dual
    # signing). Empty: messages are not signed.
    dkim_key_files: tuple[Path, ...] = ()
    dkim_selectors: tuple[str, ...] = ()
    dkim_domain: str | None = None  # None: the From domain
    bounce_address: str | None = None  # None: no per-recipient (VERP) envelope sender
    lease_seconds: float = 60.0  # a dead worker's claims return to the queue after this
    # A subscriber who became active after a day's send began gets that day on a rerun too.
    back_issues: bool = False
    approval: str = "auto"  # required: a day is sent only once approved (digest approve)
    # told by `digest run` when a day waits for approval (a link to its editor's page)
    editor_emails: tuple[str, ...] = ()
    # web (digest serve)
    editor_password: str | None = field(default=None, repr=False)  # None: editor pages off
    subscribe_rate_limit: int = 5  # subscribe requests per client per window; 0: no limit
    subscribe_rate_window: float = 3600.0  # seconds
    # ingest
    max_document_bytes: int = 5_000_000  # larger story documents are refused unread
    # sources fetched by `digest fetch` (and `digest run`), and the time zone whose calendar
    # decides the day of an item (its published time) and of a page
    sources: tuple[SourceRule, ...] = ()
    time_zone: str = "UTC"
    fetch_timeout: float = 20.0  # seconds to connect, and between bytes of an answer
    # a feed category -> the section it stands for (besides a category named as a section)
    category_sections: tuple[tuple[str, str], ...] = ()
    # endpoints told of events ([[webhooks]]); a try that fails is tried again, less and less
    # often, until webhook_give_up_hours after the event, then marked failed
    webhooks: tuple[WebhookRule, ...] = ()
    webhook_give_up_hours: float = 24.0
    source: str = "defaults"  # which file the settings came from, for messages

    @property
    def section_names(self) -> tuple[str, ...]:
        """Every section a digest can have, in order, the catch-all last."""
        return (*(s.name for s in self.sections), self.more_section)

    @property
    def approval_required(self) -> bool:
        return self.approval == "required"

    @property
    def default_transport(self) -> str:
        return self.transport or ("smtp" if self.smtp_host else "outbox")

    @property
    def webhook_events(self) -> frozenset[str]:
        """The events some webhook wants: the only ones the store writes."""
        return frozenset(e for w in self.webhooks for e in w.events)


def _secret(key: str, value: Any) -> str:
    """A password or key: any characters (it reaches no header or URL: SMTP AUTH carries it
    base64-encoded, HMAC and the login form compare bytes)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _optional(convert: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """Empty string means 'not set', so a config file or the environment can clear a value."""

    def parse(key: str, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return convert(key, value)

    return parse


def _number(kind: type, minimum: float) -> Callable[[str, Any], Any]:
    def parse(key: str, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be a number, not {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"must be a {'whole ' if kind is int else ''}number, not {value!r}"
            ) from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum:g}, not {number}")
        return number

    return parse


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, not {value!r}")


def _zone(key: str, value: Any) -> str:
    """An IANA time zone name ("Europe/Paris", "UTC")."""
    name = text_setting(key, value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"must be a time zone name such as UTC or Europe/Paris, not {name!r}"
        ) from None
    return name


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = text_setting(key, value).lower()
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}, not {value!r}")
        return text

    return parse


def _addresses(key: str, value: Any) -> tuple[str, ...]:
    """Email addresses: a TOML list, or in the environment one string separated by commas;
    each checked and normalised as a subscriber's address is. Empty: none."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("must be a list of email addresses")
    found: list[str] = []
    for i, item in enumerate(items, 1):
        if isinstance(item, str) and not item.strip():
            continue  # "a@example.org," or an empty setting
        try:
            address = normalize_address(text_setting(key, item))
        except ValueError as exc:
            raise ValueError(f"address {i} is not valid: {exc}") from None
        if address not in found:
            found.append(address)
    return tuple(found)


def _path(key: str, value: Any) -> Path:
    return Path(text_setting(key, value)).expanduser()


def _list_of(convert: Callable[[str, Any], Any]) -> Callable[[str, Any], tuple[Any, ...]]:
    """A TOML list, or one string (the environment's) separated by commas; empty items and
    an empty setting mean none. Each item is checked as `convert` checks a single value."""

    def parse(key: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str):
            items: list[Any] = value.split(",")
        elif isinstance(value, list):
            items = value
        else:
            raise ValueError("must be a list of strings")
        return tuple(
            convert(key, item) for item in items if not (isinstance(item, str) and not item.strip())
        )

    return parse


# TOML key -> (Config field, parser). `from` is a Python keyword, hence from_addr.
_SCALARS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "name": ("name", text_setting),
    "database_url": ("database_url", text_setting),
    "outbox": ("outbox", _path),
    "inbox": ("inbox", _path),
    "base_url": ("base_url", text_setting),
    "from": ("from_addr", text_setting),
    "summary_chars": ("summary_chars", _number(int, 40)),
    "html_max_bytes": ("html_max_bytes", _number(int, 10_000)),
    "more_section": ("more_section", text_setting),
    "templates": ("templates", _optional(_path)),
    "transport": ("transport", _optional(_choice(TRANSPORTS))),
    "smtp_host": ("smtp_host", _optional(text_setting)),
    "smtp_port": ("smtp_port", _optional(_number(int, 1))),
    "smtp_username": ("smtp_username", _optional(text_setting)),
    "smtp_password": ("smtp_password", _optional(_secret)),
    "smtp_tls": ("smtp_tls", _choice(TLS_MODES)),
    "smtp_timeout": ("smtp_timeout", _number(float, 0.01)),
    "smtp_verify": ("smtp_verify", _bool),
    "smtp_ca_file": ("smtp_ca_file", _optional(_path)),
    "concurrency": ("concurrency", _number(int, 1)),
    "rate": ("rate", _number(float, 0)),
    "max_attempts": ("max_attempts", _number(int, 1)),
    "retry_backoff": ("retry_backoff", _number(float, 0)),
    "bounce_limit": ("bounce_limit", _number(int, 1)),
    "secret_key": ("secret_key", _optional(_secret)),
    "unsubscribe_mailto": ("unsubscribe_mailto", _optional(text_setting)),
    "return_path": ("return_path", _optional(text_setting)),
    "postal_address": ("postal_address", _optional(text_setting)),
    "lock_file": ("lock_file", _path),
    "dkim_key_file": ("dkim_key_files", _list_of(_path)),
    "dkim_selector": ("dkim_selectors", _list_of(text_setting)),
    "dkim_domain": ("dkim_domain", _optional(text_setting)),
    "bounce_address": ("bounce_address", _optional(text_setting)),
    "lease_seconds": ("lease_seconds", _number(float, 1)),
    "back_issues": ("back_issues", _bool),
    "approval": ("approval", _choice(APPROVAL_MODES)),
    "editor_emails": ("editor_emails", _addresses),
    "editor_password": ("editor_password", _optional(_secret)),
    "subscribe_rate_limit": ("subscribe_rate_limit", _number(int, 0)),
    "subscribe_rate_window": ("subscribe_rate_window", _number(float, 1)),
    "max_document_bytes": ("max_document_bytes", _number(int, 1)),
    "time_zone": ("time_zone", _zone),
    "fetch_timeout": ("fetch_timeout", _number(float, 0.1)),
    "webhook_give_up_hours": ("webhook_give_up_hours", _number(float, 0.01)),
}
# Settings that are not one value.
_TABLES = ("sections", "sources", "category_sections", "webhooks")
_REQUIRED = (
    "name",
    "database_url",
    "outbox",
    "inbox",
    "base_url",
    "from_addr",
    "summary_chars",
    "html_max_bytes",
    "more_section",
)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Load settings: defaults < config file < environment.

    `path` is an explicit --config file (it must exist); otherwise DIGEST_CONFIG, or
    digest.toml in `cwd` when present.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    data = _read_toml(DEFAULTS_FILE)
    origin = "defaults"
    if path is None and env.get("DIGEST_CONFIG"):
        path = Path(env["DIGEST_CONFIG"])
    if path is None and (cwd / CONFIG_NAME).is_file():
        path = cwd / CONFIG_NAME
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        user = _read_toml(path)
        unknown = sorted(set(user) - set(_SCALARS) - set(_TABLES))
        if unknown:
            raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
        data.update(user)
        origin = str(path)

    values: dict[str, Any] = {}
    for key, (attr, parse) in _SCALARS.items():
        env_key = "DIGEST_" + key.upper()
        if env_key in env:
            where, raw = env_key, env[env_key]
        elif key in data:
            where, raw = f"{origin}: {key}", data[key]
        else:
            continue
        try:
            values[attr] = parse(key, raw)
        except ValueError as exc:
            # The value itself is left out: it may be a password.
            raise ConfigError(f"{where} {exc}") from None
    values["sections"] = section_rules(origin, data.get("sections"))
    values["sources"] = source_rules(origin, data.get("sources"), values["sections"])
    values["webhooks"] = webhook_rules(origin, data.get("webhooks"))
    values["category_sections"] = category_sections(
        origin, data.get("category_sections"), values["sections"]
    )
    missing = [name for name in _REQUIRED if values.get(name) is None]
    if missing:
        raise ConfigError(f"{origin}: missing setting {missing[0]!r}")
    if values["more_section"].casefold() in {s.name.casefold() for s in values["sections"]}:
        raise ConfigError(f"{origin}: more_section must differ from every section name")
    values["source"] = origin
    known = {f.name for f in fields(Config)}
    return _resolve_paths(Config(**{k: v for k, v in values.items() if k in known}), cwd)


def _resolve_paths(config: Config, cwd: Path) -> Config:
    """Relative paths are relative to the working folder, fixed once here."""

    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else cwd / p

    url = config.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            url = "sqlite:///" + str(absolute(Path(rel)))
    return replace(
        config,
        database_url=url,
        outbox=absolute(config.outbox),
        inbox=absolute(config.inbox),
        lock_file=absolute(config.lock_file),
        templates=absolute(config.templates) if config.templates else None,
        smtp_ca_file=absolute(config.smtp_ca_file) if config.smtp_ca_file else None,
        dkim_key_files=tuple(absolute(p) for p in config.dkim_key_files),
    )


def secret_for(config: Config, transport: str) -> str:
    """The HMAC key for link tokens. Required for real sends; the outbox demo makes one and
    keeps it beside the lock file, so its links stay valid from run to run."""
    if config.secret_key:
        return config.secret_key
    if transport != "outbox":
        raise ConfigError(
            "secret_key is not set (DIGEST_SECRET_KEY): it signs every unsubscribe link, "
            "so digest will not send over SMTP without one"
        )
    path = config.lock_file.parent / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key
