"""Settings, loaded once: embedded defaults, then digest.toml, then DIGEST_* environment.

The result is a frozen Config that callers pass in; nothing reads settings from a global.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("default.toml")
CONFIG_NAME = "digest.toml"


@dataclass(frozen=True)
class SectionRule:
    """A topic section and the words and phrases that mark it."""

    name: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    name: str
    database_url: str
    outbox: Path
    inbox: Path
    base_url: str
    from_addr: str
    summary_chars: int
    html_max_bytes: int
    more_section: str
    sections: tuple[SectionRule, ...]
    templates: Path | None = None
    source: str = "defaults"  # which file the settings came from, for messages

    @property
    def section_names(self) -> tuple[str, ...]:
        """Every section a digest can have, in order, the catch-all last."""
        return (*(s.name for s in self.sections), self.more_section)


# TOML key -> (Config field, type). `from` is a Python keyword, hence from_addr.
_SCALARS: dict[str, tuple[str, type]] = {
    "name": ("name", str),
    "database_url": ("database_url", str),
    "outbox": ("outbox", Path),
    "inbox": ("inbox", Path),
    "base_url": ("base_url", str),
    "from": ("from_addr", str),
    "summary_chars": ("summary_chars", int),
    "html_max_bytes": ("html_max_bytes", int),
    "more_section": ("more_section", str),
    "templates": ("templates", Path),
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _convert(origin: str, key: str, value: Any, kind: type) -> Any:
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{origin}: {key} must be a whole number, not {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {key} must be a whole number, not {value!r}") from None
        if number <= 0:
            raise ConfigError(f"{origin}: {key} must be positive, not {number}")
        return number
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{origin}: {key} must be a non-empty string")
    return Path(value).expanduser() if kind is Path else value


def _sections(origin: str, raw: Any) -> tuple[SectionRule, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{origin}: sections must be a non-empty list of [[sections]] tables")
    rules: list[SectionRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, 1):
        where = f"{origin}: sections[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table with name and keywords")
        name = item.get("name")
        words = item.get("keywords")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name must be a non-empty string")
        if name.casefold() in seen:
            raise ConfigError(f"{where}.name {name!r} appears twice")
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ConfigError(f"{where}.keywords must be a list of non-empty strings")
        seen.add(name.casefold())
        rules.append(SectionRule(name.strip(), tuple(w.strip() for w in words)))
    return tuple(rules)


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Load settings: defaults < config file < environment.

    `path` is an explicit --config file (it must exist); otherwise digest.toml in `cwd` is read
    when present.
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
    for key, (attr, kind) in _SCALARS.items():
        env_key = "DIGEST_" + key.upper()
        if env.get(env_key):
            values[attr] = _convert(env_key, key, env[env_key], kind)
        elif key in data:
            values[attr] = _convert(origin, key, data[key], kind)
    values["sections"] = _sections(origin, data.get("sections"))
    missing = [
        f.name
        for f in fields(Config)
        if f.name not in values and f.name not in ("templates", "source")
    ]
    if missing:
        raise ConfigError(f"{origin}: missing setting {missing[0]!r}")
    if values["more_section"].casefold() in {s.name.casefold() for s in values["sections"]}:
        raise ConfigError(f"{origin}: more_section must differ from every section name")
    values["source"] = origin
    config = Config(**values)
    return _resolve_paths(config, cwd)


def _resolve_paths(config: Config, cwd: Path) -> Config:
    """Relative paths are relative to the working folder, fixed once here."""
    from dataclasses import replace

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
        templates=absolute(config.templates) if config.templates else None,
    )
