"""The archive's story pages (issue #14): every story of a published day has a page at
/archive/DATE/ID-title-words, linked from the day's page; a draft day is shown only to a
signed-in editor; related headlines link to earlier stories; `compose --json` gives URLs;
the feed is dated by the digest's date. Through the test client, on SQLite and PostgreSQL.

The helpers here (story, publish) are shared with test_search.py and test_browser_archive.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from click.testing import CliRunner
from markupsafe import escape

from digest.cli import cli
from digest.config import Config
from digest.jobs import digests as digest_jobs
from digest.model import Digest, Document, story_path
from digest.store import Store
from digest.text import match_key

from .conftest import SAMPLE_DAY
from .test_web import ATOM, BASE, cfg_fixture, client_fixture, day_fixture  # noqa: F401
from .test_web_editor import login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

EARLIER = "2026-11-20"
LATER = "2026-11-27"


def story(
    store: Store,
    date: str,
    title: str,
    body: Sequence[str],
    headlines: Sequence[str] = (),
    links: Sequence[str] = (),
) -> None:
    """Store one story document for `date`."""
    doc = Document(date, title, "document", "Wire", None, tuple(body), tuple(links))
    if headlines:
        doc = dataclasses.replace(doc, headline_groups=(tuple(headlines),))
    key = hashlib.sha256(f"{date}{title}{body}".encode()).hexdigest()
    assert store.add_documents([(doc, key, f"/in/{key}.txt", key)]) == ["stored"]


def publish(store: Store, config: Config, date: str) -> Digest:
    """Compose the day and begin its send (no deliveries): the archive shows it."""
    digest = digest_jobs.compose_day(store, config, date)
    store.get_or_create_send(date)
    return digest


def paths(digest: Digest) -> list[str]:
    found = [story_path(digest.date, st) for s in digest.sections for st in s.stories]
    return [p for p in found if p]


def meta(html: str, prop: str) -> str:
    found = re.search(rf'<meta property="{prop}" content="([^"]*)">', html)
    assert found, f"no {prop} in the page"
    return found.group(1)


# ---- story pages ------------------------------------------------------------------------------


def test_every_story_of_a_published_day_has_a_page_linked_from_the_day(
    client: TestClient, store: Store, day: Digest
) -> None:
    store.get_or_create_send(SAMPLE_DAY)
    page = client.get(f"/archive/{SAMPLE_DAY}")
    assert page.status_code == 200
    linked = set(re.findall(rf'href="(/archive/{SAMPLE_DAY}/[^"]+)"', page.text))
    assert linked == set(paths(day)) and len(linked) == day.story_count > 1
    assert meta(page.text, "og:url") == f"{BASE}/archive/{SAMPLE_DAY}"
    assert meta(page.text, "og:title") == day.subject.replace("&", "&amp;")
    for path in sorted(linked):
        r = client.get(path)
        assert r.status_code == 200, path
        story_id = int(path.rsplit("/", 1)[1].split("-")[0])
        doc = store.story(story_id)
        assert doc is not None
        last = doc.body[-1].replace("&", "&amp;").replace('"', "&#34;").replace("'", "&#39;")
        assert last in r.text  # the full body, not the summary
        assert meta(r.text, "og:type") == "article"
        assert meta(r.text, "og:url") == BASE + path
        assert meta(r.text, "og:description")
        assert 'name="robots"' not in r.text
        [section] = [
            s for s in day.sections if any(story_path(day.date, t) == path for t in s.stories)
        ]
        shown = r.text.split("That day in", 1)[-1]
        for headline in section.headlines:  # its section's related headlines that day
            assert str(escape(headline)) in shown, (path, headline)
        others = [h for s in day.sections if s is not section for h in s.headlines]
        assert not any(f"<li>{escape(h)}</li>" in shown for h in others)


def test_words_that_are_not_the_slug_move_to_it_and_a_wrong_id_is_404(
    client: TestClient, store: Store, day: Digest
) -> None:
    store.get_or_create_send(SAMPLE_DAY)
    path = paths(day)[0]
    story_id = path.rsplit("/", 1)[1].split("-")[0]
    for wrong in (story_id, f"{story_id}-old-title-words"):
        r = client.get(f"/archive/{SAMPLE_DAY}/{wrong}", follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"] == path
    for bad in ("999999-nothing", "abc-1", "1x", f"{story_id}-Upper"):
        assert client.get(f"/archive/{SAMPLE_DAY}/{bad}").status_code == 404, bad
    assert client.get(f"/archive/2026-11-25/{path.rsplit('/', 1)[1]}").status_code == 404


def test_a_story_of_another_day_or_dropped_by_an_editor_has_no_page(
    client: TestClient, store: Store, cfg: Config
) -> None:
    story(store, EARLIER, "Probe reaches the outer belt", ["The probe reached the belt."])
    story(store, EARLIER, "Second story of the day", ["Another story entirely, longer."])
    early = publish(store, cfg, EARLIER)
    story(store, LATER, "Radar upgrade finished", ["The radar upgrade was finished."])
    later = publish(store, cfg, LATER)
    [kept, dropped] = paths(early)
    assert client.get(kept).status_code == 200
    # Another day's id under this day's date: 404, not a redirect to the other day.
    assert client.get(kept.replace(EARLIER, LATER)).status_code == 404
    assert client.get(paths(later)[0].replace(LATER, EARLIER)).status_code == 404
    # An editor drops the second story from the archive copy: its page goes with it.
    first = early.sections[0]
    gone = dropped.rsplit("/", 1)[1].split("-")[0]
    sections = tuple(
        dataclasses.replace(s, stories=tuple(st for st in s.stories if st.id != gone))
        for s in early.sections
    )
    assert first.stories
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE digests SET archive = %s WHERE date = %s"
            if not store.is_sqlite
            else "UPDATE digests SET archive = ? WHERE date = ?",
            (json.dumps(dataclasses.replace(early, sections=sections).to_json()), EARLIER),
        )
    assert client.get(dropped).status_code == 404
    assert client.get(kept).status_code == 200


def test_agency_subheadings_related_links_and_headlines_on_the_page(
    client: TestClient, store: Store, cfg: Config
) -> None:
    body = ["First <b>paragraph</b> of the piece.", "-- Into orbit --", "After the subheading."]
    story(
        store,
        EARLIER,
        "Launch & <orbit>",
        body,
        headlines=["A related headline here"],
        links=["Learn more at SpaceWar.com", "https://example.com/a?b=1&c=2"],
    )
    digest = publish(store, cfg, EARLIER)
    [path] = paths(digest)
    html = client.get(path).text
    assert "<h1>Launch &amp; &lt;orbit&gt;</h1>" in html
    assert "<h2>Into orbit</h2>" in html and "<p>-- Into orbit --</p>" not in html
    assert "<p>First &lt;b&gt;paragraph&lt;/b&gt; of the piece.</p>" in html
    assert "<li>Learn more at SpaceWar.com</li>" in html
    assert 'href="https://example.com/a?b=1&amp;c=2"' in html
    assert f'href="/archive/{EARLIER}"' in html


# ---- drafts: editors only ---------------------------------------------------------------------


def test_a_draft_day_is_404_for_readers_and_shown_marked_to_a_signed_in_editor(
    client: TestClient, store: Store, day: Digest
) -> None:
    path = paths(day)[0]
    for url in (f"/archive/{SAMPLE_DAY}", path):
        assert client.get(url).status_code == 404, url
    login(client)
    # The session cookie is set for the whole site (Path=/): the browser sends it here.
    for url in (f"/archive/{SAMPLE_DAY}", path):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "Draft:" in r.text and '<meta name="robots" content="noindex">' in r.text
        assert r.headers["x-robots-tag"] == "noindex"
        assert "no-store" in r.headers["cache-control"]
    client.cookies.clear()
    forged = {"Cookie": "digest_editor=1.2.3"}
    assert client.get(path, headers=forged).status_code == 404
    assert client.get(path).status_code == 404  # no cookie: still 404
    store.get_or_create_send(SAMPLE_DAY)
    r = client.get(path)
    assert r.status_code == 200 and "Draft:" not in r.text and "x-robots-tag" not in r.headers


# ---- previous / next, headline links, compose --json, feed --------------------------------


def test_day_pages_link_the_published_days_around_them(
    client: TestClient, store: Store, cfg: Config
) -> None:
    for date in (EARLIER, SAMPLE_DAY, LATER):
        story(store, date, f"Story of {date}", [f"Text of the day {date}."])
    digest_jobs.compose_day(store, cfg, SAMPLE_DAY)  # composed, not sent: no link to it
    publish(store, cfg, EARLIER)
    publish(store, cfg, LATER)
    html = client.get(f"/archive/{EARLIER}").text
    assert f'rel="next" href="/archive/{LATER}"' in html and 'rel="prev"' not in html
    html = client.get(f"/archive/{LATER}").text
    assert f'rel="prev" href="/archive/{EARLIER}"' in html and 'rel="next"' not in html


def test_a_related_headline_that_is_an_earlier_story_links_to_its_page(
    client: TestClient, store: Store, cfg: Config
) -> None:
    title = "Satellite maker opens a second factory"
    story(store, EARLIER, title, ["The satellite maker opened a factory."])
    unsent = "Unsent story title stays plain"
    story(store, "2026-11-21", unsent, ["This day is composed but never sent."])
    digest_jobs.compose_day(store, cfg, "2026-11-21")
    early = publish(store, cfg, EARLIER)
    headline = "SATELLITE maker opens a second factory!"  # the same words, as a headline
    story(store, LATER, "A later story", ["Text."], headlines=[headline, unsent])
    later = publish(store, cfg, LATER)
    [target] = paths(early)
    assert later.headline_links == {match_key(headline): target}
    assert store.get_digest(LATER).headline_links == later.headline_links  # stored with it
    html = client.get(f"/archive/{LATER}").text
    assert f'<a href="{target}">{headline}</a>' in html
    assert f"<li>{unsent}</li>" in html
    assert client.get(target).status_code == 200
    # The story page shows its section's headlines, with the same links.
    [section] = [s for s in later.sections if s.stories]
    if headline in section.headlines:
        assert f'<a href="{target}">{headline}</a>' in client.get(paths(later)[0]).text


def test_a_headline_that_is_a_story_of_the_same_day_links_to_it(store: Store, cfg: Config) -> None:
    digest = Digest(
        EARLIER,
        "s",
        "p",
        (
            dataclasses.replace(
                digest_jobs.Section("Space"),
                stories=(digest_jobs.StoryItem("Moon base plan", "x", None, "7"),),
                headlines=("Moon Base Plan", "Other"),
            ),
        ),
    )
    linked = digest_jobs.link_headlines(digest, {})
    assert linked.headline_links == {
        match_key("Moon base plan"): f"/archive/{EARLIER}/7-moon-base-plan"
    }


def test_compose_json_gives_each_story_its_url(store: Store, cfg: Config) -> None:
    story(store, EARLIER, "Probe reaches the outer belt", ["The probe reached the belt."])
    env = {"DIGEST_DATABASE_URL": cfg.database_url, "DIGEST_BASE_URL": BASE + "/"}
    r = CliRunner().invoke(cli, ["compose", "--date", EARLIER, "--json"], env=env)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    [item] = [st for s in data["sections"] for st in s["stories"]]
    assert item["url"] == f"{BASE}/archive/{EARLIER}/{item['id']}-probe-reaches-the-outer-belt"
    assert "url" not in store.get_digest(EARLIER).to_json()["sections"][0]["stories"][0]


def test_feed_entries_are_dated_by_the_digest_date(
    client: TestClient, store: Store, cfg: Config
) -> None:
    story(store, EARLIER, "Probe reaches the outer belt", ["The probe reached the belt."])
    digest = publish(store, cfg, EARLIER)  # sent on another day than its own
    root = ET.fromstring(client.get("/archive/feed.xml").content)
    [entry] = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}published") == f"{EARLIER}T00:00:00Z"
    assert entry.findtext(f"{ATOM}updated") == f"{EARLIER}T00:00:00Z"
    assert root.findtext(f"{ATOM}updated") == f"{EARLIER}T00:00:00Z"
    assert f'href="{BASE}{paths(digest)[0]}"' in (entry.findtext(f"{ATOM}content") or "")


def test_an_ingested_pages_agency_subheadings_reach_its_story_page(
    client: TestClient, store: Store, cfg: Config
) -> None:
    from digest.jobs.ingest import ingest

    from .conftest import FIXTURES

    report = ingest(store, [FIXTURES / "layouts" / "spacemart_2024.txt"], "2024-06-02")
    assert report.stored == 1
    [doc] = [d for day, _ in store.story_days() for d in store.documents_for(day)]
    digest = digest_jobs.compose_day(store, cfg, doc.date)
    [item] = [st for s in digest.sections for st in s.stories]
    assert "Difficult situation" not in item.summary  # a heading is not a sentence of it
    store.get_or_create_send(doc.date)
    page = client.get(story_path(doc.date, item) or "").text
    assert "<h2>&#39;Difficult situation&#39;</h2>" in page and "<h2>Supplies</h2>" in page
