"""Shared fixtures: a config and a real SQLite store in a temporary folder."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_DAY = "2026-11-26"
SAMPLES = ROOT / "samples" / SAMPLE_DAY
# The real story document shared with the project (read-only; never copied into the repo).
SHARED_SAMPLE = ROOT.parent / "shared" / "samples" / "2023-01-31_spacewar_japan-nato-pledge.txt"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    cfg = load_config(env={}, cwd=tmp_path)
    return dataclasses.replace(cfg, database_url=f"sqlite:///{tmp_path / 'digest.db'}")


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    s = Store(config.database_url)
    yield s
    s.close()


# The real SMTP server fixtures (smtp_server, smtp_server_factory) for every test module.
from tests.smtp_server import smtp_server_factory_fixture, smtp_server_fixture  # noqa: E402, F401
