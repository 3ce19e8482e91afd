"""Every command through click's CliRunner, on a real SQLite file in a temporary folder."""

from __future__ import annotations

import email
import email.policy
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from digest.cli import COMMANDS, cli

from .conftest import FIXTURES, ROOT, SAMPLE_DAY, SAMPLES


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    env = {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_ingest_compose_preview(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run("ingest", str(SAMPLES))
    assert r.exit_code == 0, r.output
    m = re.search(
        r"ingest: (\d+) stored, 0 replaced, (\d+) duplicates skipped, 0 refused", r.output
    )
    assert m and int(m.group(1)) >= 12 and int(m.group(2)) >= 1  # the syndicated copy

    again = run("ingest", str(SAMPLES))
    assert again.exit_code == 0
    assert "ingest: 0 stored" in again.output

    r = run("compose", "--date", SAMPLE_DAY, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["date"] == SAMPLE_DAY
    assert len(data["sections"]) >= 6
    assert sum(len(s["stories"]) for s in data["sections"]) >= 12

    r = run("compose", "--date", SAMPLE_DAY)
    assert r.exit_code == 0 and "stories" in r.output

    r = run("preview", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    paths = [Path(p) for p in r.output.split()]
    assert [p.name for p in paths] == ["digest.html", "digest.txt", "digest.eml"]
    assert all(p.is_file() and p.parent == tmp_path / "outbox" / SAMPLE_DAY for p in paths)
    msg = email.message_from_bytes(paths[2].read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == data["subject"]


def test_ingest_json_prints_fields_and_stores_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run("ingest", "--json", str(FIXTURES / "layouts"))
    assert r.exit_code == 0, r.output
    docs = json.loads(r.output)
    assert docs and all(
        set(d)
        == {
            "date",
            "title",
            "title_source",
            "source",
            "section_label",
            "body",
            "related_links",
            "headline_groups",
        }
        for d in docs
    )
    # --json never opens the database: one that cannot be reached changes nothing.
    unreachable = {"DIGEST_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    r = CliRunner().invoke(cli, ["ingest", "--json", str(FIXTURES / "layouts")], env=unreachable)
    assert r.exit_code == 0 and json.loads(r.output) == docs


def test_bad_files_are_refused_and_good_ones_stored(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (folder / "latin1.txt").write_bytes(" date 2020-01-01 caf\xe9\n".encode("latin-1"))
    (folder / "good.txt").write_text(" date 2020-01-01 A rocket flew.\n", encoding="utf-8")
    r = run("ingest", str(folder))
    assert r.exit_code == 1
    assert "1 stored, 0 replaced, 0 duplicates skipped, 3 refused" in r.output
    refusals = [ln for ln in r.output.splitlines() if ln.startswith("refused: ")]
    assert len(refusals) == 3
    assert any("empty.txt: empty file" in ln for ln in refusals)
    assert any("binary.txt: binary file" in ln for ln in refusals)
    assert any("latin1.txt" in ln and "not valid UTF-8" in ln for ln in refusals)
    r = run("compose", "--date", "2020-01-01", "--json")
    assert json.loads(r.output)["sections"][0]["stories"][0]["title"] == "A rocket flew"


def test_compose_without_stories_is_a_clear_error(run) -> None:  # type: ignore[no-untyped-def]
    r = run("compose", "--date", "1999-01-01")
    assert r.exit_code == 2
    assert r.output.strip() == (
        "error: no stories for 1999-01-01: ingest that day's documents first"
    )


def test_preview_without_digest_is_a_clear_error(run) -> None:  # type: ignore[no-untyped-def]
    r = run("preview", "--date", "1999-01-01")
    assert r.exit_code == 2
    assert "no digest for 1999-01-01" in r.output


def test_bad_date_is_a_usage_error(run) -> None:  # type: ignore[no-untyped-def]
    r = run("compose", "--date", "26/11/2026")
    assert r.exit_code == 2
    assert "YYYY-MM-DD" in r.output


def test_bad_config_names_the_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "digest.toml").write_text("summary_chars = 'lots'\n")
    r = run("compose", "--date", "2020-01-01")
    assert r.exit_code == 2
    assert "digest.toml: summary_chars must be a whole number" in r.output


def _commands() -> list[str]:
    ctx = click.Context(cli)
    names = []
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        subs = getattr(cmd, "commands", None)
        names += [f"{name} {s}" for s in subs] if subs else [name]
    assert len(names) > 25  # the commands are found, however lazily they load
    return names


def test_the_command_list_is_each_commands_own_first_paragraph() -> None:
    """`digest --help` lists the commands from COMMANDS without importing them: what it says
    must be what each command says of itself, cut as click cuts it."""
    ctx = click.Context(cli)
    plain = click.Group("digest")
    for name, (_, _, text) in COMMANDS.items():
        cmd = cli.get_command(ctx, name)
        assert cmd is not None and cmd.name == name, name
        own = cmd.short_help or inspect.cleandoc(cmd.help or "").split("\n\n")[0]
        assert " ".join(own.split()) == text, name
        plain.add_command(cmd)
    ours, theirs = click.HelpFormatter(width=80), click.HelpFormatter(width=80)
    cli.format_commands(ctx, ours)
    plain.format_commands(click.Context(plain), theirs)
    assert ours.getvalue() == theirs.getvalue()


def test_importing_the_cli_or_asking_for_help_loads_no_heavy_stack() -> None:
    heavy = ["fastapi", "alembic", "cryptography", "sqlalchemy", "httpx", "trafilatura"]
    code = (
        "import sys\n"
        "from digest.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='digest')\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in r.stdout and r.stdout.strip().endswith("[]"), r.stdout[-300:]


def test_no_commands_help_loads_a_heavy_stack() -> None:
    """Each command's --help (`digest compose --help`, ...) imports its command's module,
    which may name the database, web or crypto stack but must not load it (issue #16)."""
    heavy = [
        *("fastapi", "alembic", "cryptography", "sqlalchemy", "sqlmodel", "jinja2"),
        *("httpx", "trafilatura", "email_validator"),
    ]
    code = (
        "import sys\n"
        "from digest.cli import cli\n"
        f"for command in {_commands()!r}:\n"
        "    try:\n        cli([*command.split(), '--help'], prog_name='digest')\n"
        "    except SystemExit:\n        pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage: digest subscribers list" in r.stdout, r.stdout[-300:]
    assert r.stdout.strip().endswith("[]"), r.stdout[-300:]


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_with_an_example_and_is_in_the_readme(command: str) -> None:
    r = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert r.exit_code == 0
    assert "Example" in r.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"digest {command}" in readme


def test_the_command_line_exits_quickly_yet_closes_the_database_and_keeps_exit_codes(
    tmp_path: Path,
) -> None:
    """`digest` ends its process without Python's slow teardown (cli.main): the exit code,
    the output and the database must come out as from an ordinary exit."""
    db = tmp_path / "d.db"
    env = {**os.environ, "DIGEST_DATABASE_URL": f"sqlite:///{db}"}

    def digest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = digest("subscribers", "add", "ana@example.com", "--name", "Ana")
    assert added.returncode == 0, added.stderr
    assert "ana@example.com" in added.stdout
    # Closed: SQLite folds its write-ahead log back into the file when the last one closes.
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert digest("subscribers", "list").stdout.count("ana@example.com") == 1
    missing = digest("status", "--date", "2026-11-26")
    assert missing.returncode == 1 and missing.stderr.startswith("error:")
    assert digest("compose", "--date", "not-a-date").returncode == 2
