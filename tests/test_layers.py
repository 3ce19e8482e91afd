"""The shape of the package: each room holds one thing, and imports only point down.

Layers, lowest first. A module may import from its own layer or any lower one, never a higher
one, and no chain of imports may lead back to where it started.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "digest"
LAYERS: list[tuple[str, ...]] = [
    ("errors", "text", "model", "addresses", "lazy"),  # pure values and helpers
    ("config", "rules", "tokens", "lock"),  # settings and small infrastructure
    ("ingest", "sections", "compose", "edits", "render", "subscribers"),  # pure stages
    ("store", "migrations"),  # the database
    ("deliver", "fetch"),  # the outgoing message and its transports; fetching sources
    ("bounces", "check"),  # reading what went out, and what came back
    ("jobs",),  # the use cases
    ("cli", "web", "__main__", "__init__"),  # the ways in
]
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The digest modules `name` imports (anywhere in the file, lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "digest")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "digest":
                continue
            for alias in node.names:  # `from . import jobs` imports a module
                sub = f"{target}.{alias.name}"
                yield sub if sub in known else target


def layer_of(name: str) -> int:
    top = name.split(".")[1] if "." in name else "__init__"
    for i, members in enumerate(LAYERS):
        if top in members:
            return i
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in tests/test_layers.py")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {t for t in imports(name, path, known) if t != name} for name, path in known.items()
    }


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer_of(name)


def test_imports_only_point_down() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert cycles == []


@pytest.mark.parametrize("folder", ["digest", "tests", "benchmarks"])
def test_no_module_over_the_limit(folder: str) -> None:
    lengths = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in sorted((ROOT / folder).rglob("*.py"))
    }
    assert {path: n for path, n in lengths.items() if n > MAX_LINES} == {}


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The test above can fail: an import from a lower layer to a higher one is caught."""
    fake = tmp_path / "digest" / "config.py"
    fake.parent.mkdir()
    fake.write_text("from .jobs import sending\nfrom digest.web import app\n", encoding="utf-8")
    known = {"digest.jobs.sending": fake, "digest.web.app": fake}
    found = list(imports("digest.config", fake, known))
    assert found == ["digest.jobs.sending", "digest.web.app"]
    assert all(layer_of(t) > layer_of("digest.config") for t in found)
