"""DKIM: every signature made here verifies with dkimpy's verifier (DNS replaced by a function
returning the TXT record), and stops verifying when anything it covers changes."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import stat
from collections.abc import Callable
from pathlib import Path

import dkim as dkimpy  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from digest.addresses import aligned, org_domain
from digest.cli import cli
from digest.config import Config
from digest.deliver import dkim
from digest.deliver.envelope import alignment_warning
from digest.deliver.message import MessageTemplate, Recipient
from digest.errors import ConfigError
from digest.jobs import digests as digest_jobs
from digest.model import Digest
from digest.store import Store

from .smtp_server import SMTPTestServer
from .test_send import day, send, smtp_config, subscribe  # noqa: F401  (day is a fixture)

DOMAIN = "news.example.org"
SELECTOR = "d2026"
COVERED = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
)


def message(name: str = "Ana Ruiz") -> bytes:
    template = MessageTemplate(
        from_addr=f"Defence & Space Daily <digest@{DOMAIN}>",
        subject="Defence & Space Daily, 26 November: Japan and NATO pledge closer ties",
        list_id=f'"Defence & Space Daily" <daily.{DOMAIN}>',
        date="2026-11-26",
        text="Hello\n\nUnsubscribe: https://news.example.org/u/DIGESTxUNSUBSCRIBExTOKENxDIGES\n",
        html="<p>Hello</p>\n<p>  two  spaces  </p>\n" + "<p>Ünïcode line</p>\n" * 200,
        base_url=f"https://{DOMAIN}",
        unsubscribe_mailto=f"unsubscribe@{DOMAIN}",
        list_key="daily",
    )
    return template.build(Recipient(7, "ana@example.com", name, "u7.0.TOKEN", "p7.0.PREFS"))


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def key_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dkim.KeyPair:
    folder = tmp_path_factory.mktemp(f"keys-{request.param}")
    return dkim.keygen(SELECTOR, DOMAIN, folder, request.param)


def dns(record: str, name: str = f"{SELECTOR}._domainkey.{DOMAIN}.") -> Callable[..., bytes]:
    """dkimpy's DNS lookup, answered with the record we would publish."""

    def lookup(qname: bytes, timeout: int = 5) -> bytes:
        assert qname.decode() == name
        return record.encode()

    return lookup


def verifies(data: bytes, record: str) -> bool:
    return bool(dkimpy.verify(data, dnsfunc=dns(record)))


def signer(pair: dkim.KeyPair) -> dkim.Signer:
    return dkim.Signer(dkim.load_key(pair.private), SELECTOR, DOMAIN)


def tags(data: bytes) -> dict[str, str]:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    value = "".join(str(msg["DKIM-Signature"]).split())
    return dict(item.split("=", 1) for item in value.split(";") if item)


def test_a_signature_verifies_with_dkimpy(key_pair: dkim.KeyPair) -> None:
    signed = signer(key_pair).sign(message())
    assert verifies(signed, key_pair.record)
    t = tags(signed)
    assert t["a"] == ("rsa-sha256" if "k=rsa" in key_pair.record else "ed25519-sha256")
    assert (t["d"], t["s"], t["c"]) == (DOMAIN, SELECTOR, "relaxed/simple")
    signed_names = set(t["h"].split(":"))
    assert {h.lower() for h in COVERED} <= signed_names
    assert max(len(line) for line in signed.split(b"\r\n")) <= 78


def test_a_non_ascii_name_and_folded_headers_still_verify(key_pair: dkim.KeyPair) -> None:
    signed = signer(key_pair).sign(message("Zoë Lefèvre-Okafor, Directrice générale adjointe"))
    assert verifies(signed, key_pair.record)


@pytest.mark.parametrize("header", COVERED)
def test_changing_a_signed_header_breaks_it(key_pair: dkim.KeyPair, header: str) -> None:
    signed = signer(key_pair).sign(message())
    pattern = re.compile(rb"^(" + header.encode() + rb": ?)", re.M)
    tampered, n = pattern.subn(rb"\1X", signed, count=1)
    assert n == 1
    assert verifies(signed, key_pair.record)
    assert not verifies(tampered, key_pair.record)


@pytest.mark.parametrize("header", ["From", "List-Unsubscribe", "Subject"])
def test_adding_a_second_instance_breaks_it(key_pair: dkim.KeyPair, header: str) -> None:
    # On top, where a verifier that stops at the signed instance would not look ("oversigned").
    signed = signer(key_pair).sign(message())
    added = f"{header}: <https://evil.example/>\r\n".encode()
    assert not verifies(added + signed, key_pair.record)


def test_changing_the_body_breaks_it(key_pair: dkim.KeyPair) -> None:
    signed = signer(key_pair).sign(message())
    assert not verifies(signed.replace(b"Hello", b"Hallo", 1), key_pair.record)
    assert not verifies(signed[:-10] + b"XX" + signed[-8:], key_pair.record)


def test_the_body_hash_is_the_one_dkimpy_computes(key_pair: dkim.KeyPair, tmp_path: Path) -> None:
    raw = message()
    pem = dkim.keygen("s2", DOMAIN, tmp_path, "rsa").private.read_bytes()
    theirs = dkimpy.sign(raw, b"s2", DOMAIN.encode(), pem, canonicalize=(b"relaxed", b"simple"))
    assert tags(theirs + raw)["bh"] == tags(signer(key_pair).sign(raw))["bh"]


def test_an_empty_body_is_signed_as_one_crlf(key_pair: dkim.KeyPair) -> None:
    raw = b"From: a@news.example.org\r\nTo: b@example.com\r\nSubject: x\r\n\r\n"
    assert verifies(signer(key_pair).sign(raw), key_pair.record)


def test_keygen_cli_writes_a_secret_key_and_prints_a_record_that_verifies(tmp_path: Path) -> None:
    for kind in ("rsa", "ed25519"):
        out = tmp_path / kind
        keygen = ["dkim", "keygen", "--selector", "s1", "--domain", DOMAIN, "--out", str(out)]
        r = CliRunner().invoke(cli, [*keygen, "--type", kind])
        assert r.exit_code == 0, r.output
        key = out / f"s1.{DOMAIN}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert "PRIVATE KEY" not in r.output  # never the key itself
        [line] = [ln for ln in r.output.splitlines() if " IN TXT " in ln]
        assert line.startswith(f"s1._domainkey.{DOMAIN}. ")
        record = "".join(re.findall(r'"([^"]*)"', line))
        assert record.startswith(f"v=DKIM1; k={kind}; p=")
        assert (out / f"s1.{DOMAIN}.txt").read_text().strip() == line
        signed = dkim.Signer(dkim.load_key(key), "s1", DOMAIN).sign(message())
        assert dkimpy.verify(signed, dnsfunc=dns(record, f"s1._domainkey.{DOMAIN}."))
        again = CliRunner().invoke(cli, [*keygen, "--type", kind])
        assert again.exit_code == 2 and "never overwritten" in again.output
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_bad_key_file_is_named_but_never_shown(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(ConfigError) as err:
        dkim.load_key(bad)
    assert str(bad) in str(err.value) and "c2VjcmV0" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot read"):
        dkim.load_key(tmp_path / "missing.key")


def test_configuration_is_checked(config: Config, key_pair: dkim.KeyPair) -> None:
    assert dkim.load_signers(config) == ()
    with pytest.raises(ConfigError, match="dkim_selector is not"):
        dkim.load_signers(dataclasses.replace(config, dkim_key_files=(key_pair.private,)))
    with pytest.raises(ConfigError, match="dkim_key_file is not"):
        dkim.load_signers(dataclasses.replace(config, dkim_selectors=("s1",)))
    cfg = dataclasses.replace(
        config,
        dkim_key_files=(key_pair.private,),
        dkim_selectors=(SELECTOR,),
        from_addr=f"Daily <digest@{DOMAIN}>",
    )
    [loaded] = dkim.load_signers(cfg)
    assert loaded.domain == DOMAIN  # the From domain by default
    assert "PRIVATE" not in repr(loaded) and str(key_pair.private) not in repr(loaded)


def dkim_config(cfg: Config, pair: dkim.KeyPair) -> Config:
    return dataclasses.replace(
        cfg, dkim_key_files=(pair.private,), dkim_selectors=(SELECTOR,), dkim_domain=DOMAIN
    )


def test_sent_messages_and_the_preview_are_signed_alike_and_verify(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811  (the fixture imported from test_send)
    smtp_server: SMTPTestServer,
    key_pair: dkim.KeyPair,
) -> None:
    cfg = dkim_config(smtp_config(config, smtp_server), key_pair)
    subscribe(
        store,
        cfg,
        ("ana@example.com", "Ana Ruiz", None),
        ("zoe@example.com", "Zoë Lefèvre", "Space;Nuclear"),
    )
    assert send(store, cfg).complete
    sent = [m.data for m in smtp_server.messages]
    assert len(sent) == 2
    for data in sent:
        assert verifies(data, key_pair.record)
    preview = digest_jobs.preview(store, cfg, day.date).eml.read_bytes()
    assert verifies(preview, key_pair.record)
    same = ("a", "c", "d", "s", "h")
    assert {k: tags(preview)[k] for k in same} == {k: tags(sent[0])[k] for k in same}


def test_unsigned_without_a_key(store: Store, config: Config, day: Digest) -> None:  # noqa: F811
    assert b"DKIM-Signature" not in digest_jobs.preview(store, config, day.date).eml.read_bytes()


def test_alignment_warning(config: Config, key_pair: dkim.KeyPair) -> None:
    base = dataclasses.replace(config, from_addr=f"Daily <digest@{DOMAIN}>")
    assert alignment_warning(base) is None
    assert (
        alignment_warning(
            dataclasses.replace(
                base, return_path="b@mail.example.org", bounce_address="x@example.org"
            )
        )
        is None
    )
    other = dataclasses.replace(base, return_path="bounces@esp.example.net")
    warning = alignment_warning(other)
    assert warning and "\n" not in warning
    assert "Return-Path esp.example.net" in warning and f"From {DOMAIN}" in warning
    signed = dataclasses.replace(dkim_config(base, key_pair), dkim_domain="other.example")
    assert "DKIM other.example" in (alignment_warning(signed) or "")
    assert aligned("news.example.co.uk", "bounce.example.co.uk")
    assert not aligned("example.co.uk", "other.co.uk")


def test_organizational_domains_come_from_the_public_suffix_list() -> None:
    """Counting labels got these wrong; the Public Suffix List (shipped in a package, never
    downloaded) gets them right, as DMARC receivers do."""
    assert org_domain("bounces.ibm.fr") == "ibm.fr"
    assert aligned("bounces.ibm.fr", "ibm.fr")  # the old guess said no: fr's "ibm" is short
    assert aligned("mail.example.com.au", "example.com.au")
    assert not aligned("ana.github.io", "bob.github.io")  # a private suffix: two owners
    assert not aligned("example.co.uk", "example.org.uk")
    assert org_domain("News.Example.ORG.") == "example.org"
    assert org_domain("localhost") == "localhost"  # no public suffix: itself


def test_send_and_run_warn_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_FROM": f"Daily <digest@{DOMAIN}>",
        "DIGEST_RETURN_PATH": "bounces@esp.example.net",
    }
    for args in (["send", "--date", "2026-11-26", "--dry-run"], ["run", "--date", "2026-11-26"]):
        r = CliRunner().invoke(cli, args, env=env)
        assert r.exit_code == 2  # no digest that day: but the warning came first
        lines = r.stderr.splitlines()
        assert lines[0].startswith("warning: sender domains do not align")
    env["DIGEST_RETURN_PATH"] = f"bounces@{DOMAIN}"
    r = CliRunner().invoke(cli, ["run", "--date", "2026-11-26"], env=env)
    assert "warning" not in r.output
