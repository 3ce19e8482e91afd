"""The editorial desk on the command line (issue #13): `digest edit` and `digest edits`.

Every edit through the CLI in-process on real SQLite and PostgreSQL: kept across composing
again, a late document and a corrected one; logged; refused with the valid choices named;
with `approval = "required"`, an edited and approved day goes to every subscriber once with
the edited title in subject and body (the real aiosmtpd server); once the send has begun, an
edit corrects the archive only, and what the rest of the list gets stays as it was."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from digest.config import Config
from digest.errors import ApprovalError
from digest.store import Store

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_approval import cli_env, invoke, subscribe
from .test_send_stops import everyone_once

DAY = SAMPLE_DAY


@pytest.fixture
def env(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> dict[str, str]:
    """The CLI on the test database, the sample day ingested and composed."""
    found = cli_env(config, smtp_server, tmp_path)
    assert invoke(found, "ingest", str(SAMPLES)).exit_code == 0
    assert invoke(found, "compose", "--date", DAY).exit_code == 0
    return found


def digest_json(env: dict[str, str]) -> dict[str, Any]:
    """The day's digest as `compose --json` gives it (composing again: edits must hold)."""
    r = invoke(env, "compose", "--date", DAY, "--json")
    assert r.exit_code == 0, r.output
    found: dict[str, Any] = json.loads(r.stdout)
    return found


def stories(d: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(section, id, title) of every story, in order."""
    return [(s["name"], st["id"], st["title"]) for s in d["sections"] for st in s["stories"]]


def headlines(d: dict[str, Any]) -> dict[str, str]:
    """headline -> its section."""
    return {h: s["name"] for s in d["sections"] for h in s["headlines"]}


def edit(env: dict[str, str], *args: str) -> Result:
    return invoke(env, "edit", "--date", DAY, *args)


def log(env: dict[str, str]) -> list[dict[str, Any]]:
    r = invoke(env, "edits", "--date", DAY, "--json")
    assert r.exit_code == 0, r.output
    found: list[dict[str, Any]] = json.loads(r.stdout)
    return found


def test_every_story_has_a_stable_id_that_composing_again_keeps(env: dict[str, str]) -> None:
    first = digest_json(env)
    ids = [i for _, i, _ in stories(first)]
    assert all(ids) and len(set(ids)) == len(ids) == 17
    assert stories(digest_json(env)) == stories(first)


def test_story_edits_title_summary_section_lead_order_and_drop_survive_recompose(
    env: dict[str, str], config: Config
) -> None:
    before = stories(digest_json(env))
    (sec_a, a, _), (_, b, _) = before[0], before[1]
    last_section, c, c_title = before[-1]
    target = next(n for n in config.section_names if n not in (sec_a, last_section))

    r = edit(env, "--story", c, "--title", "An <edited> & better title", "--lead")
    assert r.exit_code == 0, r.output
    assert "-> 'An <edited> & better title'" in r.stdout
    assert r.stdout.strip().endswith(": An <edited> & better title")  # the subject's story
    assert edit(env, "--story", c, "--summary", "A summary of my own.").exit_code == 0
    assert edit(env, "--story", b, "--section", target).exit_code == 0
    assert edit(env, "--story", a, "--drop").exit_code == 0

    d = digest_json(env)  # composed again from the stored stories
    assert d["subject"].endswith(": An <edited> & better title")
    got = stories(d)
    assert got[0] == (last_section, c, "An <edited> & better title")
    assert d["sections"][0]["stories"][0]["summary"] == "A summary of my own."
    assert (target, b) in [(s, i) for s, i, _ in got]
    assert a not in [i for _, i, _ in got] and len(got) == 16

    assert edit(env, "--story", a, "--restore").exit_code == 0
    assert edit(env, "--story", c, "--title", "").exit_code == 0  # back to the composed title
    got = stories(digest_json(env))
    assert a in [i for _, i, _ in got] and (last_section, c, c_title) == got[0]


def test_up_and_down_move_a_story_within_its_section(env: dict[str, str]) -> None:
    d = digest_json(env)
    section = next(s for s in d["sections"] if len(s["stories"]) >= 2 and s is not d["sections"][0])
    first, second = (st["id"] for st in section["stories"][:2])
    r = edit(env, "--story", second, "--up")
    assert r.exit_code == 0 and ": order: '2' -> '1'" in r.stdout
    moved = next(s for s in digest_json(env)["sections"] if s["name"] == section["name"])
    assert [st["id"] for st in moved["stories"][:2]] == [second, first]
    r = edit(env, "--story", second, "--up")
    assert r.exit_code == 2 and "already first in" in r.stderr
    assert edit(env, "--story", second, "--down").exit_code == 0
    back = next(s for s in digest_json(env)["sections"] if s["name"] == section["name"])
    assert [st["id"] for st in back["stories"][:2]] == [first, second]


def test_headline_moves_drops_and_restores_by_its_text(env: dict[str, str], config: Config) -> None:
    d = digest_json(env)
    text, section = next(iter(headlines(d).items()))
    target = next(n for n in config.section_names if n != section)
    # Named loosely: the headline's words count, not its case or punctuation.
    r = edit(env, "--headline", f"  {text.upper()}!! ", "--section", target)
    assert r.exit_code == 0, r.output
    assert headlines(digest_json(env))[text] == target
    assert edit(env, "--headline", text, "--drop").exit_code == 0
    assert text not in headlines(digest_json(env))
    assert edit(env, "--headline", text, "--restore").exit_code == 0
    assert headlines(digest_json(env))[text] == target


def test_day_subject_and_preheader(env: dict[str, str]) -> None:
    composed = digest_json(env)
    assert (
        edit(env, "--subject", "Today: five things", "--preheader", "Short and sweet").exit_code
        == 0
    )
    d = digest_json(env)
    assert (d["subject"], d["preheader"]) == ("Today: five things", "Short and sweet")
    assert edit(env, "--subject", "", "--preheader", "").exit_code == 0
    d = digest_json(env)
    assert (d["subject"], d["preheader"]) == (composed["subject"], composed["preheader"])


def test_unknown_ids_headlines_and_sections_name_the_valid_choices(
    env: dict[str, str], config: Config
) -> None:
    d = digest_json(env)
    some_id = stories(d)[0][1]
    r = edit(env, "--story", "999999", "--drop")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert "unknown story id '999999'" in r.stderr and f"{some_id} (" in r.stderr
    r = edit(env, "--headline", "No such headline anywhere", "--drop")
    assert r.exit_code == 2 and "unknown headline" in r.stderr
    assert next(iter(headlines(d))) in r.stderr
    r = edit(env, "--story", some_id, "--section", "Gardening")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert "unknown section 'Gardening'" in r.stderr and config.section_names[0] in r.stderr
    r = edit(env, "--title", "No item named")
    assert r.exit_code == 2 and "--story ID" in r.stderr
    r = edit(env, "--headline", next(iter(headlines(d))), "--title", "x")
    assert r.exit_code == 2 and "only for a story" in r.stderr
    assert log(env) == []  # nothing refused was recorded


def test_dropping_every_story_is_refused(env: dict[str, str]) -> None:
    ids = [i for _, i, _ in stories(digest_json(env))]
    for story_id in ids[:-1]:
        assert edit(env, "--story", story_id, "--drop").exit_code == 0
    r = edit(env, "--story", ids[-1], "--drop")
    assert r.exit_code == 2 and "without a story" in r.stderr
    assert [i for _, i, _ in stories(digest_json(env))] == ids[-1:]


def test_the_log_says_who_when_what_old_and_new(env: dict[str, str]) -> None:
    _, story_id, title = stories(digest_json(env))[3]
    assert edit(env, "--story", story_id, "--title", "Retitled").exit_code == 0
    assert (
        edit(env, "--story", story_id, "--title", "Retitled")
        .stdout.strip()
        .endswith("nothing changed")
    )
    assert edit(env, "--story", story_id, "--drop").exit_code == 0
    entries = log(env)
    assert [(e["editor"], e["field"], e["old"], e["new"]) for e in entries] == [
        ("cli", "title", title, "Retitled"),
        ("cli", "dropped", "shown", "dropped"),
    ]
    assert entries[0]["item"] == title and entries[1]["item"] == "Retitled"
    assert all(e["target"] == f"story:{story_id}" and not e["archive_only"] for e in entries)
    text = invoke(env, "edits", "--date", DAY).stdout
    assert "cli: " in text and "'Retitled'" in text


def late_copy(src: Path, dest: Path, change: str = "") -> Path:
    """A document for the sample day under another file name (with `change` appended to
    its first paragraph: a correction of the same article)."""
    text = src.read_text(encoding="utf-8")
    if change:
        first, rest = text.split("\n", 1)
        text = f"{first} {change}\n{rest}"
    dest.write_text(text, encoding="utf-8")
    return dest


def test_edits_survive_a_late_document_and_a_corrected_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    d = digest_json(env)
    by_title = {t: i for _, i, t in stories(d)}
    # Its first line is the date and the first paragraph, which the correction adds to.
    path = next(p for p in sorted(SAMPLES.rglob("*.txt")) if "gaganyaan" in p.name)
    story_id = next(i for t, i in by_title.items() if "Gaganyaan" in t)
    assert edit(env, "--story", story_id, "--title", "Orbital test passed", "--lead").exit_code == 0

    # A corrected version of the same file: the same story, its id and its edits kept.
    work = tmp_path / "work"
    work.mkdir()
    copy = work / path.name
    shutil.copy(path, copy)
    assert invoke(env, "ingest", str(copy)).exit_code == 0
    late_copy(path, copy, "The capsule will fly again in March, officials added.")
    r = invoke(env, "ingest", str(copy))
    assert r.exit_code == 0 and "1 replaced" in r.stdout, r.output
    # A late story of its own for the day.
    late = work / "late.txt"
    late.write_text(
        " date 2026-11-26 A brand new story about lunar rovers arrived late in the evening, "
        "after the digest was composed, and the editors want it in.\n"
        "The rover drove three kilometres across the crater floor in its first week.\n",
        encoding="utf-8",
    )
    assert invoke(env, "ingest", str(late)).exit_code == 0

    after = digest_json(env)
    got = stories(after)
    assert got[0][1:] == (story_id, "Orbital test passed")
    assert after["subject"].endswith(": Orbital test passed")
    assert len(got) == 18 and any("lunar rovers" in t for _, _, t in got)


# ---- approval and the send --------------------------------------------------------------------


def messages(server: SMTPTestServer) -> list[EmailMessage]:
    return [
        email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
        for m in server.messages
    ]


def bodies(msg: EmailMessage) -> str:
    return "".join(
        part.get_content() for part in msg.walk() if part.get_content_type().startswith("text/")
    )


def test_required_approval_edit_approve_run_sends_the_edited_title_to_everyone_once(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    subscribe(store, config, 6)
    env = cli_env(config, smtp_server, tmp_path, approval="required")
    shutil.copytree(SAMPLES, Path(env["DIGEST_INBOX"]), dirs_exist_ok=True)
    r = invoke(env, "run", "--date", DAY)
    assert r.exit_code == 0 and "waits for approval" in r.stdout
    assert smtp_server.messages == []

    _, story_id, _ = stories(json.loads(invoke(env, "compose", "--date", DAY, "--json").stdout))[5]
    assert invoke(env, "approve", "--date", DAY).exit_code == 0
    # An edit after approval withdraws it: what goes out must be what was approved.
    assert (
        edit(env, "--story", story_id, "--title", "Édité: the <desk> title", "--lead").exit_code
        == 0
    )
    assert invoke(env, "run", "--date", DAY).stdout.count("waits for approval") == 1
    assert smtp_server.messages == []
    assert invoke(env, "approve", "--date", DAY).exit_code == 0
    r = invoke(env, "run", "--date", DAY)
    assert r.exit_code == 0 and "6 sent" in r.stdout, r.output
    assert everyone_once(smtp_server, 6) == 0
    for msg in messages(smtp_server):
        assert str(msg["Subject"]).endswith(": Édité: the <desk> title")
        body = bodies(msg)
        assert "Édité: the &lt;desk&gt; title" in body  # the HTML part, escaped
        assert "Édité: the <desk> title" in body  # the plain-text part
    assert invoke(env, "run", "--date", DAY).stdout.count("0 sent") >= 1
    assert everyone_once(smtp_server, 6) == 0


def test_once_sending_began_an_edit_corrects_the_archive_only(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    subscribe(store, config, 4)
    env = cli_env(config, smtp_server, tmp_path)
    assert invoke(env, "ingest", str(SAMPLES)).exit_code == 0
    d = digest_json(env)
    _, story_id, title = stories(d)[0]
    assert store.begin_send(
        DAY, required=False
    )  # the send has begun (a process started it, then died)

    r = edit(env, "--story", story_id, "--title", "Corrected after sending")
    assert r.exit_code == 0 and "corrects the archive only" in r.stdout
    assert log(env)[-1]["archive_only"] is True
    archived, corrected = store.archive_copy(DAY)
    assert stories(archived.to_json())[0][2] == "Corrected after sending" and corrected
    assert invoke(env, "compose", "--date", DAY).exit_code == 2  # no recomposing now

    r = invoke(env, "send", "--date", DAY)
    assert r.exit_code == 0, r.output
    assert everyone_once(smtp_server, 4) == 0
    for msg in messages(smtp_server):
        assert str(msg["Subject"]).endswith(f": {title}")
        assert "Corrected after sending" not in bodies(msg)


def test_compose_uses_keywords_learned_from_the_desk(env: dict[str, str], config: Config) -> None:
    from digest.sections import telling_words

    d = digest_json(env)
    more = next(s for s in d["sections"] if s["name"] == config.more_section)
    text = more["headlines"][0]
    word = telling_words(text, config.sections)[0]
    target = config.section_names[0]
    r = invoke(env, "keywords", "add", target, word)
    assert r.exit_code == 0, r.output
    assert headlines(digest_json(env))[text] == target  # composed again, with the word
    assert invoke(env, "keywords", "remove", target, word).exit_code == 0
    assert headlines(digest_json(env))[text] == config.more_section


# ---- the migration ----------------------------------------------------------------------------


def test_migration_0007_keeps_older_digests_as_their_own_base_and_downgrades(
    database_url: str,
) -> None:
    from alembic import command
    from click.testing import CliRunner
    from sqlalchemy import create_engine, inspect, text

    from digest.cli import cli
    from digest.store.migrate import _config, head

    engine = create_engine(database_url)
    old = {"date": DAY, "subject": "Old", "preheader": "p", "sections": []}
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0006")
        conn.execute(
            text(
                "INSERT INTO digests (date, subject, preheader, data, composed_at) "
                "VALUES (:d, 'Old', 'p', :data, CURRENT_TIMESTAMP)"
            ),
            {"d": DAY, "data": json.dumps(old)},
        )
    engine.dispose()
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert r.output.strip() == f"db: 0006 -> {head()}"

    store = Store(database_url)
    try:
        assert store.base_digest(DAY).subject == "Old" and store.overrides(DAY).values == {}
        assert store.archive_copy(DAY) == (store.get_digest(DAY), None)
        with store.engine.begin() as conn:
            assert conn.execute(text("SELECT base FROM digests")).scalar() == json.dumps(old)
            command.downgrade(_config(conn), "0006")
            tables = inspect(conn).get_table_names()
            assert not {"overrides", "edits", "section_keywords", "approval_notices"} & set(tables)
            assert "base" not in [c["name"] for c in inspect(conn).get_columns("digests")]
            command.upgrade(_config(conn), "head")
            assert inspect(conn).has_table("overrides")
    finally:
        store.close()


# ---- what review found: approval at the send's start, pins, control characters ----------------


def test_a_send_starts_only_while_the_day_is_approved(store: Store, env: dict[str, str]) -> None:
    assert store.begin_send(DAY, required=True) is None  # pending: no send is begun
    assert store.find_send(DAY) is None and not store.is_published(DAY)
    assert invoke(env, "approve", "--date", DAY).exit_code == 0
    _, story_id, _ = stories(digest_json(env))[0]
    assert invoke(env, "approve", "--date", DAY).exit_code == 0
    # An edit between the approval check and the send's start withdraws the approval: the
    # send must not begin (nor the day be published) with a digest nobody approved.
    assert edit(env, "--story", story_id, "--title", "Changed at the last moment").exit_code == 0
    assert store.begin_send(DAY, required=True) is None
    assert store.find_send(DAY) is None and not store.is_published(DAY)
    assert invoke(env, "approve", "--date", DAY).exit_code == 0
    begun = store.begin_send(DAY, required=True)
    assert begun is not None and begun[1].subject.endswith("Changed at the last moment")


def test_an_approval_names_the_version_it_saw(store: Store, env: dict[str, str]) -> None:
    seen = store.digest_version(DAY)
    _, story_id, _ = stories(digest_json(env))[0]
    assert store.digest_version(DAY) == seen  # composing again the same: the same version
    assert edit(env, "--story", story_id, "--title", "Edited meanwhile").exit_code == 0
    assert seen is not None and store.digest_version(DAY) != seen
    with pytest.raises(ApprovalError, match="changed since it was shown"):
        store.set_approval(DAY, "approved", "alice", seen)
    assert store.approval(DAY, required=True) == "pending"
    store.set_approval(DAY, "approved", "alice", store.digest_version(DAY))
    assert store.approval(DAY, required=True) == "approved"


def test_the_lead_is_pinned_even_when_first_and_forgotten_when_dropped(
    store: Store, env: dict[str, str]
) -> None:
    (_, first, _), (_, second, _) = stories(digest_json(env))[:2]
    r = edit(env, "--story", first, "--lead")
    assert r.exit_code == 0 and ": lead: " in r.stdout  # pinned: composing cannot move it
    assert edit(env, "--story", first, "--drop").exit_code == 0
    assert [e["field"] for e in log(env)] == ["lead", "dropped", "lead"]
    assert stories(digest_json(env))[0][1] == second
    assert store.overrides(DAY).get("day", "lead") is None
    assert edit(env, "--story", first, "--restore").exit_code == 0
    # Restored, it is not the editor's lead again by surprise: the pin went with the drop.
    assert [e["field"] for e in log(env)][-1] == "dropped"
    assert store.overrides(DAY).get("day", "lead") is None
    r = edit(env, "--story", second, "--up", "--down")
    assert r.exit_code == 2 and "cannot go together" in r.stderr
    r = edit(env, "--story", second, "--drop", "--restore")
    assert r.exit_code == 2 and "cannot go together" in r.stderr


@pytest.mark.parametrize("bad", ["a\x01b", "esc\x1b[31mred", "nul\x00", "del\x7f"])
def test_control_characters_are_refused_in_one_line(env: dict[str, str], bad: str) -> None:
    _, story_id, _ = stories(digest_json(env))[0]
    for args in (("--story", story_id, "--title", bad), ("--subject", bad)):
        r = edit(env, *args)
        assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
        assert "control character" in r.stderr
    assert log(env) == []


def test_an_editor_is_told_once_whoever_claims_first(store: Store) -> None:
    assert store.claim_notice(DAY, "chief@example.org")
    assert not store.claim_notice(DAY, "chief@example.org")  # another machine, same run
    store.release_notice(DAY, "chief@example.org")  # its mail failed: the next run tries
    assert store.claim_notice(DAY, "chief@example.org")
    assert store.editors_told(DAY) == {"chief@example.org"}
