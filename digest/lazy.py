"""Names a package offers but imports only when first used (PEP 562's module __getattr__).

Every command imports `digest` first, and the store and compose import `digest.ingest`: loading
all they name at once would cost a command that needs little of it (issue #16)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module __getattr__ for `package`: `homes` maps each name to its submodule."""

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{home}", package), name)
        vars(sys.modules[package])[name] = value  # looked up once
        return value

    return getattr_
