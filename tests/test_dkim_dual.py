"""Issue 14: an Ed25519 key signs alongside an RSA one (RFC 8463), so receivers that cannot
verify Ed25519 still find a signature they can. Both signatures verify with dkimpy (DNS
answered by a function), keygen makes the pair, and `digest check` warns about Ed25519 alone."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import dkim as dkimpy  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from digest.check import check_message
from digest.cli import cli
from digest.config import Config, load_config
from digest.deliver import dkim
from digest.deliver.outgoing import Outgoing
from digest.errors import ConfigError
from digest.jobs import digests as digest_jobs
from digest.model import Digest
from digest.store import Store

from .smtp_server import SMTPTestServer
from .test_dkim import DOMAIN, message
from .test_send import day, send, smtp_config, subscribe  # noqa: F401  (day is a fixture)

Records = dict[str, str]  # DNS name -> TXT record


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> list[dkim.KeyPair]:
    folder = tmp_path_factory.mktemp("dual")
    return dkim.keygen_set([("r2026", "rsa"), ("e2026", "ed25519")], DOMAIN, folder)


def records(*pairs: dkim.KeyPair) -> Records:
    return {f"{p.name}.": p.record for p in pairs}


def dns(found: Records) -> Callable[..., bytes]:
    def lookup(qname: bytes, timeout: int = 5) -> bytes:
        return found[qname.decode()].encode()

    return lookup


def signatures(data: bytes) -> list[dict[str, str]]:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    found = []
    for value in msg.get_all("DKIM-Signature") or []:
        items = "".join(str(value).split()).split(";")
        found.append(dict(item.split("=", 1) for item in items if item))
    return found


def verify_all(data: bytes, found: Records) -> list[bool]:
    """dkimpy's verdict on every signature, top down (dkim.verify checks only the first)."""
    n = len(signatures(data))
    return [bool(dkimpy.DKIM(data).verify(idx=i, dnsfunc=dns(found))) for i in range(n)]


def dual_config(cfg: Config, keys: list[dkim.KeyPair], selectors: tuple[str, ...]) -> Config:
    return dataclasses.replace(
        cfg,
        dkim_key_files=tuple(k.private for k in keys),
        dkim_selectors=selectors,
        dkim_domain=DOMAIN,
        from_addr=f"Defence & Space Daily <digest@{DOMAIN}>",
    )


def test_both_signatures_verify_rsa_on_top(config: Config, pair: list[dkim.KeyPair]) -> None:
    rsa, ed = pair
    # Configured Ed25519 first: RSA still ends on top, where verifiers that check only the
    # first signature (dkim.verify among them) look.
    cfg = dual_config(config, [ed, rsa], ("e2026", "r2026"))
    signed = Outgoing(cfg).sign(message())
    sigs = signatures(signed)
    assert [(s["a"], s["s"]) for s in sigs] == [
        ("rsa-sha256", "r2026"),
        ("ed25519-sha256", "e2026"),
    ]
    assert verify_all(signed, records(rsa, ed)) == [True, True]
    assert dkimpy.verify(signed, dnsfunc=dns(records(rsa)))  # the RSA one alone suffices
    # Each covers the message, not the other signature: a change breaks both.
    tampered = signed.replace(b"Subject: Defence", b"Subject: Offence")
    assert verify_all(tampered, records(rsa, ed)) == [False, False]
    assert max(len(line) for line in signed.split(b"\r\n")) <= 78


def test_the_settings_take_a_list_or_commas(tmp_path: Path, pair: list[dkim.KeyPair]) -> None:
    rsa, ed = pair
    toml = tmp_path / "digest.toml"
    toml.write_text(
        f'dkim_key_file = ["{rsa.private}", "{ed.private}"]\ndkim_selector = ["r2026", "e2026"]\n'
    )
    from_toml = load_config(env={}, cwd=tmp_path)
    assert from_toml.dkim_key_files == (rsa.private, ed.private)
    assert from_toml.dkim_selectors == ("r2026", "e2026")
    env = {
        "DIGEST_DKIM_KEY_FILE": f"{rsa.private}, {ed.private}",
        "DIGEST_DKIM_SELECTOR": "r2026,e2026",
    }
    from_env = load_config(env=env, cwd=tmp_path / "elsewhere")
    assert (from_env.dkim_key_files, from_env.dkim_selectors) == (
        from_toml.dkim_key_files,
        from_toml.dkim_selectors,
    )
    # One key as before: a plain string.
    single = load_config(
        env={"DIGEST_DKIM_KEY_FILE": str(rsa.private), "DIGEST_DKIM_SELECTOR": "r2026"},
        cwd=tmp_path / "elsewhere",
    )
    assert [s.algorithm for s in dkim.load_signers(single)] == ["rsa-sha256"]
    # Relative paths are relative to the working folder, each of them.
    rel = load_config(env={"DIGEST_DKIM_KEY_FILE": "a.key,keys/b.key"}, cwd=tmp_path)
    assert rel.dkim_key_files == (tmp_path / "a.key", tmp_path / "keys/b.key")


def test_each_key_needs_its_own_selector(config: Config, pair: list[dkim.KeyPair]) -> None:
    rsa, ed = pair
    with pytest.raises(ConfigError, match="2 keys but dkim_selector 1"):
        dkim.load_signers(dual_config(config, [rsa, ed], ("r2026",)))
    with pytest.raises(ConfigError, match="one selector twice"):
        dkim.load_signers(dual_config(config, [rsa, ed], ("s1", "S1")))


def test_sent_messages_and_the_preview_carry_both_and_both_verify(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
    smtp_server: SMTPTestServer,
    pair: list[dkim.KeyPair],
) -> None:
    rsa, ed = pair
    cfg = dual_config(smtp_config(config, smtp_server), [rsa, ed], ("r2026", "e2026"))
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
        assert verify_all(data, records(rsa, ed)) == [True, True]
        for sig in signatures(data):
            assert "feedback-id" in sig["h"].split(":")
    preview = digest_jobs.preview(store, cfg, day.date).eml.read_bytes()
    assert verify_all(preview, records(rsa, ed)) == [True, True]
    # `digest check` verifies each with its configured key, and has no DKIM complaint.
    found = check_message(preview, cfg, spam=False)
    dkim_found = [(f.level, f.code) for f in found if f.code.startswith("dkim")]
    assert dkim_found == [("info", "dkim_ok"), ("info", "dkim_ok")]


def test_check_warns_when_ed25519_signs_alone(tmp_path: Path, pair: list[dkim.KeyPair]) -> None:
    rsa, ed = pair
    cfg = dual_config(load_config(env={}, cwd=tmp_path), [ed], ("e2026",))
    only_ed = Outgoing(cfg).sign(message())
    found = {(f.level, f.code) for f in check_message(only_ed, cfg, spam=False)}
    assert ("warning", "dkim_ed25519_only") in found
    assert ("info", "dkim_ok") in found
    for keys, selectors in (([rsa], ("r2026",)), ([rsa, ed], ("r2026", "e2026"))):
        signed = Outgoing(dual_config(cfg, keys, selectors)).sign(message())
        codes = {f.code for f in check_message(signed, spam=False)}
        assert "dkim_ed25519_only" not in codes
    # One signature tampered with: that one is reported, the other still verifies.
    both = Outgoing(dual_config(cfg, [rsa, ed], ("r2026", "e2026"))).sign(message())
    broken = re.sub(rb"(s=r2026;[^\r]*\r\n h=)", rb"\1x:", both, count=1)
    assert broken != both
    levels = [
        (f.level, f.code)
        for f in check_message(broken, dual_config(cfg, [rsa, ed], ("r2026", "e2026")), False)
        if f.code.startswith("dkim")
    ]
    assert sorted(levels) == [("error", "dkim_invalid"), ("info", "dkim_ok")]


def test_keygen_makes_the_pair_and_prints_both_records(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    args = ["dkim", "keygen", "--type", "both", "--domain", DOMAIN, "--out", str(out)]
    r = CliRunner().invoke(cli, [*args, "--selector", "r2026", "--selector", "e2026"])
    assert r.exit_code == 0, r.output
    assert "PRIVATE KEY" not in r.output
    lines = [ln for ln in r.output.splitlines() if " IN TXT " in ln]
    assert [ln.split(".")[0] for ln in lines] == ["r2026", "e2026"]
    found = {ln.split(" ")[0]: "".join(re.findall(r'"([^"]*)"', ln)) for ln in lines}
    assert found[f"r2026._domainkey.{DOMAIN}."].startswith("v=DKIM1; k=rsa; p=")
    assert found[f"e2026._domainkey.{DOMAIN}."].startswith("v=DKIM1; k=ed25519; p=")
    keys = [str(out / f"{s}.{DOMAIN}.key") for s in ("r2026", "e2026")]
    assert f"dkim_key_file = {keys!r}".replace('"', "'") in r.output.replace('"', "'")
    cfg = load_config(
        env={
            "DIGEST_DKIM_KEY_FILE": ",".join(keys),
            "DIGEST_DKIM_SELECTOR": "r2026,e2026",
            "DIGEST_FROM": f"Daily <digest@{DOMAIN}>",
        },
        cwd=tmp_path,
    )
    signed = Outgoing(cfg).sign(message())
    assert verify_all(signed, found) == [True, True]
    # Again: refused before any key is written, whichever exists.
    again = CliRunner().invoke(cli, [*args, "--selector", "n2027", "--selector", "e2026"])
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert not (out / f"n2027.{DOMAIN}.key").exists()
    # One selector: the pair gets -rsa and -ed25519 after it.
    one = CliRunner().invoke(cli, [*args, "--selector", "d2028"])
    assert one.exit_code == 0, one.output
    assert (out / f"d2028-rsa.{DOMAIN}.key").exists()
    assert (out / f"d2028-ed25519.{DOMAIN}.key").exists()
    three = CliRunner().invoke(
        cli, [*args, "--selector", "a", "--selector", "b", "--selector", "c"]
    )
    assert three.exit_code == 2 and "one or two --selector" in three.output


class DNSStandIn:
    """A UDP DNS server on a free local port answering the DKIM TXT records given, and
    NXDOMAIN to anything else, for SpamAssassin (which does its own lookups)."""

    def __init__(self, found: Records) -> None:
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        self.found = {name.lower(): txt for name, txt in found.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []

        def serve() -> None:
            while True:
                try:
                    data, peer = self.sock.recvfrom(4096)
                except OSError:
                    return  # closed
                query = dns.message.from_wire(data)
                reply = dns.message.make_response(query)
                question = query.question[0]
                name = question.name.to_text().lower()
                self.asked.append(name)
                txt = self.found.get(name)
                if question.rdtype == dns.rdatatype.TXT and txt:
                    strings = " ".join(f'"{txt[i : i + 250]}"' for i in range(0, len(txt), 250))
                    reply.answer.append(dns.rrset.from_text(name, 300, "IN", "TXT", strings))
                else:
                    reply.set_rcode(dns.rcode.NXDOMAIN)
                self.sock.sendto(reply.to_wire(), peer)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.sock.close()


def spamassassin_rules(data: bytes, dns_port: int) -> dict[str, float]:
    """Rules fired with SpamAssassin's DNS pointed at the stand-in (no -L: DKIM needs DNS)."""
    args = [
        "spamassassin",
        "-t",
        "-x",
        "-p",
        "/dev/null",
        "--cf=use_bayes 0",
        "--cf=dns_available yes",
        f"--cf=dns_server 127.0.0.1:{dns_port}",
    ]
    out = subprocess.run(args, input=data, capture_output=True, timeout=120, check=False)
    text = out.stdout.decode("utf-8", "replace").split("Content analysis details", 1)[-1]
    found = re.findall(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s", text, re.M)
    return {name: float(points) for points, name in found}


@pytest.mark.skipif(not shutil.which("spamassassin"), reason="spamassassin is not installed")
def test_spamassassin_verifies_the_rsa_signature_and_not_ed25519_alone(
    tmp_path: Path, pair: list[dkim.KeyPair]
) -> None:
    """Measured, as the issue says: SpamAssassin 4.0's Mail::DKIM cannot verify Ed25519, so
    Ed25519 alone is DKIM_INVALID; dual-signed, the RSA signature makes it DKIM_VALID and
    DKIM_VALID_AU (aligned with From)."""
    rsa, ed = pair
    cfg = dual_config(load_config(env={}, cwd=tmp_path), [rsa, ed], ("r2026", "e2026"))
    both = Outgoing(cfg).sign(message())
    alone = Outgoing(dual_config(cfg, [ed], ("e2026",))).sign(message())
    server = DNSStandIn(records(rsa, ed))
    try:
        dual = spamassassin_rules(both, server.port)
        only_ed = spamassassin_rules(alone, server.port)
    finally:
        server.close()
    print("dual-signed:", {k: v for k, v in dual.items() if "DKIM" in k})
    print("Ed25519 alone:", {k: v for k, v in only_ed.items() if "DKIM" in k})
    assert f"r2026._domainkey.{DOMAIN}." in server.asked
    assert {"DKIM_SIGNED", "DKIM_VALID", "DKIM_VALID_AU"} <= set(dual)
    assert "DKIM_INVALID" not in dual
    assert {"DKIM_SIGNED", "DKIM_INVALID"} <= set(only_ed)
    assert "DKIM_VALID" not in only_ed
