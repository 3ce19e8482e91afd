"""Shared fixtures: a config and a real SQLite store in a temporary folder."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from digest.config import Config, load_config
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_DAY = "2026-11-26"
SAMPLES = ROOT / "samples" / SAMPLE_DAY
# The real story document shared with the project (read-only; never copied into the repo).
SHARED_SAMPLE = ROOT.parent / "shared" / "samples" / "2023-01-31_spacewar_japan-nato-pledge.txt"


# The PostgreSQL this machine runs (trust auth, database `test`); .ci/run starts it.
POSTGRES = os.environ.get(
    "DIGEST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        with create_engine(POSTGRES).connect():
            return True
    except OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres() -> str:
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES}")
        pytest.skip("PostgreSQL is not running here")
    return POSTGRES


def fresh_schema_url(base: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test that uses the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'digest.db'}"
    else:
        yield from fresh_schema_url(request.getfixturevalue("postgres"))


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    cfg = load_config(env={}, cwd=tmp_path)
    return dataclasses.replace(cfg, database_url=database_url)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    s = Store(config.database_url)
    yield s
    s.close()


# The real SMTP server fixtures (smtp_server, smtp_server_factory) for every test module.
from tests.smtp_server import smtp_server_factory_fixture, smtp_server_fixture  # noqa: E402, F401
