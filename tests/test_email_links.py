"""What the email leads to: story and headline links (HTML and text parts), the contents line,
the footer, each reader's own preheader, and the clipping budget counted as sent."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.check import check_message
from digest.compose import preheader_of as preheader_built
from digest.config import Config, load_config
from digest.deliver.message import Recipient
from digest.deliver.variants import Variants
from digest.model import Digest, Section, StoryItem, story_path
from digest.render import PREHEADER_PAD, Links, Renderer, encoded_size
from digest.tokens import TOKEN_LENGTH

BASE = "https://news.example.org"
LINKS = Links(
    unsubscribe=f"{BASE}/u/TOKEN",
    preferences=f"{BASE}/p/TOKEN",
    archive=f"{BASE}/archive/2026-11-26",
)
TRICKY = 'Rockets <b>& "drones"</b> over Kyiv'
DIGEST = Digest(
    date="2026-11-26",
    subject="Daily: Japan and NATO pledge closer ties",
    preheader="composed by hand in this test",
    sections=(
        Section(
            "Superpowers and diplomacy",
            (
                StoryItem("Japan and NATO pledge closer ties", "Tokyo and NATO met.", "AFP", "17"),
                StoryItem(TRICKY, "Drones flew.", None, "18"),
            ),
            ("France sends air defence missiles to Ukraine: Macron", "A plain headline"),
        ),
        Section(
            "Space",
            (
                StoryItem("Ariane 6 flies again", "It flew.", "ESA", "21"),
                StoryItem("A story never stored", "No id, no page.", None, ""),
            ),
            ("Moon lander delayed",),
        ),
    ),
    headline_links={
        "france sends air defence missiles to ukraine macron": '/archive/2026-11-25/9-france-"x"&y',
    },
)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    base = load_config(env={}, cwd=tmp_path)
    return dataclasses.replace(base, base_url=BASE + "/", from_addr="Daily <news@example.org>")


class Anchors(HTMLParser):
    """Every <a href> with its text, and every id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a":
            self._href, self._text = str(found.get("href")), ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join(self._text.split())))
            self._href = None


def anchors(html: str) -> Anchors:
    parser = Anchors()
    parser.feed(html)
    return parser


def url(story: StoryItem) -> str:
    path = story_path(DIGEST.date, story)
    assert path is not None
    return BASE + path


def test_story_titles_and_read_more_link_to_their_pages(cfg: Config) -> None:
    html = Renderer(cfg).html(DIGEST, LINKS)
    links = anchors(html).links
    for story in (DIGEST.sections[0].stories[0], DIGEST.sections[1].stories[0]):
        assert (url(story), story.title) in links
        assert (url(story), "Read the full story") in links
    assert url(DIGEST.sections[0].stories[0]) == (
        f"{BASE}/archive/2026-11-26/17-japan-and-nato-pledge-closer-ties"
    )
    # The story without an id has no page: its title is plain, and there are 3 read-more links.
    assert [t for _, t in links].count("Read the full story") == 3
    assert "A story never stored" not in [t for _, t in links]
    assert ">A story never stored</h3>" in html


def test_links_and_titles_are_escaped(cfg: Config) -> None:
    html = Renderer(cfg).html(DIGEST, LINKS)
    assert "<b>" not in html
    assert "Rockets &lt;b&gt;&amp; &#34;drones&#34;&lt;/b&gt; over Kyiv</a></h3>" in html
    tricky = url(DIGEST.sections[0].stories[1])
    assert tricky == f"{BASE}/archive/2026-11-26/18-rockets-b-drones-b-over-kyiv"
    # The headline's path carries a quote and an ampersand: escaped inside the attribute,
    # and read back whole.
    assert 'href="https://news.example.org/archive/2026-11-25/9-france-&#34;x&#34;&amp;y"' in html
    headline = (f'{BASE}/archive/2026-11-25/9-france-"x"&y', DIGEST.sections[0].headlines[0])
    assert headline in anchors(html).links


def test_only_headlines_with_an_archive_story_link(cfg: Config) -> None:
    html = Renderer(cfg).html(DIGEST, LINKS)
    texts = [t for _, t in anchors(html).links]
    assert "France sends air defence missiles to Ukraine: Macron" in texts
    assert "A plain headline" not in texts and "Moon lander delayed" not in texts
    assert '<li style="margin:0 0 6px">A plain headline</li>' in html


def test_text_part_carries_the_same_urls(cfg: Config) -> None:
    text = Renderer(cfg).text(DIGEST, LINKS)
    lines = text.splitlines()
    for story in (*DIGEST.sections[0].stories, DIGEST.sections[1].stories[0]):
        at = lines.index(url(story))
        assert lines[at - 1] == "Read the full story:"
    assert f'  {BASE}/archive/2026-11-25/9-france-"x"&y' in lines
    assert TRICKY in lines  # the text part is not escaped
    assert text.count("Read the full story:") == 3
    # Every web address the HTML part links to is in the text part too (the site's home
    # page, linked from the footer's "why" line, is named there without its scheme).
    html_urls = {h for h, _ in anchors(Renderer(cfg).html(DIGEST, LINKS)).links}
    web = {u for u in html_urls if u.startswith("http")} - {BASE + "/"}
    assert web == set(re.findall(r"https?://\S+", text))


def test_contents_line_links_to_each_section_heading(cfg: Config) -> None:
    html = Renderer(cfg).html(DIGEST, LINKS)
    found = anchors(html)
    inner = [(h, t) for h, t in found.links if h.startswith("#")]
    assert inner == [
        ("#section-superpowers-and-diplomacy", "Superpowers and diplomacy"),
        ("#section-space", "Space"),
    ]
    for href, _ in inner:
        assert href[1:] in found.ids
    assert 'id="section-space" ' in html and ">Space</h2>" in html
    assert "Superpowers and diplomacy</a>&nbsp;(4)" in html  # 2 stories, 2 headlines
    assert "Space</a>&nbsp;(3)" in html
    text = Renderer(cfg).text(DIGEST, LINKS)
    assert "In this issue: Superpowers and diplomacy (4), Space (3)" in text


def test_sections_with_the_same_slug_get_distinct_ids(cfg: Config) -> None:
    twins = dataclasses.replace(
        DIGEST,
        sections=(
            DIGEST.sections[0],
            dataclasses.replace(DIGEST.sections[1], name="Space!"),
            dataclasses.replace(DIGEST.sections[1], name="Space?"),
        ),
    )
    found = anchors(Renderer(cfg).html(twins, LINKS))
    inner = [h for h, _ in found.links if h.startswith("#")]
    assert inner == ["#section-superpowers-and-diplomacy", "#section-space", "#section-space-2"]
    assert all(h[1:] in found.ids for h in inner)


def test_section_dividers_are_table_cells_not_heading_borders(cfg: Config) -> None:
    html = Renderer(cfg).html(DIGEST, LINKS)
    headings = re.findall(r"<h2 [^>]*>", html)
    assert len(headings) == 2
    assert not any("border" in h or "padding" in h for h in headings)
    dividers = re.findall(r'<td align="center" class="d" style="([^"]*)"', html)
    assert len(dividers) == 2 and all("padding:28px 32px 22px" in d for d in dividers)


def test_footer_address_subscribe_and_why(cfg: Config) -> None:
    renderer = Renderer(cfg)
    html, text = renderer.html(DIGEST, LINKS), renderer.text(DIGEST, LINKS)
    assert (f"{BASE}/subscribe", "Subscribe") in anchors(html).links
    assert f"Forwarded to you? Subscribe:\n{BASE}/subscribe\n" in text
    why = "You get this because you subscribed to Defence &amp; Space Daily at"
    assert why in html and '">news.example.org</a>.' in html
    assert "subscribed to Defence & Space Daily at\nnews.example.org." in text
    assert "Main St" not in html and "Main St" not in text  # not set: not shown
    address = "Daily & Co, 1 Main St <Suite 2>, Springfield, USA"
    with_address = Renderer(dataclasses.replace(cfg, postal_address=address))
    html, text = with_address.html(DIGEST, LINKS), with_address.text(DIGEST, LINKS)
    assert ">Daily &amp; Co, 1 Main St &lt;Suite 2&gt;, Springfield, USA</p>" in html
    assert text.endswith(f"\n\n{address}\n")


def test_postal_address_setting_and_check_warning(cfg: Config, tmp_path: Path) -> None:
    env = {"DIGEST_POSTAL_ADDRESS": "1 Main St, Springfield"}
    assert load_config(env=env, cwd=tmp_path).postal_address == "1 Main St, Springfield"
    assert cfg.postal_address is None
    template = Variants(cfg, DIGEST).get(None)
    assert template is not None
    data = template.build(Recipient(1, "a@example.com", None, "u1", "p1"))
    found = {f.code: f for f in check_message(data, cfg, spam=False)}
    assert found["postal_address"].level == "warning"
    assert "DIGEST_POSTAL_ADDRESS" in found["postal_address"].message
    set_up = dataclasses.replace(cfg, postal_address="1 Main St, Springfield")
    assert "postal_address" not in {f.code for f in check_message(data, set_up, spam=False)}
    assert "postal_address" not in {f.code for f in check_message(data, None, spam=False)}


def automatic(digest: Digest, cfg: Config) -> Digest:
    """The digest with the preheader composing makes (no editor's text)."""
    from digest.compose import finish

    return dataclasses.replace(
        digest, preheader=finish(digest.date, digest.sections, cfg).preheader
    )


def preheader_of(html: str) -> str:
    m = re.search(r'<div style="display:none;[^"]*">(.*?)</div>', html, re.S)
    assert m is not None
    return m.group(1)


def test_a_reader_of_some_sections_gets_a_preheader_naming_only_their_stories(
    cfg: Config,
) -> None:
    day = automatic(DIGEST, cfg)
    assert "Ariane 6 flies again" in day.preheader  # the full digest's names the Space story
    variants = Variants(cfg, day)
    diplomacy = variants.get(("Superpowers and diplomacy",))
    space = variants.get(("Space",))
    everything = variants.get(None)
    assert diplomacy is not None and space is not None and everything is not None
    shown = preheader_of(diplomacy.html)
    assert shown.startswith("2 stories, 2 headlines. Also: Rockets &lt;b&gt;")
    assert "Ariane" not in shown and "Moon lander" not in shown and "never stored" not in shown
    assert diplomacy.subject.endswith("Japan and NATO pledge closer ties")
    shown = preheader_of(space.html)
    assert shown.startswith("2 stories, 1 headline. Also: A story never stored; Moon lander")
    assert "Japan" not in shown and "Rockets" not in shown and "France" not in shown
    assert space.subject.endswith("Ariane 6 flies again")
    assert "Also: Rockets &lt;b&gt;" in preheader_of(everything.html)
    # The padding follows the text, in the email as sent.
    assert preheader_of(space.html).endswith(str(PREHEADER_PAD))


def test_an_editors_preheader_is_kept_for_every_reader(cfg: Config) -> None:
    day = dataclasses.replace(DIGEST, preheader="Our editor's own words")
    for choice in (None, ("Space",), ("Superpowers and diplomacy",)):
        template = Variants(cfg, day).get(choice)
        assert template is not None
        assert preheader_of(template.html).startswith("Our editor&#39;s own words\n")


def test_a_day_with_one_story_names_its_first_headlines(cfg: Config) -> None:
    one = Section(
        "Space",
        (StoryItem("Ariane 6 flies again", "It flew.", "ESA", "21"),),
        ("Moon lander delayed", "Mars sample return rethought", "Comet seen"),
    )
    day = automatic(dataclasses.replace(DIGEST, sections=(one,)), cfg)
    template = Variants(cfg, day).get(None)
    assert template is not None
    assert preheader_of(template.html).startswith(
        "1 story, 3 headlines. Also: Moon lander delayed; Mars sample return rethought; Comet"
    )


def test_preheader_is_cut_at_a_word_and_headlines_only_readers_get_one() -> None:
    long = Section("More", (), tuple(f"Headline number {i} about something" for i in range(20)))
    text = preheader_built((long,))
    assert text.startswith("20 headlines. Also: Headline number 1 about something; Headline")
    assert len(text) <= 140 and text.endswith("…")


def test_a_reader_of_headlines_only_is_told_of_their_headlines(cfg: Config) -> None:
    only = Section("More headlines", (), ("Moon lander delayed", "Comet seen over Chile"))
    day = automatic(dataclasses.replace(DIGEST, sections=(*DIGEST.sections, only)), cfg)
    template = Variants(cfg, day).get(("More headlines",))
    assert template is not None
    assert template.subject.endswith(": Moon lander delayed")
    assert preheader_of(template.html).startswith("2 headlines. Also: Comet seen over Chile\n")


def sent_html_part(raw: bytes) -> bytes:
    """The HTML part's body as it travels: still quoted-printable encoded."""
    head, _, rest = raw.partition(b'Content-Type: text/html; charset="utf-8"\r\n')
    assert rest, "no HTML part"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"quoted-printable" in headers
    boundary = re.search(rb'boundary="([^"]+)"', head)
    assert boundary is not None
    return body.partition(b"--" + boundary.group(1))[0]


def big_day() -> Digest:
    """A heavy day in a language with accents: quoted-printable triples each é."""
    sections = tuple(
        Section(
            f"Rubrique {i}",
            tuple(
                StoryItem(
                    f"Sujet {i}.{j} : défense aérienne", "Résumé détaillé. " * 18, "AFP", f"{i}{j}"
                )
                for j in range(3)
            ),
            tuple(f"Dépêche {i}.{k} : élément éloigné, sécurité à l'étranger" for k in range(60)),
        )
        for i in range(10)
    )
    return dataclasses.replace(DIGEST, sections=sections, headline_links={})


def test_the_budget_counts_the_html_part_as_sent(cfg: Config) -> None:
    day = big_day()
    renderer = Renderer(cfg)
    html, _ = renderer.fit(day, LINKS)
    assert encoded_size(html) > len(html.encode()) * 1.05  # what the old measure missed
    # A budget between the decoded and the encoded size makes fit cap the headlines.
    full = renderer.html(dataclasses.replace(day, sections=day.sections[:2]), LINKS)
    between = (len(full.encode()) + encoded_size(full)) // 2
    tight = Renderer(dataclasses.replace(cfg, html_max_bytes=between))
    _, cap = tight.fit(dataclasses.replace(day, sections=day.sections[:2]), LINKS)
    assert cap is not None


def test_a_big_days_encoded_html_part_stays_under_the_budget(cfg: Config) -> None:
    small = dataclasses.replace(cfg, html_max_bytes=100_000)  # Gmail's 102 KB, with a margin
    template = Variants(small, big_day()).get(None)
    assert template is not None
    tokens = ("u" * TOKEN_LENGTH, "p" * TOKEN_LENGTH)  # as long as real ones
    raw = template.build(Recipient(7, "reader@example.com", "Reader", *tokens))
    part = sent_html_part(raw)
    assert len(part) <= small.html_max_bytes
    assert len(part) == encoded_size(template.html)  # render measures what message.py sends
    assert "more headlines in the archive" in template.html  # it took a cap to fit
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    _, html = msg.iter_parts()
    assert html.get_content().count("Résumé") > 0
