"""Sources beside the story documents (issue #15), end to end on real SQLite and PostgreSQL:
`digest fetch` from a local HTTP server on a free port (our own RSS, Atom, JSON Feed and page
fixtures, a broken feed, a missing one, a slow one), conditional GETs (a 304 stores nothing, a
changed feed adds only its new items), the same article from a feed and a text document as one
story, feed categories and a source's lean toward sections, the original article's link in
the email's HTML and text, `digest sources`, `digest run` fetching first, and the settings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config, SourceRule, load_config
from digest.errors import ConfigError
from digest.jobs import digests
from digest.jobs.fetch import fetch_sources
from digest.jobs.ingest import ingest
from digest.store import Store

from .feed_server import FEEDS, FeedServer, feed_server  # noqa: F401  (the fixture)

DAY = "2026-11-26"


def sources(server: FeedServer, *names: str) -> tuple[SourceRule, ...]:
    return tuple(SourceRule(n, f"{server.url}/{n}") for n in names)


def with_sources(config: Config, *found: SourceRule, **changes: object) -> Config:
    return dataclasses.replace(config, sources=found, **changes)  # type: ignore[arg-type]


def titles(store: Store) -> list[str]:
    return sorted(d.title for d in store.documents_for(DAY))


def test_fetch_stores_items_then_304s_then_only_what_is_new(
    store: Store,
    config: Config,
    feed_server: FeedServer,  # noqa: F811
) -> None:
    cfg = with_sources(config, *sources(feed_server, "orbit-rss.xml", "harbour-atom.xml"))
    first = fetch_sources(store, cfg)
    assert first.summary == "2 sources, 3 new, 0 unchanged, 0 failed"
    assert [str(e).split(": ", 1)[1] for e in first.ingest.refused] == [
        "item 3: 'An item without any date': no date",
        "item 4: no title",
    ]
    assert len(titles(store)) == 3
    again = fetch_sources(store, cfg)
    assert again.summary == "2 sources, 0 new, 2 unchanged, 0 failed"
    assert feed_server.not_modified == {"orbit-rss.xml": 1, "harbour-atom.xml": 1}

    # The feed changes: one item added, and the others as they were.
    feed = feed_server.files["orbit-rss.xml"].decode()
    added = (
        "<item><title>Ground station tracks its first weather satellite</title>"
        "<link>https://orbit.example.org/2026/11/weather</link><guid>orbit-notes-1002</guid>"
        "<pubDate>Thu, 26 Nov 2026 15:00:00 +0000</pubDate>"
        "<description>The new ground station tracked a weather satellite on its "
        "first pass.</description></item>"
    )
    feed_server.files["orbit-rss.xml"] = feed.replace("</channel>", added + "</channel>").encode()
    third = fetch_sources(store, cfg)
    assert third.new == 1 and third.unchanged == 3  # two items as they were, one 304
    assert "Ground station tracks its first weather satellite" in titles(store)
    assert len(titles(store)) == 4
    state = store.source_states()["orbit-rss.xml"]
    assert state.items == 3 and state.error is None and state.etag


def test_a_failed_source_is_one_line_and_the_others_are_stored(
    store: Store,
    config: Config,
    feed_server: FeedServer,  # noqa: F811
) -> None:
    feed_server.slow_seconds = 2.0
    found = sources(feed_server, "missing", "broken.xml", "slow", "garden-feed.json")
    report = fetch_sources(store, with_sources(config, *found, fetch_timeout=0.5))
    assert report.failed == [
        ("missing", "HTTP 404 Not Found"),
        ("broken.xml", "not a feed: syntax error"),
        ("slow", "timed out"),
    ]
    assert titles(store) == ["Survey team measures a thinning glacier tongue"]
    states = store.source_states()
    assert states["slow"].error == "timed out" and states["slow"].ok_at is None
    assert states["garden-feed.json"].error is None


def test_an_article_page_as_a_source(
    store: Store,
    config: Config,
    feed_server: FeedServer,  # noqa: F811
) -> None:
    page = SourceRule("Coastline", f"{feed_server.url}/article.html", kind="page")
    report = fetch_sources(store, with_sources(config, page))
    assert report.new == 1 and not report.failed
    [doc] = store.documents_for(DAY)
    assert doc.title == "Ferry operator orders two electric ferries" and doc.source == "Coastline"
    assert doc.url == "https://coastline.example.org/news/electric-ferries"


def test_the_same_article_from_a_feed_and_a_text_document_is_one_story(
    store: Store, config: Config, tmp_path: Path
) -> None:
    text = tmp_path / "2026-11-26_orbit.txt"
    text.write_text(
        " date 2026-11-26 A test satellite launched last week has unfolded its twelve-metre "
        "radar antenna, its operator said on Thursday.\nWhat comes next\nEngineers will spend "
        "a month calibrating the instrument before it starts mapping sea ice.\n",
        encoding="utf-8",
    )
    first = ingest(store, [text])
    assert first.stored == 1
    report = ingest(store, [FEEDS / "orbit-rss.xml"])
    assert report.stored == 1 and report.duplicates == 1  # the radar story was there already
    assert len(store.documents_for(DAY)) == 2


def test_categories_and_a_sources_lean_point_to_sections(store: Store, config: Config) -> None:
    space = next(n for n in config.section_names if n == "Space")
    climate = next(n for n in config.section_names if n == "Earth and climate")
    # "Naval" names no section: it is mapped. The late-night item's words name no section
    # at all: its source leans to Space. (The radar story's own words still win: a lean
    # counts for less than a topic word in a title.)
    cfg = dataclasses.replace(
        config,
        sources=(SourceRule("Orbit Notes", str(FEEDS / "orbit-rss.xml"), (space,)),),
        category_sections=(("naval", climate),),
    )
    ingest(store, [FEEDS / "harbour-atom.xml", FEEDS / "garden-feed.json"])
    fetch_sources(store, cfg)
    digest = digests.compose_day(store, cfg, DAY)
    where = {st.title: s.name for s in digest.sections for st in s.stories}
    assert where["Navy trials uncrewed minesweeper in the harbour"] == climate  # mapped
    assert where["Survey team measures a thinning glacier tongue"] == climate  # "Climate"
    assert where["Late-night item that belongs to the next day in Sydney"] == space
    assert where["Test satellite unfolds its radar antenna"] != space
    plain = digests.compose_day(store, config, DAY)  # without the lean and the mapping
    where = {st.title: s.name for s in plain.sections for st in s.stories}
    assert where["Late-night item that belongs to the next day in Sydney"] == config.more_section
    assert where["Navy trials uncrewed minesweeper in the harbour"] != climate


def test_the_original_articles_link_is_in_the_email(store: Store, config: Config) -> None:
    ingest(store, [FEEDS / "harbour-atom.xml"])
    digest = digests.compose_day(store, config, DAY)
    [story] = [st for s in digest.sections for st in s.stories]
    assert story.original == "https://harbour.example.net/minesweeper-trial"
    files = digests.preview(store, config, DAY)
    html, text = files.html.read_text(), files.text.read_text()
    assert 'href="https://harbour.example.net/minesweeper-trial"' in html
    assert "Original article:\nhttps://harbour.example.net/minesweeper-trial" in text


def test_a_feed_link_that_is_not_a_web_address_is_dropped(store: Store) -> None:
    from digest.ingest.feeds import parse_feed

    bad = (
        (FEEDS / "harbour-atom.xml")
        .read_bytes()
        .replace(b"https://harbour.example.net/minesweeper-trial", b"javascript:alert(1)")
    )
    [item] = parse_feed(bad, "f", "H", __import__("zoneinfo").ZoneInfo("UTC")).items
    assert item.document.url is None


# ---- the command line and the settings --------------------------------------------------------


def invoke(tmp_path: Path, config: Config, toml: str, *args: str) -> Result:
    path = tmp_path / "digest.toml"
    path.write_text(toml, encoding="utf-8")
    env = {"DIGEST_CONFIG": str(path), "DIGEST_DATABASE_URL": config.database_url}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_digest_fetch_and_digest_sources(
    store: Store,
    config: Config,
    feed_server: FeedServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    toml = (
        f'[[sources]]\nname = "Orbit"\nurl = "{feed_server.url}/orbit-rss.xml"\n'
        f'[[sources]]\nname = "Gone"\nurl = "{feed_server.url}/missing"\n'
    )
    r = invoke(tmp_path, config, toml, "fetch")
    assert r.exit_code == 1
    assert r.stdout == "fetch: 2 sources, 2 new, 0 unchanged, 1 failed\n"
    assert "failed: Gone: HTTP 404 Not Found" in r.stderr.splitlines()
    r = invoke(tmp_path, config, toml, "sources", "--json")
    assert r.exit_code == 0
    listed = {s["name"]: s for s in json.loads(r.stdout)}
    assert listed["Orbit"]["items"] == 2 and listed["Orbit"]["error"] is None
    assert listed["Gone"]["error"] == "HTTP 404 Not Found" and listed["Gone"]["ok_at"] is None


def test_digest_run_fetches_before_it_composes(
    store: Store,
    config: Config,
    feed_server: FeedServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    toml = f'[[sources]]\nname = "Field"\nurl = "{feed_server.url}/garden-feed.json"\n'
    path = tmp_path / "digest.toml"
    path.write_text(toml, encoding="utf-8")
    env = {
        "DIGEST_CONFIG": str(path),
        "DIGEST_DATABASE_URL": config.database_url,
        "DIGEST_INBOX": str(inbox),
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "DIGEST_TRANSPORT": "outbox",
    }
    r = CliRunner().invoke(cli, ["run", "--date", DAY], env=env, catch_exceptions=False)
    assert r.stdout.splitlines()[0] == "fetch: 1 sources, 1 new, 0 unchanged, 0 failed"
    assert f"compose: {DAY}" in r.stdout
    assert store.has_digest(DAY)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[sources]]\nname = "A"\n', "sources[1].url must be"),
        ('[[sources]]\nname = "A"\nurl = "ftp://x/y"\n', "must be an http(s) address"),
        ('[[sources]]\nname = "A"\nurl = "a.xml"\nfeed = 1\n', "unknown key 'feed'"),
        ('[[sources]]\nname = "A"\nurl = "a.xml"\nkind = "video"\n', "kind must be one of"),
        (
            '[[sources]]\nname = "A"\nurl = "a.xml"\n[[sources]]\nname = "a"\nurl = "b.xml"\n',
            "appears twice",
        ),
        ('[[sources]]\nname = "A"\nurl = "a.xml"\nsections = ["Gardening"]\n', "Gardening"),
        ('time_zone = "Mars/Olympus"\n', "time zone name"),
        ('[category_sections]\nNaval = "Gardening"\n', "no section named 'Gardening'"),
    ],
)
def test_bad_source_settings_are_one_line_naming_the_table(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={}, cwd=tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_archive_story_page_links_the_original(store: Store, config: Config) -> None:
    import warnings

    from digest.web import create_app

    from .test_web import BASE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    ingest(store, [FEEDS / "harbour-atom.xml"])
    digest = digests.compose_day(store, config, DAY)
    [story] = [st for s in digest.sections for st in s.stories]
    assert store.begin_send(DAY, required=False)  # published
    with TestClient(create_app(config, store), base_url=BASE) as client:
        page = client.get(f"/archive/{DAY}/{story.slug}")
    assert page.status_code == 200
    assert 'href="https://harbour.example.net/minesweeper-trial"' in page.text
    assert "The navy has begun trials of an uncrewed minesweeper" in page.text  # the full text


ATOM_UPDATED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Quay Notes</title><id>urn:q</id>
<updated>{stamp}</updated>
<entry><title>Tide gauge back in service</title><id>urn:q:1</id>
<link href="https://quay.example.org/tide"/><updated>{stamp}</updated>
<content type="html">&lt;p&gt;{text}&lt;/p&gt;</content></entry></feed>
"""


def mark_sent(store: Store, day: str) -> None:
    """The day's send began and delivered one message: the day counts as sent."""
    from sqlalchemy import text

    from digest.subscribers import new_subscriber

    store.upsert_subscribers([new_subscriber("r@example.com", None, None, None)])
    begun = store.begin_send(day, required=False)
    assert begun is not None
    store.enqueue(begun[0])
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET state = 'sent'"))


def test_an_item_keeps_its_first_day_and_stays_as_sent_once_its_day_is(
    store: Store, config: Config, tmp_path: Path
) -> None:
    feed = tmp_path / "quay.xml"
    source = with_sources(config, SourceRule("Quay", str(feed)))
    first = "The harbour tide gauge is back in service after a month of repairs."
    feed.write_text(ATOM_UPDATED.format(stamp="2026-11-26T09:00:00Z", text=first))
    assert fetch_sources(store, source).new == 1
    # Updated the next day (an entry with only <updated>): the same story, on its first day.
    fixed = first + " Readings are online again."
    feed.write_text(ATOM_UPDATED.format(stamp="2026-11-27T09:00:00Z", text=fixed))
    report = fetch_sources(store, source)
    assert report.ingest.replaced == 1 and store.documents_for("2026-11-27") == []
    [doc] = store.documents_for(DAY)
    assert doc.body == (fixed,)
    # Once its day is sent, a change no longer touches the story.
    digests.compose_day(store, config, DAY)
    mark_sent(store, DAY)
    feed.write_text(ATOM_UPDATED.format(stamp="2026-11-28T09:00:00Z", text="Rewritten."))
    report = fetch_sources(store, source)
    assert report.new == 0 and report.unchanged == 1
    assert [d.body for d in store.documents_for(DAY)] == [(fixed,)]
    assert store.documents_for("2026-11-28") == []


def test_a_source_that_trips_the_code_fails_alone_and_run_goes_on(
    store: Store,
    config: Config,
    feed_server: FeedServer,  # noqa: F811
) -> None:
    feed_server.files["odd.json"] = b'{"version": "https://jsonfeed.org/version/1", "items": {}}'
    found = sources(feed_server, "odd.json", "harbour-atom.xml")
    report = fetch_sources(store, with_sources(config, *found))
    assert report.failed == [("odd.json", "a JSON Feed without an items list")]
    assert report.new == 1
