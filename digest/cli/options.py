"""What the commands share: the State each one is handed, and the options several take."""

from __future__ import annotations

import atexit
import calendar
import datetime as dt
import importlib.util
import re
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Config
    from ..store import Store

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# Set by cli.main, which runs one command in its own process: the store it opens is closed by
# an exit handler. Elsewhere (tests, an embedding program) stores are left to the collector.
close_at_exit = False


class State:
    """Loads the config and opens the store on first use, so --help never touches either."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        from ..config import load_config  # with the address validator: only when it is used

        return load_config(self.config_path)

    @cached_property
    def store(self) -> Store:
        from ..jobs.database import open_store  # the database stack: only when it is used

        store = open_store(self.config)
        if close_at_exit:  # cli.main's quick exit skips what garbage collection would do
            atexit.register(store.close)  # (on SQLite: fold the write-ahead log back in)
        return store


def lazy(name: str) -> ModuleType:
    """The module `name`, run only when one of its names is first used (importlib's
    LazyLoader). A command module names the use cases it calls this way, so that its --help,
    and its commands that need no database, never load the stack those use cases import.
    Each use is paired with an ordinary import under TYPE_CHECKING, which mypy and
    tests/test_layers.py read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as an import would: digest.jobs.sending
        setattr(sys.modules[parent], child, module)
    return module


_DATE_FORM = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _check_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    form = _DATE_FORM.fullmatch(value.strip())
    if form is None:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD")
    year, month, day = map(int, form.groups())
    if year < 1:
        why = "there is no year 0"
    elif not 1 <= month <= 12:
        why = f"there is no month {month}"
    elif day == 0:
        why = "there is no day 0"
    else:
        last = calendar.monthrange(year, month)[1]
        why = f"{calendar.month_name[month]} {year} has only {last} days"
    raise click.BadParameter(f"{value!r} is not a real date: {why}")


def date_option(
    required: bool = True, help: str = "The digest's day, YYYY-MM-DD.", dest: str = "date"
) -> Decorator:
    """--date, checked to be YYYY-MM-DD and passed as `dest` (None when not given)."""
    return click.option("--date", dest, required=required, callback=_check_date, help=help)


def json_option(help: str = "Print JSON.") -> Decorator:
    """--json, passed as `as_json`: machine-readable output in place of the summary lines."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def transport_option() -> Decorator:
    return click.option(
        "--transport",
        type=click.Choice(["smtp", "outbox"]),
        help="Default: smtp when smtp_host is configured, else outbox.",
    )


def plural(n: int, noun: str) -> str:
    """'1 bad row', '2 bad rows': a count and its noun, for summary lines."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


__all__ = ["State", "date_option", "json_option", "lazy", "plural", "transport_option"]
