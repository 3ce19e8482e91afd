"""Render a Digest to the HTML (jinja2 -> MJML -> HTML) and plain-text parts of the email.

Pure: values in, strings out. Templates come from config.templates first, then the built-in
folder, so a newsletter can restyle itself without touching the code.
"""

from __future__ import annotations

import binascii
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup
from mjml import mjml2html

from .config import Config
from .errors import RenderError
from .model import Digest, Section, story_path
from .text import fold, long_date, match_key

HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
# Headlines per section tried, in turn, when the HTML is over config.html_max_bytes.
HEADLINE_CAPS = (20, 12, 8, 5, 3, 0)
# RFC 5322: a line must not pass 998 characters (without the CRLF).
MAX_LINE = 998
TEXT_WIDTH = 78
# After the preheader's text: invisible characters that fill the rest of the inbox preview, so
# it does not go on into "View in browser" and the masthead (previews show up to ~140 chars).
# On lines of their own, so neither the preheader nor the padding makes a line fold_html cuts.
PREHEADER_PAD = Markup(("\n" + "&#847;&zwnj;&nbsp;" * 30) * 3 + "\n")

# A newline before these tags changes nothing on screen (it is white space between blocks, or
# sits in MJML's font-size:0 cells), and keeps MRML's one-line output under MAX_LINE.
_BLOCK_TAG = re.compile(r"(?<!\n)<(?=(?:div|table|tbody|tr|td|p|h[1-6]|ul|ol|li|style|meta)\b)")
_PRE = re.compile(r"(<pre\b.*?</pre>)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Links:
    """The per-subscriber addresses an email carries."""

    unsubscribe: str  # one-click unsubscribe page for this subscriber
    preferences: str  # manage sections page
    archive: str  # "view in browser" page for this digest (date)


@dataclass(frozen=True)
class StoryView:
    """A story as a template shows it: `url` is its archive page (None: it has none),
    `original` the article it came from (a feed's or a page's)."""

    title: str
    summary: str
    source: str | None
    url: str | None
    original: str | None = None


@dataclass(frozen=True)
class HeadlineView:
    """A related headline, and the archive page of the story it is (None: not a story)."""

    text: str
    url: str | None

    def __str__(self) -> str:  # so a template's plain {{ headline }} still shows the text
        return self.text


@dataclass(frozen=True)
class SectionView:
    """A section as a template shows it: headlines maybe cut, `more` says how many were;
    `anchor` is its heading's id (for the contents line), `count` all its items."""

    name: str
    anchor: str
    stories: tuple[StoryView, ...]
    headlines: tuple[HeadlineView, ...]
    more: int

    @property
    def count(self) -> int:
        return len(self.stories) + len(self.headlines) + self.more


def builtin_templates() -> Path:
    """The templates shipped with digest: inside the package in a wheel, else the repo's."""
    here = Path(__file__).resolve().parent
    packaged = here / "templates"
    return packaged if packaged.is_dir() else here.parent / "templates"


def template_dirs(config: Config) -> list[Path]:
    """Where templates are looked up: the user's folder first (if set), then the built-in."""
    dirs = [config.templates] if config.templates else []
    return [*dirs, builtin_templates()]


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", hanging: str = "") -> str:
    """Fill text to `width` columns; long words (URLs) are kept whole, never broken."""
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=indent,
        subsequent_indent=hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )


def underline(text: str, char: str = "=") -> str:
    """A setext heading: the wrapped text over a rule as wide as its longest line."""
    lines = wrap(text).splitlines() or [""]
    return "\n".join([*lines, char * max(len(line) for line in lines)])


def fold_html(html: str) -> str:
    """Break MRML's long lines before block tags (outside <pre>), then at spaces if still long."""
    parts = _PRE.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = _BLOCK_TAG.sub("\n<", parts[i])
    lines = "".join(parts).split("\n")
    return "\n".join(_fold_line(line) if len(line) > MAX_LINE else line for line in lines)


def _fold_line(line: str) -> str:
    """Break an over-long line at spaces outside tags, where a newline renders as a space."""
    out: list[str] = []
    start, space, in_tag = 0, -1, False
    for i, ch in enumerate(line):
        if ch == "<":
            in_tag = True
        elif ch == ">":
            in_tag = False
        elif ch == " " and not in_tag:
            space = i
        if i - start >= MAX_LINE and space > start:
            out.append(line[start:space])
            start = space + 1
    out.append(line[start:])
    return "\n".join(out)


def encoded_size(html: str) -> int:
    """Bytes of the HTML part as sent, which is what Gmail's clipping counts: UTF-8,
    quoted-printable, CRLF line ends, exactly as deliver/message.py (_qp) encodes it."""
    body = html.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return len(binascii.b2a_qp(body, istext=True))


def anchor(name: str, taken: set[str]) -> str:
    """An id for a section's heading, from its name ("section-missile-defense"), unique."""
    words = [w for w in re.split(r"[^a-z0-9]+", fold(name)) if w]
    base = "-".join(["section", *words])
    found, n = base, 1
    while found in taken:
        n += 1
        found = f"{base}-{n}"
    taken.add(found)
    return found


def section_views(
    sections: tuple[Section, ...],
    cap: int | None,
    date: str,
    base_url: str,
    headline_links: dict[str, str],
) -> list[SectionView]:
    """Sections with at most `cap` headlines each (None: all of them), each story and
    headline with the address of its archive page under `base_url`, where it has one."""
    base = base_url.rstrip("/")
    taken: set[str] = set()
    views = []
    for s in sections:
        shown = s.headlines if cap is None else s.headlines[:cap]
        stories = []
        for st in s.stories:
            path = story_path(date, st)
            url = path and base + path
            stories.append(StoryView(st.title, st.summary, st.source, url, st.original))
        heads = []
        for h in shown:
            path = headline_links.get(match_key(h))
            heads.append(HeadlineView(h, base + path if path else None))
        more = len(s.headlines) - len(shown)
        views.append(SectionView(s.name, anchor(s.name, taken), (*stories,), (*heads,), more))
    return views


def contents(sections: list[SectionView]) -> str:
    """The text part's contents line: each section with its count of items."""
    return ", ".join(f"{s.name} ({s.count})" for s in sections)


def site_name(base_url: str) -> str:
    """The site as a reader would name it: base_url without scheme or trailing slash."""
    parts = urlsplit(base_url)
    return (parts.netloc + parts.path).rstrip("/") or base_url


def one_line(text: str) -> str:
    """Collapse a message to one line: the CLI prints errors as one line."""
    return " ".join(str(text).split())


class Renderer:
    """Renders digests with one pair of jinja2 environments, built once per config."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.dirs = template_dirs(config)
        loader = jinja2.FileSystemLoader([str(d) for d in self.dirs])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": True,
        }
        self._html_env = jinja2.Environment(autoescape=True, **common)
        self._text_env = jinja2.Environment(autoescape=False, **common)
        for env in (self._html_env, self._text_env):
            env.filters["long_date"] = long_date
            env.filters["wrap"] = wrap
            env.filters["underline"] = underline
            env.filters["contents"] = contents

    def html(self, digest: Digest, links: Links) -> str:
        """The full HTML document, with headlines capped if needed to fit html_max_bytes."""
        return self.fit(digest, links)[0]

    def fit(self, digest: Digest, links: Links) -> tuple[str, int | None]:
        """The HTML and the headline cap it needed (None: none), to pass on to text().
        The budget counts the HTML part as sent (quoted-printable adds about 5%)."""
        limit = self.config.html_max_bytes
        longest = max((len(s.headlines) for s in digest.sections), default=0)
        # A cap at or above the longest section changes nothing, so it is not worth a render.
        for cap in (None, *(c for c in HEADLINE_CAPS if c < longest)):
            html = self._html(digest, links, cap)
            size = encoded_size(html)
            if size <= limit:
                return html, cap
        raise RenderError(
            f"{HTML_TEMPLATE}: HTML for {digest.date} is {size} bytes as sent even without "
            f"headlines, over html_max_bytes ({limit})"
        )

    def text(self, digest: Digest, links: Links, *, headline_cap: int | None = None) -> str:
        """The text/plain part, written for reading as text (not converted from the HTML)."""
        return self._render(self._text_env, TEXT_TEMPLATE, digest, links, headline_cap)

    def _html(self, digest: Digest, links: Links, cap: int | None) -> str:
        mjml = self._render(self._html_env, HTML_TEMPLATE, digest, links, cap)
        try:
            # fonts={}: never link Google Fonts, even for a family MRML knows (Roboto, ...).
            html = mjml2html(mjml, fonts={})
        except ValueError as exc:
            raise RenderError(f"{HTML_TEMPLATE}: MJML failed: {one_line(str(exc))}") from exc
        return fold_html(html)

    def _render(
        self, env: jinja2.Environment, name: str, digest: Digest, links: Links, cap: int | None
    ) -> str:
        base = self.config.base_url.rstrip("/")
        views = section_views(digest.sections, cap, digest.date, base, digest.headline_links)
        try:
            return env.get_template(name).render(
                name=self.config.name,
                config=self.config,
                digest=digest,
                links=links,
                sections=views,
                site=site_name(base),
                subscribe_url=f"{base}/subscribe",
                postal_address=self.config.postal_address,
                preheader_pad=PREHEADER_PAD,
            )
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or exc.name or name}:{exc.lineno}"
            raise RenderError(f"{where}: {one_line(exc.message or 'syntax error')}") from exc
        except jinja2.TemplateNotFound as exc:
            dirs = ", ".join(str(d) for d in self.dirs)
            raise RenderError(f"{name}: template {exc.name} not found in {dirs}") from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"{name}: {one_line(exc.message or str(exc))}") from exc
