"""`digest check`: each defect is caught on a message crafted to have it (and only it), and the
sample digest has no error; SpamAssassin scores it at most 0.5 with local rules."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.check import Finding, check_message, parse_spamassassin, spamassassin
from digest.cli import cli
from digest.compose import compose
from digest.config import Config, load_config
from digest.deliver import dkim
from digest.deliver.variants import Variants
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.model import Digest
from digest.store import Store

from .conftest import SAMPLE_DAY, SAMPLES
from .test_send import day  # noqa: F401  (a fixture)

DOMAIN = "news.example.org"
GOOD_HTML = (
    '<html><body><p>Hello</p><img src="https://news.example.org/logo.png" alt="Daily">'
    '<a href="https://news.example.org/archive/2026-11-26">View in browser</a>'
    '<a href="mailto:editor@news.example.org">Write to us</a></body></html>'
)
GOOD_TEXT = "Hello\n\nView in browser:\nhttps://news.example.org/archive/2026-11-26\n"
HEADERS = {
    "From": f"Defence & Space Daily <digest@{DOMAIN}>",
    "To": "Ana Ruiz <ana@example.com>",
    "Subject": "Defence & Space Daily, 26 November",
    "Date": "Thu, 26 Nov 2026 06:30:00 +0000",
    "Message-ID": f"<digest.2026-11-26.1.daily@{DOMAIN}>",
    "List-Id": f'"Defence & Space Daily" <daily.{DOMAIN}>',
    "List-Unsubscribe": f"<https://{DOMAIN}/u/u1.0.TOKEN>, <mailto:unsubscribe@{DOMAIN}>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def craft(
    html: str | None = GOOD_HTML, text: str | None = GOOD_TEXT, **headers: str | None
) -> bytes:
    """A well-made message, but for what the arguments change (None drops a header)."""
    msg = EmailMessage(policy=SMTP)
    for name, value in {**HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}}.items():
        if value is not None:
            msg[name] = value
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    return msg.as_bytes()


def codes(data: bytes, config: Config | None = None) -> dict[str, str]:
    """code -> level of every finding (SpamAssassin and the postal address left out: they
    have their own tests)."""
    found = check_message(data, config, spam=False)
    return {f.code: f.level for f in found if f.code not in ("dkim", "postal_address")}


def test_a_well_made_message_has_no_findings() -> None:
    assert codes(craft()) == {}


def test_html_over_gmails_clipping_is_an_error() -> None:
    assert codes(craft(html="<p>" + "news " * 21_000 + "</p>")) == {"html_size": "error"}


def test_html_over_our_budget_is_a_warning(tmp_path: Path) -> None:
    # 97,007 bytes of HTML, and over 100,000 as sent (quoted-printable's soft line breaks):
    # the budget counts what Gmail counts, the part as the message carries it.
    near = craft(html="<p>" + "news " * 19_400 + "</p>")
    config = load_config(env={}, cwd=tmp_path)
    assert codes(near, config) == {"html_size": "warning"}  # over html_max_bytes (100,000)


def test_missing_list_unsubscribe() -> None:
    assert codes(craft(List_Unsubscribe=None)) == {"list_unsubscribe": "error"}


def test_malformed_list_unsubscribe() -> None:
    bad = craft(List_Unsubscribe=f"https://{DOMAIN}/u/u1.0.TOKEN")  # no <...>
    assert codes(bad) == {"list_unsubscribe": "error"}


def test_list_unsubscribe_without_https() -> None:
    only_mail = craft(List_Unsubscribe=f"<mailto:unsubscribe@{DOMAIN}>")
    assert codes(only_mail) == {"list_unsubscribe": "error"}
    plain = craft(List_Unsubscribe=f"<http://{DOMAIN}/u/u1.0.TOKEN>")
    assert codes(plain) == {"list_unsubscribe": "error"}
    demo = craft(List_Unsubscribe="<http://localhost:8000/u/u1.0.TOKEN>")
    assert codes(demo) == {"list_unsubscribe": "warning"}


def test_missing_or_wrong_list_unsubscribe_post() -> None:
    assert codes(craft(List_Unsubscribe_Post=None)) == {"list_unsubscribe_post": "error"}
    wrong = craft(List_Unsubscribe_Post="List-Unsubscribe=Yes")
    assert codes(wrong) == {"list_unsubscribe_post": "error"}


def test_missing_or_malformed_list_id() -> None:
    assert codes(craft(List_Id=None)) == {"list_id": "error"}
    assert codes(craft(List_Id="Defence & Space Daily")) == {"list_id": "error"}
    assert codes(craft(List_Id="<nodot>")) == {"list_id": "error"}
    assert codes(craft(List_Id="<daily.news.example.org>")) == {}


def test_a_line_over_998_characters() -> None:
    raw = craft()
    head, _, body = raw.partition(b"\r\n\r\n")
    long = head + b"\r\nX-Long: " + b"a" * 995 + b"\r\n\r\n" + body
    assert codes(long) == {"line_too_long": "error"}
    finding = next(f for f in check_message(long, spam=False) if f.code == "line_too_long")
    assert re.search(r"the first at line \d+", finding.message)


def test_no_text_part() -> None:
    assert codes(craft(text=None)) == {"no_text_part": "error"}


def test_images_without_alt_text() -> None:
    html = GOOD_HTML.replace(' alt="Daily"', "")
    assert codes(craft(html=html)) == {"img_alt": "warning"}
    decorative = GOOD_HTML.replace(' alt="Daily"', ' alt=""')
    assert codes(craft(html=decorative)) == {}


def test_links_that_are_not_https() -> None:
    html = GOOD_HTML.replace("https://news.example.org/archive", "http://news.example.org/archive")
    assert codes(craft(html=html)) == {"http_link": "warning"}
    text = GOOD_TEXT.replace("https://", "http://")
    assert codes(craft(text=text)) == {"http_link": "warning"}


def test_headers_rfc5322_wants() -> None:
    assert codes(craft(Date=None)) == {"header": "error"}
    assert codes(craft(Message_ID=None)) == {"header": "warning"}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> dkim.KeyPair:
    return dkim.keygen("s1", DOMAIN, tmp_path_factory.mktemp("keys"), "ed25519")


def test_unsigned_is_a_warning() -> None:
    found = check_message(craft(), spam=False)
    assert [(f.level, f.code) for f in found] == [("warning", "dkim")]


def test_dkim_domain_not_aligned_with_from(key: dkim.KeyPair) -> None:
    # The key is Ed25519 alone, which `check` warns about (tests/test_dkim_dual.py).
    ours = dkim.Signer(dkim.load_key(key.private), "s1", "mail.example.org").sign(craft())
    assert codes(ours) == {"dkim_ed25519_only": "warning"}
    theirs = dkim.Signer(dkim.load_key(key.private), "s1", "esp.example.net").sign(craft())
    assert codes(theirs) == {"dkim_alignment": "error", "dkim_ed25519_only": "warning"}


def test_a_signature_that_does_not_verify_with_the_configured_key(
    tmp_path: Path, key: dkim.KeyPair
) -> None:
    cfg = dataclasses.replace(
        load_config(env={}, cwd=tmp_path),
        dkim_key_files=(key.private,),
        dkim_selectors=("s1",),
        dkim_domain=DOMAIN,
    )
    signed = dkim.Signer(dkim.load_key(key.private), "s1", DOMAIN).sign(craft())
    assert codes(signed, cfg) == {"dkim_ok": "info", "dkim_ed25519_only": "warning"}
    tampered = signed.replace(b"Subject: Defence", b"Subject: Offence")
    assert codes(tampered, cfg) == {"dkim_invalid": "error", "dkim_ed25519_only": "warning"}


def test_the_sample_digest_has_no_error(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
) -> None:
    data = digest_jobs.preview(store, config, day.date).eml.read_bytes()
    found = check_message(data, config, spam=False)
    assert [f for f in found if f.level == "error"] == []
    # The demo's base_url is http://localhost:8000: warned about, not an error.
    assert {f.code for f in found if f.level == "warning"} == {
        "list_unsubscribe",
        "http_link",
        "dkim",
        "postal_address",  # the demo has none
    }


SA_REPORT = """\
X-Spam-Status: No, score=0.7 required=5.0 tests=HTML_FONT_LOW_CONTRAST,
\tHTML_MESSAGE,NO_RECEIVED,NO_RELAYS autolearn=no autolearn_force=no

Content analysis details:   (0.7 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
 0.0 HTML_MESSAGE           BODY: HTML included in message
 0.7 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar or identical to
                            background

--=_digest_x--
"""


def test_spamassassin_report_is_parsed() -> None:
    result = parse_spamassassin(SA_REPORT)
    assert result is not None
    assert (result.score, result.required) == (0.7, 5.0)
    assert result.rules == (
        ("NO_RECEIVED", -0.0, "Informational: message has no Received headers"),
        ("HTML_MESSAGE", 0.0, "BODY: HTML included in message"),
        ("HTML_FONT_LOW_CONTRAST", 0.7, "BODY: HTML font color similar or identical to background"),
    )
    assert parse_spamassassin("no report here") is None


needs_spamassassin = pytest.mark.skipif(
    not shutil.which("spamassassin") and not os.environ.get("CI"),
    reason="spamassassin is not installed (CI installs it and runs this)",
)


@needs_spamassassin
def test_the_sample_digest_scores_at_most_half_a_point(tmp_path: Path) -> None:
    demo = load_config(env={}, cwd=tmp_path)
    https = dataclasses.replace(
        demo, base_url=f"https://{DOMAIN}", from_addr=f"Defence & Space Daily <digest@{DOMAIN}>"
    )
    documents, _ = ingest_jobs.parse_paths([SAMPLES])
    for cfg in (demo, https):  # the demo's config, and a real one
        sample = compose(SAMPLE_DAY, documents, cfg)
        template = Variants(cfg, sample).get(None)
        assert template is not None
        result = spamassassin(template.build(digest_jobs.PREVIEW_RECIPIENT))
        assert result is not None, "spamassassin printed no report"
        fired = ", ".join(f"{name} {points}" for name, points, _ in result.rules)
        assert result.score <= 0.5, f"score {result.score}: {fired}"
        assert "HTML_MESSAGE" in fired  # the report was read, rules and all


@needs_spamassassin
def test_spamassassin_catches_a_spammy_message() -> None:
    html = (
        "<html><body><p><font color='#ffffff'>cheap viagra</font></p>"
        "<p>CLICK HERE NOW!!! 100% FREE!!! Act now, limited time offer!</p></body></html>"
    )
    found = check_message(craft(html=html, text=None), spam=True)
    score = next(f for f in found if f.code == "spamassassin")
    rules = [f.message for f in found if f.code == "spamassassin_rule"]
    assert score.level in ("warning", "error") and any("LOW_CONTRAST" in r for r in rules)


def test_cli_check_file_json_and_exit_code(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.eml", tmp_path / "bad.eml"
    good.write_bytes(craft())
    bad.write_bytes(craft(List_Unsubscribe_Post=None))
    env = {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    r = CliRunner().invoke(cli, ["check", str(good), "--no-spamassassin"], env=env)
    assert r.exit_code == 0, r.output
    # not DKIM-signed, and no postal_address
    assert r.output.splitlines()[-1] == f"check: {good}: 0 errors, 2 warnings"
    r = CliRunner().invoke(cli, ["check", str(bad), "--json", "--no-spamassassin"], env=env)
    assert r.exit_code == 1
    found = [Finding(**f) for f in json.loads(r.output)]
    assert ("error", "list_unsubscribe_post") in [(f.level, f.code) for f in found]
    r = CliRunner().invoke(cli, ["check"], env=env)
    assert r.exit_code == 2 and "FILE.eml or --date" in r.output


def test_cli_check_date_checks_the_preview(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
    }
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(SAMPLES)], env=env).exit_code == 0
    assert runner.invoke(cli, ["compose", "--date", "2026-11-26"], env=env).exit_code == 0
    r = runner.invoke(cli, ["check", "--date", "2026-11-26", "--no-spamassassin"], env=env)
    assert r.exit_code == 0, r.output
    assert "warning: http_link" in r.output and "error:" not in r.output
    assert (tmp_path / "outbox" / "2026-11-26" / "digest.eml").is_file()
