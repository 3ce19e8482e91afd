"""Feeds and article pages as stories (issue #15): RSS 2.0, Atom, JSON Feed and a single
article page, read from our own fixtures (tests/fixtures/feeds/) into Documents; each item
that cannot be a story is one line of reason, and the rest still come out."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.errors import DocumentError
from digest.ingest.feeds import paragraphs, parse_feed, parse_page, parse_source

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
UTC = ZoneInfo("UTC")


def feed(name: str, zone: ZoneInfo = UTC) -> tuple[str, list[tuple[str, str, str]], list[str]]:
    parsed = parse_feed((FEEDS / name).read_bytes(), name, "Test source", zone)
    items = [(i.key, i.document.date, i.document.title) for i in parsed.items]
    return parsed.kind, items, [str(r) for r in parsed.refused]


def test_rss_items_become_stories_with_link_categories_and_body() -> None:
    kind, items, refused = feed("orbit-rss.xml")
    assert kind == "rss"
    assert [k for k, _, _ in items] == [
        "orbit-notes-1001",
        "https://orbit.example.org/2026/11/late-night",
    ]
    assert refused == [
        "orbit-rss.xml: item 3: 'An item without any date': no date",
        "orbit-rss.xml: item 4: no title",
    ]
    doc = parse_feed((FEEDS / "orbit-rss.xml").read_bytes(), "f", "Orbit", UTC).items[0].document
    assert doc.url == "https://orbit.example.org/2026/11/radar-antenna"
    assert doc.categories == ("Satellites", "Radar") and doc.source == "Orbit"
    assert doc.body[1] == "What comes next" and len(doc.body) == 3
    assert not any("alert" in p for p in doc.body)  # the script is gone


def test_an_items_day_is_its_published_time_in_the_configured_zone() -> None:
    _, utc, _ = feed("orbit-rss.xml")
    _, sydney, _ = feed("orbit-rss.xml", ZoneInfo("Australia/Sydney"))
    assert [d for _, d, _ in utc] == ["2026-11-26", "2026-11-26"]
    assert [d for _, d, _ in sydney] == ["2026-11-26", "2026-11-27"]  # 23:30 UTC is Friday there


def test_atom_entry_with_an_html_title_and_a_list() -> None:
    kind, items, refused = feed("harbour-atom.xml")
    assert kind == "atom" and refused == []
    [(key, day, title)] = items
    assert key == "tag:harbour.example.net,2026:entry-77" and day == "2026-11-26"
    assert title == "Navy trials uncrewed minesweeper in the harbour"
    doc = parse_feed((FEEDS / "harbour-atom.xml").read_bytes(), "f", "H", UTC).items[0].document
    assert doc.body[1:] == ("Trials last six weeks.", "Two crews take turns.")


def test_json_feed_items_and_their_reasons() -> None:
    kind, items, refused = feed("garden-feed.json")
    assert kind == "json"
    assert items == [("fs-42", "2026-11-26", "Survey team measures a thinning glacier tongue")]
    assert refused == [
        "garden-feed.json: item 2: 'A note with text only': no date",
        "garden-feed.json: item 3: not an object",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is neither XML nor JSON", "not a feed"),
        (b"{not json", "not JSON"),
        (b'{"version": "1.0", "items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": 3}', "without an items list"),
        (b"", "not a feed"),
    ],
)
def test_what_is_no_feed_is_one_line_naming_the_file(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentError) as err:
        parse_feed(data, "bad.xml", "S", UTC)
    assert str(err.value).startswith("bad.xml: ") and reason in str(err.value)
    assert "\n" not in str(err.value)


def test_an_article_page_gives_title_date_body_and_canonical_link() -> None:
    item = parse_page((FEEDS / "article.html").read_bytes(), "article.html", "Coastline", UTC)
    doc = item.document
    assert doc.title == "Ferry operator orders two electric ferries"
    assert doc.date == "2026-11-26" and doc.source == "Coastline"
    assert item.key == doc.url == "https://coastline.example.org/news/electric-ferries"
    assert doc.body[0].startswith("The island ferry operator has ordered")
    assert len(doc.body) == 4
    assert not any("Copyright" in p or "Sport" in p for p in doc.body)  # no page furniture


def test_what_is_no_article_page_is_one_line() -> None:
    with pytest.raises(DocumentError, match=r"^empty.html: "):
        parse_page(b"<html><body></body></html>", "empty.html", "S", UTC)


def test_paragraphs_of_html_and_of_plain_text() -> None:
    assert paragraphs("<p>One <b>two</b></p><div><p>Three</p></div>") == ["One two", "Three"]
    assert paragraphs("Just text\nover two lines") == ["Just text", "over two lines"]
    assert paragraphs("  ") == []


def test_rss_1_0_rdf_with_dublin_core_date_and_subject() -> None:
    parsed = parse_feed((FEEDS / "lighthouse-rdf.xml").read_bytes(), "f", None, UTC)
    [item] = parsed.items
    doc = item.document
    assert parsed.kind == "rss" and doc.source == "Lighthouse Log"  # the feed's own title
    assert (doc.date, doc.title, doc.categories) == (
        "2026-11-26",
        "Fog signal tested after its winter overhaul",
        ("Coast",),
    )


def test_a_declared_charset_and_a_wrong_one() -> None:
    data = (FEEDS / "cafe-latin1.xml").read_bytes()
    [item] = parse_feed(data, "f", None, UTC).items
    assert item.document.title == "Café opens on the quay"
    # Declared UTF-8 but written in Latin-1: read all the same, not refused.
    wrong = data.replace(b"iso-8859-1", b"utf-8")
    [item] = parse_feed(wrong, "f", None, UTC).items
    assert item.document.body == (
        "The café on the quay opened its doors to the first ferry passengers.",
    )


def test_a_second_page_layout_and_what_is_not_a_page() -> None:
    item = parse_source((FEEDS / "bakery.html").read_bytes(), "bakery.html", None, UTC).items[0]
    doc = item.document
    assert (doc.title, doc.date, doc.source) == (
        "Harbour bakery wins regional bread prize",
        "2026-11-26",
        "Quayside Weekly",
    )
    assert len(doc.body) == 3 and not any("Most read" in p or "About" in p for p in doc.body)
    with pytest.raises(DocumentError, match=r"^x.html: no article found"):
        parse_source(b"\x89PNG\r\n\x1a\n\x00\x00binary", "x.html", None, UTC)


def test_odd_items_are_refused_alone_and_odd_dates_never_crash() -> None:
    feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        b'{"id": "a", "title": "Tags as a number", "content_text": "Some text here.",'
        b' "date_published": "2026-11-26T10:00:00Z", "tags": 5},'
        b'{"id": "b", "title": "Year one", "content_text": "Text.",'
        b' "date_published": "0001-01-01T00:30:00+01:00"},'
        b'{"id": "c", "title": "Year 9999", "content_text": "Text.",'
        b' "date_published": "9999-12-31T23:00:00-05:00"},'
        b'{"id": "d", "title": {"a": 1}, "content_text": "Text.", "date_published": "2026-11-26"}'
        b"]}"
    )
    parsed = parse_feed(feed, "odd.json", "S", ZoneInfo("Pacific/Kiritimati"))
    assert [i.key for i in parsed.items] == ["a"] and parsed.items[0].document.categories == ()
    assert [str(r) for r in parsed.refused] == [
        "odd.json: item 2: 'Year one': no date",
        "odd.json: item 3: 'Year 9999': no date",
        "odd.json: item 4: no title",
    ]


def test_a_date_without_a_time_is_that_day_in_every_zone() -> None:
    chicago = ZoneInfo("America/Chicago")
    rdf = (
        (FEEDS / "lighthouse-rdf.xml").read_bytes().replace(b"2026-11-26T11:00:00Z", b"2026-11-26")
    )
    assert parse_feed(rdf, "f", None, chicago).items[0].document.date == "2026-11-26"
    page = (FEEDS / "bakery.html").read_bytes()
    assert parse_page(page, "p.html", None, chicago).document.date == "2026-11-26"


def test_a_feed_served_as_html_is_still_a_feed_and_unsafe_links_are_dropped() -> None:
    data = (FEEDS / "orbit-rss.xml").read_bytes()
    parsed = parse_source(data, "orbit", None, UTC, content_type="text/html; charset=utf-8")
    assert parsed.kind == "rss" and len(parsed.items) == 2
    for bad in (b'https://a.example/x" onmouseover="y', b"https://a.example/x\nFake line"):
        odd = data.replace(b"https://orbit.example.org/2026/11/radar-antenna", bad)
        assert parse_feed(odd, "f", None, UTC).items[0].document.url is None
