"""Settings, loaded once: embedded defaults, then digest.toml, then DIGEST_* environment.

The result is a frozen Config that callers pass in; nothing reads settings from a global.
Secrets (SMTP password, secret key, editor password) are kept out of the Config's repr, so they
never reach a log.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .addresses import normalize_address
from .errors import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("default.toml")
CONFIG_NAME = "digest.toml"
TLS_MODES = ("none", "starttls", "tls")
TRANSPORTS = ("smtp", "outbox")
APPROVAL_MODES = ("auto", "required")  # auto: a day is approved unless held
SECRET_FILE = ".digest-secret"  # the outbox demo's own link secret, beside the lock file


@dataclass(frozen=True)
class SectionRule:
    """A topic section: the words and phrases of its topic (what a story is about), and the
    actors its news names (who: capitals, blocs, leaders), which count for less."""

    name: str
    keywords: tuple[str, ...]
    actors: tuple[str, ...] = ()


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
    lock_file: Path = Path("digest.lock")
    # deliverability (DKIM, bounces)
    dkim_key_file: Path | None = None  # None: messages are not signed
    dkim_selector: str | None = None
    dkim_domain: str | None = None  # None: the From domain
    bounce_address: str | None = None  # None: no per-recipient (VERP) envelope sender
    lease_seconds: float = 60.0  # a dead worker's claims return to the queue after this
    approval: str = "auto"  # required: a day is sent only once approved (digest approve)
    # told by `digest run` when a day waits for approval (a link to its editor's page)
    editor_emails: tuple[str, ...] = ()
    # web (digest serve)
    editor_password: str | None = field(default=None, repr=False)  # None: editor pages off
    subscribe_rate_limit: int = 5  # subscribe requests per client per window; 0: no limit
    subscribe_rate_window: float = 3600.0  # seconds
    # ingest
    max_document_bytes: int = 5_000_000  # larger story documents are refused unread
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


# C0 (CR, LF and TAB among them), DEL, C1, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _text(key: str, value: Any) -> str:
    """A non-empty string without control characters: settings reach message headers
    (From, List-Id, List-Unsubscribe, the envelope), URLs and log lines, where a line break
    would add a header of its own (a Bcc to every message)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    text = value.strip()
    found = _CONTROL.search(text)
    if found:
        raise ValueError(
            f"must not contain line breaks or other control characters "
            f"(U+{ord(found.group()):04X} at character {found.start() + 1})"
        )
    return text


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


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = _text(key, value).lower()
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
            address = normalize_address(_text(key, item))
        except ValueError as exc:
            raise ValueError(f"address {i} is not valid: {exc}") from None
        if address not in found:
            found.append(address)
    return tuple(found)


def _path(key: str, value: Any) -> Path:
    return Path(_text(key, value)).expanduser()


# TOML key -> (Config field, parser). `from` is a Python keyword, hence from_addr.
_SCALARS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "name": ("name", _text),
    "database_url": ("database_url", _text),
    "outbox": ("outbox", _path),
    "inbox": ("inbox", _path),
    "base_url": ("base_url", _text),
    "from": ("from_addr", _text),
    "summary_chars": ("summary_chars", _number(int, 40)),
    "html_max_bytes": ("html_max_bytes", _number(int, 10_000)),
    "more_section": ("more_section", _text),
    "templates": ("templates", _optional(_path)),
    "transport": ("transport", _optional(_choice(TRANSPORTS))),
    "smtp_host": ("smtp_host", _optional(_text)),
    "smtp_port": ("smtp_port", _optional(_number(int, 1))),
    "smtp_username": ("smtp_username", _optional(_text)),
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
    "unsubscribe_mailto": ("unsubscribe_mailto", _optional(_text)),
    "return_path": ("return_path", _optional(_text)),
    "lock_file": ("lock_file", _path),
    "dkim_key_file": ("dkim_key_file", _optional(_path)),
    "dkim_selector": ("dkim_selector", _optional(_text)),
    "dkim_domain": ("dkim_domain", _optional(_text)),
    "bounce_address": ("bounce_address", _optional(_text)),
    "lease_seconds": ("lease_seconds", _number(float, 1)),
    "approval": ("approval", _choice(APPROVAL_MODES)),
    "editor_emails": ("editor_emails", _addresses),
    "editor_password": ("editor_password", _optional(_secret)),
    "subscribe_rate_limit": ("subscribe_rate_limit", _number(int, 0)),
    "subscribe_rate_window": ("subscribe_rate_window", _number(float, 1)),
    "max_document_bytes": ("max_document_bytes", _number(int, 1)),
}
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


_SECTION_KEYS = ("name", "keywords", "actors")


def _sections(origin: str, raw: Any) -> tuple[SectionRule, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{origin}: sections must be a non-empty list of [[sections]] tables")
    rules: list[SectionRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, 1):
        where = f"{origin}: sections[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table with name and keywords")
        unknown = sorted(set(item) - set(_SECTION_KEYS))
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}")
        try:
            name = _text("name", item.get("name"))  # section names reach URLs and the message
        except ValueError as exc:
            raise ConfigError(f"{where}.name {exc}") from None
        if name.casefold() in seen:
            raise ConfigError(f"{where}.name {name!r} appears twice")
        keywords = _word_list(where, "keywords", item.get("keywords"))
        actors = _word_list(where, "actors", item.get("actors", []))
        seen.add(name.casefold())
        rules.append(SectionRule(name, keywords, actors))
    return tuple(rules)


def _word_list(where: str, key: str, words: Any) -> tuple[str, ...]:
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ConfigError(f"{where}.{key} must be a list of non-empty strings")
    return tuple(w.strip() for w in words)


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
        unknown = sorted(set(user) - set(_SCALARS) - {"sections"})
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
    values["sections"] = _sections(origin, data.get("sections"))
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
        dkim_key_file=absolute(config.dkim_key_file) if config.dkim_key_file else None,
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
