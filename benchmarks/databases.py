"""A fresh database for a benchmark run: a new SQLite file, or a new schema in PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

# The section choices of the generated subscribers, in turn ("": all sections).
CHOICES = [
    "",
    "Space;Earth and climate",
    "Superpowers and diplomacy;Missile defense;Nuclear",
    "Drones and air power;Military space and satellites;War report",
    "Missiles and strike weapons;Defence industry and budgets",
    "Nuclear",
    "War report;Superpowers and diplomacy",
    "Space",
]


def fresh_database(
    workdir: Path, base: str | None, prefix: str = "bench"
) -> tuple[str, Callable[[], None]]:
    """The URL of a new SQLite file in `workdir`, or of a new schema in the PostgreSQL
    database `base`; and what drops it again."""
    if not base:
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    schema = f"{prefix}_{os.getpid()}_{int(time.time())}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop
