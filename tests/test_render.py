"""Rendering: golden HTML and text, the size cap, escaping, structure and user templates."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from digest.config import Config
from digest.errors import RenderError
from digest.model import Digest, Section, StoryItem
from digest.render import MAX_LINE, Links, Renderer, builtin_templates, fold_html, template_dirs

from .golden import assert_golden

LINKS = Links(
    unsubscribe="https://news.example.org/unsubscribe?s=42&t=abc",
    preferences="https://news.example.org/preferences?s=42&t=abc",
    archive="https://news.example.org/archive/2026-11-26",
)
EVIL = "<script>alert(1)</script> AT&T"

DIGEST = Digest(
    date="2026-11-26",
    subject="Defence & Space Daily, Thursday 26 November 2026: Japan and NATO pledge closer ties",
    preheader="4 stories, 9 headlines. Also: Raytheon wins track custody deal; Ariane 6 flies",
    sections=(
        Section(
            "Superpowers and diplomacy",
            (
                StoryItem(
                    "Japan and NATO pledge closer ties as China looms",
                    "NATO chief Jens Stoltenberg said on Tuesday that Japan and the alliance were "
                    "strengthening ties, warning that Beijing was watching the war in Ukraine "
                    "closely. He spoke alongside Prime Minister Fumio Kishida in Tokyo.",
                    "AFP",
                    "17",
                ),
                StoryItem(
                    "Kremlin keeps mum on missile systems seen on Moscow rooftops",
                    "The Kremlin declined to comment on air defence systems photographed on "
                    "buildings in central Moscow.",
                    None,
                    "18",
                ),
            ),
            (
                "Netherlands set to boost push for Patriot missile defenses in Ukraine",
                "France sends air defence missiles to Ukraine: Macron",
                "Details at https://www.example.com/a/very/long/path/that/never/breaks/at/any/"
                "space/because-it-has-none-at-all",
            ),
        ),
        Section(
            "Missile defense",
            (
                StoryItem(
                    "Raytheon awarded Missile Track Custody development contract",
                    "The Space Development Agency picked Raytheon Intelligence & Space to build a "
                    "prototype for tracking hypersonic missiles from orbit.",
                    "SpaceWar.com",
                    "21",
                ),
            ),
            ("Ukraine forces to receive Patriot air defense training in US: Pentagon",),
        ),
        Section(
            "Space",
            (
                StoryItem(
                    "Ariane 6 flies its second commercial mission",
                    "Europe's new heavy rocket put a weather satellite into orbit from Kourou.",
                    "ESA",
                ),
            ),
        ),
        Section(
            "More headlines",
            (),
            (
                "Iran says it repelled drone attack on military site",
                "Swift developing new satellite",
                "Ukraine missile toll rises to 40 as Russia denies attack",
                "Australia buys Ukraine-tested US missile system",
                "Kurdish groups 'involved' in drone attack, Iran says",
            ),
        ),
    ),
    # A related headline that is a story in the archive (the Ariane story has no id: no page).
    headline_links={
        "france sends air defence missiles to ukraine macron": "/archive/2026-11-25/9-france-sends"
    },
)


@pytest.fixture
def renderer(config: Config) -> Renderer:
    return Renderer(config)


def many(prefix: str, n: int, width: int = 60) -> tuple[str, ...]:
    """n distinct texts of about `width` characters."""
    return tuple(f"{prefix} {i:04d} " + "lorem ipsum " * (width // 12) for i in range(n))


def normal_day() -> Digest:
    """About a normal day: 10 sections, 20 stories of 300 characters, 150 headlines."""
    sections = tuple(
        Section(
            f"Section {i}",
            tuple(StoryItem(t, "A summary sentence. " * 15, "AFP") for t in many(f"S{i}", 2)),
            many(f"Headline {i}", 15, 90),
        )
        for i in range(10)
    )
    return dataclasses.replace(DIGEST, sections=sections)


def test_basic_html_matches_golden(renderer: Renderer) -> None:
    assert_golden("render_basic.html", renderer.html(DIGEST, LINKS))


def test_basic_text_matches_golden(renderer: Renderer) -> None:
    assert_golden("render_basic.txt", renderer.text(DIGEST, LINKS))


def test_html_structure(renderer: Renderer) -> None:
    html = renderer.html(DIGEST, LINKS)
    assert 'lang="en"' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<meta name="color-scheme" content="light dark" />' in html
    assert '<meta name="supported-color-schemes" content="light dark" />' in html
    assert "prefers-color-scheme: dark" in html
    assert "<title>Defence &amp; Space Daily, Thursday 26 November 2026: Japan" in html
    assert html.count("<h1") == 1
    assert ">Defence &amp; Space Daily</h1>" in html
    assert "Thursday 26 November 2026</p>" in html
    assert html.count("<h2") == len(DIGEST.sections)
    for section in DIGEST.sections:
        assert f">{section.name}</h2>" in html
    assert html.count("<h3") == DIGEST.story_count
    assert html.count("<li") == DIGEST.headline_count
    assert 'href="https://news.example.org/unsubscribe?s=42&amp;t=abc"' in html
    assert 'href="https://news.example.org/preferences?s=42&amp;t=abc"' in html
    assert 'href="https://news.example.org/archive/2026-11-26"' in html
    assert ">Unsubscribe</a>" in html and ">Manage your sections</a>" in html
    assert ">View in browser</a>" in html
    assert "Source: AFP" in html and "Source: None" not in html
    assert DIGEST.preheader in html
    assert "fonts.googleapis.com" not in html
    assert "more headlines in the archive" not in html


def test_text_layout(renderer: Renderer) -> None:
    text = renderer.text(DIGEST, LINKS)
    lines = text.splitlines()
    assert lines[:3] == [
        "Defence & Space Daily",
        "=====================",
        "Thursday 26 November 2026",
    ]
    assert "Superpowers and diplomacy\n=========================\n" in text
    assert "(AFP)" in text and "(None)" not in text
    assert "- Swift developing new satellite" in lines
    # URLs stand whole on their own lines; everything else fits 78 columns.
    for url in (LINKS.unsubscribe, LINKS.preferences, LINKS.archive):
        assert url in lines
    assert all(len(line) <= 78 or "://" in line for line in lines)


def test_no_line_longer_than_rfc_5322_allows(renderer: Renderer) -> None:
    for digest in (DIGEST, normal_day()):
        for out in (renderer.html(digest, LINKS), renderer.text(digest, LINKS)):
            assert max(len(line) for line in out.splitlines()) <= MAX_LINE


def test_fold_html_breaks_long_lines_only_where_it_renders_the_same() -> None:
    html = (
        '<div><p class="x">' + "word " * 500 + '<a href="https://e/x">link</a></p><pre>a<p>b</pre>'
    )
    folded = fold_html(html)
    assert max(len(line) for line in folded.splitlines()) <= MAX_LINE
    # Only white space changed, never inside a tag.
    assert folded.replace("\n", "").replace(" ", "") == html.replace(" ", "")
    assert re.search(r"<[^>]*\n", folded) is None
    assert "<pre>a<p>b</pre>" in folded  # preformatted text is left alone


def test_normal_day_is_well_under_gmail_clipping(renderer: Renderer) -> None:
    digest = normal_day()
    html, cap = renderer.fit(digest, LINKS)
    assert cap is None
    assert len(html.encode()) < 102_000
    assert html.count("<li") == 150


def test_huge_digest_is_capped_with_a_pointer_to_the_archive(renderer: Renderer) -> None:
    sections = tuple(Section(f"Section {i}", (), many(f"H{i}", 400, 100)) for i in range(30))
    digest = dataclasses.replace(DIGEST, sections=sections)
    html, cap = renderer.fit(digest, LINKS)
    assert cap is not None and cap < 400
    assert len(html.encode()) <= renderer.config.html_max_bytes
    assert renderer.html(digest, LINKS) == html
    more = f"{400 - cap} more headlines in the archive"
    assert html.count(more) == 30
    assert html.count("<li") == 30 * cap
    text = renderer.text(digest, LINKS, headline_cap=cap)
    assert text.count(more) == 30
    assert text.count("\n- ") == 30 * cap
    assert "more headlines" not in renderer.text(digest, LINKS)  # no cap unless asked


def test_only_sections_over_the_cap_say_more(renderer: Renderer, config: Config) -> None:
    small = dataclasses.replace(config, html_max_bytes=20_000)
    sections = (Section("Long", (), many("L", 200)), Section("Short", (), ("One", "Two")))
    html, cap = Renderer(small).fit(dataclasses.replace(DIGEST, sections=sections), LINKS)
    assert cap is not None
    assert html.count("more headlines in the archive") == 1
    assert ">One</li>" in html and ">Two</li>" in html


def test_digest_that_cannot_fit_raises(config: Config) -> None:
    tiny = Renderer(dataclasses.replace(config, html_max_bytes=2_000))
    with pytest.raises(RenderError, match=r"digest\.mjml\.j2: HTML .* \d+ bytes .*2000"):
        tiny.fit(DIGEST, LINKS)


def test_document_text_is_escaped_in_html_and_intact_in_text(renderer: Renderer) -> None:
    evil = Digest(
        date="2026-11-26",
        subject=f"Subject {EVIL}",
        preheader=f"Preheader {EVIL}",
        sections=(Section(f"Name {EVIL}", (StoryItem(EVIL, EVIL, EVIL),), (EVIL,)),),
    )
    html = renderer.html(evil, LINKS)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "AT&amp;T" in html and "AT&T" not in html
    assert html.count("&lt;script&gt;") >= 8  # subject x2, preheader, section, title, ...
    text = renderer.text(evil, LINKS)
    assert "<script>alert(1)</script>" in text
    assert "AT&T" in text and "&amp;" not in text and "&lt;" not in text


def test_template_dirs_put_the_users_folder_first(config: Config, tmp_path: Path) -> None:
    assert template_dirs(config) == [builtin_templates()]
    assert (builtin_templates() / "digest.mjml.j2").is_file()
    mine = dataclasses.replace(config, templates=tmp_path)
    assert template_dirs(mine) == [tmp_path, builtin_templates()]


def test_user_template_overrides_the_builtin(config: Config, tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("{{ name }}: {{ digest.date|long_date }}\n")
    renderer = Renderer(dataclasses.replace(config, templates=tmp_path))
    assert renderer.text(DIGEST, LINKS) == "Defence & Space Daily: Thursday 26 November 2026\n"
    assert "<h1" in renderer.html(DIGEST, LINKS)  # the HTML template still comes built in


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("digest.txt.j2", "{% if %}\n", r"digest\.txt\.j2:1: .*"),
        ("digest.txt.j2", "{{ nothing_here }}\n", r"digest\.txt\.j2: 'nothing_here' is undefined"),
        ("digest.txt.j2", "{% include 'gone.j2' %}\n", r"template gone\.j2 not found"),
        ("digest.mjml.j2", "<mjml><mj-body>{{ name }}\n", r"digest\.mjml\.j2: MJML failed: "),
    ],
)
def test_broken_templates_raise_render_error(
    config: Config, tmp_path: Path, name: str, source: str, message: str
) -> None:
    (tmp_path / name).write_text(source)
    renderer = Renderer(dataclasses.replace(config, templates=tmp_path))
    with pytest.raises(RenderError, match=message) as info:
        renderer.text(DIGEST, LINKS) if name.endswith(".txt.j2") else renderer.html(DIGEST, LINKS)
    assert "\n" not in str(info.value)


def test_html_lines_are_split_only_between_tags(renderer: Renderer) -> None:
    html = renderer.html(DIGEST, LINKS)
    assert re.search(r"\n<(?:a|span|strong|em)\b", html) is None
