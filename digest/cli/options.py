"""What the commands share: the State each one is handed, and the options several take."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import Config, load_config

if TYPE_CHECKING:
    from ..store import Store

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class State:
    """Loads the config and opens the store on first use, so --help never touches either."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def store(self) -> Store:
        from ..jobs.database import open_store  # the database stack: only when it is used

        return open_store(self.config)


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


__all__ = ["State", "date_option", "json_option", "plural", "transport_option"]
