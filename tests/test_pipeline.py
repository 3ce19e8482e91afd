"""The whole composing half on the sample day: ingest -> compose -> render -> preview files."""

from __future__ import annotations

import email
import email.policy
import shutil
from pathlib import Path

from digest.config import Config
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.store import Store

from .conftest import SAMPLE_DAY, SAMPLES
from .golden import assert_golden

GMAIL_CLIP = 102 * 1024


def test_sample_day_golden_html_and_text(store: Store, config: Config) -> None:
    report = ingest_jobs.ingest(store, [SAMPLES])
    assert (report.stored, report.duplicates, report.refused) == (17, 1, [])
    digest_jobs.compose_day(store, config, SAMPLE_DAY)
    files = digest_jobs.preview(store, config, SAMPLE_DAY)
    html = files.html.read_text(encoding="utf-8")
    assert_golden("sample_day.html", html)
    assert_golden("sample_day.txt", files.text.read_text(encoding="utf-8"))
    assert len(html.encode("utf-8")) < GMAIL_CLIP


def test_preview_eml_is_the_full_message(store: Store, config: Config) -> None:
    ingest_jobs.ingest(store, [SAMPLES])
    digest = digest_jobs.compose_day(store, config, SAMPLE_DAY)
    files = digest_jobs.preview(store, config, SAMPLE_DAY)
    raw = files.eml.read_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == digest.subject
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text_part, html_part = msg.iter_parts()
    # On the wire every line ends in CRLF (and a part ends with one); the files use \n.
    for part, path in ((text_part, files.text), (html_part, files.html)):
        wire = part.get_content().replace("\r\n", "\n")
        assert wire.rstrip("\n") == path.read_text("utf-8").rstrip("\n")


def test_document_text_is_escaped_in_html_and_intact_in_text(
    store: Store, config: Config, tmp_path: Path
) -> None:
    doc = tmp_path / "evil.txt"
    doc.write_text(
        " date 2026-01-02 Engineers at AT&T said <script>alert('x')</script> was found in a "
        "rocket's code. The launch went ahead.\n"
        "Related Links\n"
        "Learn about space at SpaceDaily.com\n"
        "|\n"
        "Q&A: why <b>bold</b> rockets & <script>alert(2)</script> fly\n",
        encoding="utf-8",
    )
    assert ingest_jobs.ingest(store, [doc]).stored == 1
    digest_jobs.compose_day(store, config, "2026-01-02")
    files = digest_jobs.preview(store, config, "2026-01-02")
    html = files.html.read_text(encoding="utf-8")
    text = files.text.read_text(encoding="utf-8")
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "AT&amp;T" in html and "&lt;script&gt;alert(" in html
    assert "Q&amp;A: why &lt;b&gt;bold&lt;/b&gt; rockets &amp;" in html
    assert "<script>alert('x')</script>" in text
    assert "Q&A: why <b>bold</b> rockets & <script>alert(2)</script> fly" in text


def test_a_day_too_big_for_gmail_is_capped(store: Store, config: Config, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(50):
        heads = "\n".join(
            f"Headline {i}-{j}: missile drone satellite launch report number {j}" for j in range(60)
        )
        (folder / f"s{i}.txt").write_text(
            f" date 2026-02-03 Story {i} tells of a rocket launch. It went well.\n"
            f"Related Links\n|\n{heads}\n",
            encoding="utf-8",
        )
    assert ingest_jobs.ingest(store, [folder]).stored == 50
    digest_jobs.compose_day(store, config, "2026-02-03")
    files = digest_jobs.preview(store, config, "2026-02-03")
    html = files.html.read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) <= config.html_max_bytes
    assert "more headlines in the archive" in html
    assert "more headlines in the archive" in files.text.read_text(encoding="utf-8")


def test_ingest_twice_stores_once_and_syndicated_copy_is_one_story(
    store: Store, config: Config, tmp_path: Path
) -> None:
    copy = tmp_path / "again"
    shutil.copytree(SAMPLES, copy)
    first = ingest_jobs.ingest(store, [SAMPLES])
    second = ingest_jobs.ingest(store, [SAMPLES, copy])
    assert first.stored == 17
    assert (second.stored, second.duplicates) == (0, 36)
    assert len(store.documents_for(SAMPLE_DAY)) == 17
