"""The editorial desk on the editor's day page (issue #13), through the web app's test client on
real SQLite and PostgreSQL: every edit form, recorded under the signed-in editor's name; CSRF
on each; errors inside the editor's layout; the offer to learn a moved headline's words; and
the archive's "Corrected" mark for an edit made after the send began."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterator
from html import unescape

import pytest

from digest.config import Config
from digest.jobs import desk
from digest.model import Digest
from digest.store import Store
from digest.web import create_app

from .conftest import SAMPLE_DAY
from .test_web import BASE, cfg_fixture, compose_sample  # noqa: F401  (the cfg fixture)
from .test_web_editor import csrf_of, login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

DAY_PAGE = f"/editor/{SAMPLE_DAY}"
EDIT = f"{DAY_PAGE}/edit"


@pytest.fixture
def client(cfg: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        yield c


@pytest.fixture
def composed(cfg: Config, store: Store) -> Digest:
    return compose_sample(store, cfg)


def post(client: TestClient, csrf: str, **fields: str) -> tuple[int, str]:
    r = client.post(EDIT, data={"csrf": csrf, **fields}, follow_redirects=False)
    return r.status_code, r.headers.get("location", "") or r.text


def current(store: Store) -> Digest:
    return store.get_digest(SAMPLE_DAY)


def test_story_forms_edit_and_log_under_the_editors_name(
    client: TestClient, store: Store, composed: Digest
) -> None:
    csrf = login(client)
    page = client.get(DAY_PAGE).text
    first = composed.sections[0].stories[0]
    later = composed.sections[2].stories[1]
    assert f'id="story-{later.id}"' in page and "No edits yet." in page

    code, where = post(client, csrf, story=later.id, title="A <b>sharper</b> title", summary="")
    assert code == 303 and where.startswith(f"{DAY_PAGE}?notice=edited")
    assert where.endswith(f"#story-{later.id}")
    assert post(client, csrf, story=later.id, action="lead")[0] == 303
    d = current(store)
    assert d.sections[0].stories[0].title == "A <b>sharper</b> title"
    assert d.subject.endswith(": A <b>sharper</b> title")
    assert post(client, csrf, story=first.id, action="drop")[0] == 303
    assert first.id not in [st.id for s in current(store).sections for st in s.stories]

    page = client.get(DAY_PAGE).text
    assert "A &lt;b&gt;sharper&lt;/b&gt; title" in page and "<b>sharper</b>" not in page
    dropped = page.split("<h3>Dropped</h3>")[1]
    assert unescape(first.title) in unescape(dropped) and 'value="restore"' in dropped
    log = page.split('id="log"')[1]
    assert log.count("<td>editor</td>") == 3  # the signed-in editor's name, each edit

    assert post(client, csrf, story=first.id, action="restore")[0] == 303
    assert first.id in [st.id for s in current(store).sections for st in s.stories]
    assert [e.editor for e in desk.log(store, SAMPLE_DAY)] == ["editor"] * 4


def test_up_down_section_and_day_fields(
    client: TestClient, store: Store, cfg: Config, composed: Digest
) -> None:
    csrf = login(client)
    sec = composed.sections[3]
    a, b = sec.stories[0].id, sec.stories[1].id
    assert post(client, csrf, story=b, action="up")[0] == 303
    moved = next(s for s in current(store).sections if s.name == sec.name)
    assert [st.id for st in moved.stories[:2]] == [b, a]
    target = cfg.section_names[-2]
    assert post(client, csrf, story=a, section=target, title=sec.stories[0].title)[0] == 303
    assert a in [st.id for s in current(store).sections if s.name == target for st in s.stories]
    assert len(desk.log(store, SAMPLE_DAY)) == 2  # the unchanged title was not an edit

    assert post(client, csrf, subject="Hand-written subject", preheader="")[0] == 303
    assert current(store).subject == "Hand-written subject"
    assert 'value="Hand-written subject"' in client.get(DAY_PAGE).text


def test_headline_move_offers_its_words_to_the_new_section(
    client: TestClient, store: Store, cfg: Config, composed: Digest
) -> None:
    csrf = login(client)
    headline = composed.sections[0].headlines[0]
    target = next(n for n in cfg.section_names[1:] if n != cfg.more_section)
    code, where = post(client, csrf, headline=headline, section=target)
    assert code == 303 and "learn=" in where and "to=" in where
    page = client.get(where.split("#")[0]).text
    offer = page.split('class="offer stack"')[1].split("</form>")[0]
    words = re.findall(r'name="words" value="([^"]+)" checked', offer)
    assert words and all(w == w.lower() for w in words)
    assert f'name="section" value="{target}"' in unescape(offer)

    r = client.post(
        "/editor/keywords/add",
        data={"csrf": csrf, "section": target, "words": words[:1], "next": f"{DAY_PAGE}#desk"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(DAY_PAGE)
    assert (target, words[0]) in [(k.section, k.word) for k in store_keywords(store)]

    # Only the day's own headlines: a crafted link offers nothing.
    crafted = client.get(DAY_PAGE, params={"learn": "Plant these words here", "to": target})
    assert crafted.status_code == 200 and 'class="offer' not in crafted.text
    # To the catch-all section nothing is offered.

    code, where = post(client, csrf, headline=headline, section=cfg.more_section)
    assert code == 303 and 'class="offer' not in client.get(where.split("#")[0]).text
    assert post(client, csrf, headline=headline, action="drop")[0] == 303
    assert headline not in [h for s in current(store).sections for h in s.headlines]


def store_keywords(store: Store) -> list[desk.keywords.LearnedKeyword]:
    return desk.keywords.list_keywords(store)


@pytest.mark.parametrize(
    "fields",
    [
        {"story": "1", "action": "drop"},
        {"headline": "anything", "action": "drop"},
        {"subject": "Hijacked"},
    ],
)
def test_every_edit_form_needs_the_sessions_csrf_token(
    client: TestClient, store: Store, composed: Digest, fields: dict[str, str]
) -> None:
    login(client)
    for token in ("", "0" * 32):
        r = client.post(EDIT, data={"csrf": token, **fields}, follow_redirects=False)
        assert r.status_code == 403
    assert current(store) == composed and desk.log(store, SAMPLE_DAY) == []


def test_signed_out_edits_go_to_the_sign_in(client: TestClient, composed: Digest) -> None:
    r = client.post(EDIT, data={"csrf": "x", "subject": "x"}, follow_redirects=False)
    assert r.status_code == 303 and "/editor/login" in r.headers["location"]


def test_a_bad_edit_answers_inside_the_editor_layout(
    client: TestClient, store: Store, composed: Digest
) -> None:
    csrf = login(client)
    r = client.post(EDIT, data={"csrf": csrf, "story": "999999", "action": "drop"})
    assert r.status_code == 400
    assert "unknown story id" in r.text and f'href="{DAY_PAGE}"' in r.text
    assert 'action="/editor/logout"' in r.text  # the editor's navigation, not a public page
    r = client.post(
        EDIT,
        data={
            "csrf": csrf,
            "story": composed.sections[0].stories[0].id,
            "section": "<script>x</script>",
        },
    )
    assert r.status_code == 400 and "<script>x</script>" not in r.text
    r = client.post(EDIT, data={"csrf": csrf, "story": "1", "action": "explode"})
    assert r.status_code == 400
    assert desk.log(store, SAMPLE_DAY) == []


def test_after_the_send_began_edits_correct_the_archive_which_says_so(
    client: TestClient, store: Store, composed: Digest
) -> None:
    csrf = login(client)
    story = composed.sections[0].stories[0]
    assert store.begin_send(SAMPLE_DAY, required=False)
    assert "Corrected" not in client.get(f"/archive/{SAMPLE_DAY}").text
    assert "Sending has begun" in client.get(DAY_PAGE).text
    code, where = post(client, csrf, story=story.id, title="Fixed after sending")
    assert code == 303 and "notice=archived" in where
    assert current(store) == composed  # what subscribers get stays as it was
    page = client.get(f"/archive/{SAMPLE_DAY}").text
    assert "Fixed after sending" in page and "Corrected" in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', page)
    assert "Fixed after sending" in client.get("/archive/").text  # its subject names the lead
    assert csrf_of(client.get(DAY_PAGE).text) == csrf


def test_approve_refuses_a_digest_changed_since_the_page_showed_it(
    cfg: Config, store: Store, composed: Digest
) -> None:
    required = dataclasses.replace(cfg, approval="required")
    with TestClient(create_app(required, store), base_url=BASE) as client:
        csrf = login(client)
        page = client.get(DAY_PAGE).text
        shown = re.search(r'name="version" value="([0-9a-f]+)"', page)
        assert shown and shown.group(1) == store.digest_version(SAMPLE_DAY)
        story = composed.sections[1].stories[0]
        assert post(client, csrf, story=story.id, title="Another editor's title")[0] == 303
        approve = f"{DAY_PAGE}/approve"
        r = client.post(approve, data={"csrf": csrf, "version": shown.group(1)})
        assert r.status_code == 409 and "changed since it was shown" in r.text
        assert store.approval(SAMPLE_DAY, required=True) == "pending"
        fresh = re.search(r'name="version" value="([0-9a-f]+)"', client.get(DAY_PAGE).text)
        assert fresh and fresh.group(1) != shown.group(1)
        data = {"csrf": csrf, "version": fresh.group(1)}
        r = client.post(approve, data=data, follow_redirects=False)
        assert r.status_code == 303 and store.approval(SAMPLE_DAY, required=True) == "approved"


def test_a_stale_form_changes_only_what_its_editor_changed(
    client: TestClient, store: Store, composed: Digest
) -> None:
    csrf = login(client)
    story = composed.sections[1].stories[0]
    stale = {"story": story.id, "was_title": story.title, "was_summary": story.summary}
    stale["was_section"] = stale["section"] = composed.sections[1].name
    # Another editor retitles the story after this page was loaded ...
    assert post(client, csrf, story=story.id, title="The other editor's title")[0] == 303
    # ... and this one saves only a new summary from the old page.
    code, _ = post(client, csrf, **stale, title=story.title, summary="My new summary.")
    assert code == 303
    edited = next(st for s in current(store).sections for st in s.stories if st.id == story.id)
    assert (edited.title, edited.summary) == ("The other editor's title", "My new summary.")
    assert [e.field for e in desk.log(store, SAMPLE_DAY)] == ["title", "summary"]


def test_a_section_gone_from_the_config_is_kept_by_a_title_only_save(
    cfg: Config, store: Store, composed: Digest
) -> None:
    gone = composed.sections[1]
    fewer = dataclasses.replace(cfg, sections=tuple(s for s in cfg.sections if s.name != gone.name))
    with TestClient(create_app(fewer, store), base_url=BASE) as c:
        csrf = login(c)
        page = c.get(DAY_PAGE).text
        story = gone.stories[0]
        form = page.split(f'id="story-{story.id}"')[1].split("</details>")[0]
        assert f"<option selected>{unescape(gone.name)}</option>" in unescape(form)
        r = c.post(
            EDIT,
            data={
                "csrf": csrf,
                "story": story.id,
                "title": "Only the title",
                "was_title": story.title,
                "summary": story.summary,
                "was_summary": story.summary,
                "section": gone.name,
                "was_section": gone.name,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
    assert [(e.field, e.new) for e in desk.log(store, SAMPLE_DAY)] == [("title", "Only the title")]
