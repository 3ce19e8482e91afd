"""Archive search (issue #14): SQLite FTS5 and PostgreSQL full-text search behind the store,
over the stories of published days only; safe whatever the reader types; migration 0008."""

from __future__ import annotations

import re
import warnings

import pytest
from sqlalchemy import create_engine, inspect, text, update

from digest.config import Config
from digest.jobs import digests as digest_jobs
from digest.store import Store
from digest.store.search import PG_DOCUMENT, clean_query, fts5_query
from digest.store.tables import StoryRow

from .test_archive_stories import EARLIER, LATER, paths, publish, story
from .test_web import cfg_fixture, client_fixture  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TRICKY = [
    '"',
    "NEAR(",
    "AND OR NOT",
    "*",
    "title:",
    "-",
    "a AND (b",
    "'; DROP TABLE stories; --",
    "\x00nul",
    "^",
    "x" * 5000,
    "é" * 300,
    "",
    "   ",
]


def test_search_finds_a_story_by_a_word_of_its_body_once_its_day_is_published(
    store: Store, config: Config
) -> None:
    body = ["The agency said the gyroscopes were replaced before the test.", "More text."]
    story(store, EARLIER, "Probe passes its checks", body)
    digest_jobs.compose_day(store, config, EARLIER)
    assert digest_jobs.search(store, "gyroscopes") == []  # a draft: not searchable
    store.get_or_create_send(EARLIER)
    [hit] = digest_jobs.search(store, "gyroscopes")
    assert (hit.date, hit.story.title) == (EARLIER, "Probe passes its checks")
    assert hit.path == paths(store.get_digest(EARLIER))[0]
    assert [r.path for r in digest_jobs.search(store, "GYROSCOPE")] == [hit.path]  # stemmed
    assert digest_jobs.search(store, "gyroscopes unicorn") == []  # every word must match
    assert digest_jobs.search(store, "nothing-like-this") == []


def test_title_matches_rank_first_and_results_are_limited(store: Store, config: Config) -> None:
    story(store, EARLIER, "Thrusters tested", ["The engine team ran a long burn."])
    story(store, EARLIER, "Budget talks", ["The budget covers new thrusters and fuel."])
    publish(store, config, EARLIER)
    found = [r.story.title for r in digest_jobs.search(store, "thrusters")]
    assert found == ["Thrusters tested", "Budget talks"]
    assert len(store.search_stories("thrusters", 1)) == 1


def test_a_corrected_story_is_found_by_its_new_words_only(store: Store, config: Config) -> None:
    story(store, EARLIER, "Probe passes its checks", ["The gyroscopes were replaced."])
    publish(store, config, EARLIER)
    with store.engine.begin() as conn:
        conn.execute(update(StoryRow).values(body=["The flywheels were replaced."]))
    assert digest_jobs.search(store, "gyroscopes") == []
    assert len(digest_jobs.search(store, "flywheels")) == 1


def test_a_story_dropped_from_the_archive_is_not_found(store: Store, config: Config) -> None:
    story(store, EARLIER, "Kept story", ["Both mention the albatross."])
    story(store, LATER, "Other day story", ["This one too mentions the albatross, later."])
    publish(store, config, EARLIER)
    digest_jobs.compose_day(store, config, LATER)  # not sent
    assert [r.date for r in digest_jobs.search(store, "albatross")] == [EARLIER]


@pytest.mark.parametrize("query", TRICKY)
def test_search_syntax_in_the_query_never_fails(store: Store, config: Config, query: str) -> None:
    story(store, EARLIER, "Probe passes its checks", ["The drop table test was run."])
    publish(store, config, EARLIER)
    assert isinstance(digest_jobs.search(store, query), list)
    assert isinstance(store.search_stories(query, 5), list)


def test_queries_are_quoted_for_fts5_and_cleaned() -> None:
    assert fts5_query('a "b" NEAR(c') == '"a" "b" "NEAR" "c"'
    assert fts5_query("*^-") == ""
    assert clean_query("a\x00b\n c" + "d" * 500, 20) == "a b c" + "d" * 15


def test_the_search_page_escapes_and_links_to_story_pages(
    client: TestClient, store: Store, cfg: Config
) -> None:
    story(store, EARLIER, "Launch <script>alert(1)</script> report", ["Kerosene & oxygen."])
    digest = publish(store, cfg, EARLIER)
    r = client.get("/archive/search", params={"q": "kerosene <script>"})
    assert r.status_code == 200
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text
    r = client.get("/archive/search", params={"q": "kerosene"})
    [link] = re.findall(r'<li><a href="([^"]+)"', r.text)
    assert link == paths(digest)[0] and client.get(link).status_code == 200
    assert '<meta name="robots" content="noindex">' in r.text
    for query in TRICKY:
        assert client.get("/archive/search", params={"q": query}).status_code == 200
    assert 'action="/archive/search"' in client.get("/archive/").text
    assert 'action="/archive/search"' in client.get(f"/archive/{EARLIER}").text
    assert 'action="/archive/search"' in client.get(link).text


def test_migration_0008_indexes_stored_stories_and_downgrades(database_url: str) -> None:
    from alembic import command

    from digest.store.migrate import _config

    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0007")
        conn.execute(
            text(
                "INSERT INTO stories (fingerprint, date, title, title_source, body, "
                "related_links, headline_groups, path, ingested_at) VALUES ('f', :d, "
                "'Old story', 'document', :body, '[]', '[]', '/x', CURRENT_TIMESTAMP)"
            ),
            {"d": EARLIER, "body": '["The caf\\u00e9 stored before search"]'},
        )
        conn.execute(
            text("INSERT INTO sends (date, started_at) VALUES (:d, CURRENT_TIMESTAMP)"),
            {"d": EARLIER},
        )
        command.upgrade(_config(conn), "head")
    engine.dispose()
    store = Store(database_url)
    try:
        [hit] = store.search_stories("café", 5)  # the JSON's escapes decoded, and found
        assert hit.date == EARLIER
        with store.engine.begin() as conn:
            if store.is_sqlite:
                assert inspect(conn).has_table("stories_fts")
            else:
                indexes = [i["name"] for i in inspect(conn).get_indexes("stories")]
                assert "ix_stories_search" in indexes
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                query = f"EXPLAIN SELECT id FROM stories WHERE {PG_DOCUMENT} @@ to_tsquery('x')"
                plan = conn.execute(text(query)).all()
                assert "ix_stories_search" in " ".join(row[0] for row in plan)
            command.downgrade(_config(conn), "0007")
            assert not inspect(conn).has_table("stories_fts")
            names = [i["name"] for i in inspect(conn).get_indexes("stories")]
            assert "ix_stories_search" not in names
            command.upgrade(_config(conn), "head")
        assert len(store.search_stories("stored", 5)) == 1
    finally:
        store.close()
