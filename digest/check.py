"""`digest check`: what mailbox providers and spam filters will hold against a rendered message.

Pure checks on the message bytes (Gmail's clipping, RFC 8058 one-click unsubscribe, RFC 2919
List-Id, RFC 5322 line length, a text part, alt text, https links, DKIM alignment), plus
SpamAssassin's score with local rules only when it is installed. Each finding is a level
(error, warning, info), a code and a line of explanation; errors are what must be fixed.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import urlsplit

from .addresses import aligned, domain_of
from .config import Config
from .deliver.dkim import configured_keys, ed25519_only, load_key, public_record

GMAIL_CLIP = 102_000  # bytes of HTML past which Gmail clips ("102 KB", counted conservatively)
MAX_LINE = 998  # RFC 5322, without the CRLF
SPAM_TARGET = 0.5  # our own bar for the digest; SpamAssassin's spam threshold is 5.0
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LIST_ID = re.compile(rf"(?:.*\s)?<{_ATOM}(?:\.{_ATOM})+>")
URI_LIST = re.compile(r"\s*<[^<>\s]+>\s*(?:,\s*<[^<>\s]+>\s*)*")
TEXT_URL = re.compile(r"\bhttps?://[^\s<>\"')]+", re.I)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Finding:
    level: str  # error, warning, info
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.code}: {self.message}"


def error(code: str, message: str) -> Finding:
    return Finding("error", code, message)


def warning(code: str, message: str) -> Finding:
    return Finding("warning", code, message)


def info(code: str, message: str) -> Finding:
    return Finding("info", code, message)


def _local(url: str) -> bool:
    """A development address (the demo's base_url), where http is expected."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


class _Html(HTMLParser):
    """Collects the links and the images without alt text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.no_alt: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]).strip())
        elif tag == "img" and found.get("alt") is None:
            self.no_alt.append(str(found.get("src") or "?"))


def _body(msg: Message, kind: str) -> bytes | None:
    for part in msg.walk():
        if part.get_content_type() == kind and not part.is_multipart():
            raw = part.get_payload(decode=True)
            return raw if isinstance(raw, bytes) else b""
    return None


def _sent_size(msg: Message, kind: str) -> int:
    """Bytes of a part's body as the message carries it (quoted-printable or base64 and all):
    what Gmail's clipping counts, about 5-10% more than the decoded HTML."""
    for part in msg.walk():
        if part.get_content_type() == kind and not part.is_multipart():
            raw = part.get_payload(decode=False)
            return len(raw.encode("utf-8", "surrogateescape")) if isinstance(raw, str) else 0
    return 0


def check_lines(data: bytes) -> list[Finding]:
    long = [n for n, line in enumerate(data.split(b"\n"), 1) if len(line.rstrip(b"\r")) > MAX_LINE]
    if not long:
        return []
    return [
        error(
            "line_too_long",
            f"{len(long)} lines over {MAX_LINE} characters "
            f"(RFC 5322), the first at line {long[0]}: servers may break or refuse it",
        )
    ]


def check_headers(msg: Message) -> list[Finding]:
    found: list[Finding] = []
    for name in ("From", "Date"):
        count = len(msg.get_all(name, []))
        if count != 1:
            found.append(error("header", f"{count} {name} headers (RFC 5322: one)"))
    if not msg.get("Message-ID"):
        found.append(warning("header", "no Message-ID (Gmail refuses such bulk mail)"))
    return found + check_list_headers(msg)


def check_list_headers(msg: Message) -> list[Finding]:
    """RFC 8058 one-click unsubscribe and RFC 2919 List-Id, as Gmail and Yahoo require."""
    found: list[Finding] = []
    unsubscribe = " ".join(str(msg.get("List-Unsubscribe", "")).split())
    if not unsubscribe:
        found.append(error("list_unsubscribe", "no List-Unsubscribe header"))
    elif not URI_LIST.fullmatch(unsubscribe):
        found.append(
            error(
                "list_unsubscribe",
                f"List-Unsubscribe is not a list of <URI>s: {unsubscribe[:80]}",
            )
        )
    else:
        uris = re.findall(r"<([^<>\s]+)>", unsubscribe)
        https = [u for u in uris if u.lower().startswith("https://")]
        http = [u for u in uris if u.lower().startswith("http://")]
        if not https:
            local = bool(http) and all(_local(u) for u in http)
            found.append(
                Finding(
                    "warning" if local else "error",
                    "list_unsubscribe",
                    "List-Unsubscribe has no https URI, which RFC 8058 one-click "
                    "unsubscribe needs" + (" (fine for localhost)" if local else ""),
                )
            )
    post = " ".join(str(msg.get("List-Unsubscribe-Post", "")).split())
    if not post:
        found.append(error("list_unsubscribe_post", "no List-Unsubscribe-Post header"))
    elif post != "List-Unsubscribe=One-Click":
        found.append(
            error(
                "list_unsubscribe_post",
                f"List-Unsubscribe-Post must be List-Unsubscribe=One-Click, not {post}",
            )
        )
    list_id = " ".join(str(msg.get("List-Id", "")).split())
    if not list_id:
        found.append(error("list_id", "no List-Id header"))
    elif not LIST_ID.fullmatch(list_id):
        found.append(
            error("list_id", f"List-Id is not 'name <id.domain>' (RFC 2919): {list_id[:80]}")
        )
    return found


def check_parts(msg: Message, config: Config | None) -> list[Finding]:
    found: list[Finding] = []
    text, html = _body(msg, "text/plain"), _body(msg, "text/html")
    if text is None:
        found.append(
            error("no_text_part", "no text/plain part: spam filters score HTML-only mail up")
        )
    links = TEXT_URL.findall(text.decode("utf-8", "replace")) if text else []
    if html is not None:
        size = _sent_size(msg, "text/html")
        budget = config.html_max_bytes if config else GMAIL_CLIP
        if size > GMAIL_CLIP:
            found.append(
                error(
                    "html_size",
                    f"HTML is {size:,} bytes as sent: Gmail clips past {GMAIL_CLIP:,}, "
                    "hiding the rest and the unsubscribe link",
                )
            )
        elif size > budget:
            found.append(
                warning(
                    "html_size",
                    f"HTML is {size:,} bytes as sent, over html_max_bytes {budget:,}",
                )
            )
        parser = _Html()
        parser.feed(html.decode("utf-8", "replace"))
        links += parser.links
        if parser.no_alt:
            found.append(
                warning(
                    "img_alt",
                    f"{len(parser.no_alt)} images without alt text, the first "
                    f"{parser.no_alt[0][:80]}",
                )
            )
    plain = sorted({u for u in links if u.lower().startswith("http://")})
    if plain:
        where = "localhost, fine for a demo" if all(_local(u) for u in plain) else plain[0][:80]
        found.append(
            warning(
                "http_link",
                f"{len(plain)} links are not https ({where}): set base_url to "
                "the https address of the web app",
            )
        )
    return found


def _dkim_tags(msg: Message) -> list[dict[str, str]]:
    """The tags of every DKIM-Signature, top down (the order verifiers number them in)."""
    found = []
    for value in msg.get_all("DKIM-Signature") or []:
        tags = {}
        for item in "".join(str(value).split()).split(";"):
            key, _, val = item.partition("=")
            tags[key] = val
        found.append(tags)
    return found


def _configured_records(config: Config | None) -> dict[tuple[str, str], bytes]:
    """The DNS record of each configured key, by (selector, domain)."""
    if not config or not config.dkim_key_files or not config.dkim_selectors:
        return {}
    domain = (config.dkim_domain or domain_of(config.from_addr)).lower()
    return {
        (selector.lower(), domain): public_record(load_key(path)).encode()
        for selector, path in configured_keys(config)
    }


def _dkimpy_verify(data: bytes, idx: int, record: bytes) -> bool:
    import dkim as dkimpy  # type: ignore[import-untyped]

    return bool(dkimpy.DKIM(data).verify(idx=idx, dnsfunc=lambda _name, timeout=5: record))


def check_dkim(
    msg: Message,
    data: bytes,
    config: Config | None,
    verify: Callable[[bytes, int, bytes], bool] | None = None,
) -> list[Finding]:
    """Each signature's domain against From (DMARC alignment) and, for each made with a
    configured key, that it verifies (with dkimpy); a warning when Ed25519 signs alone."""
    signatures = _dkim_tags(msg)
    if not signatures:
        return [
            warning(
                "dkim",
                "not DKIM-signed: Gmail and Yahoo junk or refuse "
                "unsigned bulk mail (set dkim_key_file, see `digest dkim keygen`)",
            )
        ]
    from_domain = domain_of(str(msg.get("From", "")))
    records = _configured_records(config)
    verify = verify or _dkimpy_verify
    found: list[Finding] = []
    for idx, tags in enumerate(signatures):
        d, s = tags.get("d", "").lower(), tags.get("s", "").lower()
        if not aligned(d, from_domain):
            found.append(
                error(
                    "dkim_alignment",
                    f"DKIM domain {d} does not align with the From domain {from_domain}: "
                    "DMARC fails",
                )
            )
        record = records.get((s, d))
        if record is None:
            continue
        if verify(data, idx, record):
            what = f"signed {tags.get('a')} (s={s}, d={d}); verifies with the configured key"
            found.append(info("dkim_ok", what))
        else:
            what = f"the DKIM signature (s={s}, d={d}) does not verify"
            found.append(error("dkim_invalid", what))
    if ed25519_only([t.get("a", "") for t in signatures]):
        found.append(
            warning(
                "dkim_ed25519_only",
                "signed with Ed25519 only: receivers that cannot verify it (SpamAssassin's "
                "Mail::DKIM among them) see no valid signature; add an RSA key "
                "(`digest dkim keygen --type rsa`) to dkim_key_file (RFC 8463)",
            )
        )
    return found


def check_footer(config: Config | None) -> list[Finding]:
    """Settings the footer needs: US law (CAN-SPAM) wants the sender's postal address."""
    if config is None or config.postal_address:
        return []
    return [
        warning(
            "postal_address",
            "postal_address is not set (DIGEST_POSTAL_ADDRESS): US law (CAN-SPAM) requires "
            "the sender's physical address in commercial email",
        )
    ]


# ---- SpamAssassin -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpamScore:
    score: float
    required: float
    rules: tuple[tuple[str, float, str], ...]  # (name, points, description)


_REPORT = re.compile(r"Content analysis details:\s+\((-?[\d.]+) points?, (-?[\d.]+) required\)")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*?)\s*$")


def parse_spamassassin(output: str) -> SpamScore | None:
    """The score and every rule that fired, from `spamassassin -t`'s report."""
    reports = list(_REPORT.finditer(output))
    if not reports:
        return None
    head = reports[-1]
    rules: list[tuple[str, float, str]] = []
    table = output[head.end() :].split("\n")
    start = next((i for i, line in enumerate(table) if line.startswith("----")), len(table))
    for line in table[start + 1 :]:
        if not line.strip():
            break
        if m := _RULE.match(line):
            rules.append((m.group(2), float(m.group(1)), m.group(3)))
        elif rules:  # a description wrapped onto the next line
            name, points, text = rules[-1]
            rules[-1] = (name, points, f"{text} {line.strip()}")
    # + 0.0 turns SpamAssassin's "-0.0" into 0.0
    return SpamScore(float(head.group(1)) + 0.0, float(head.group(2)), tuple(rules))


def spamassassin(data: bytes, timeout: float = 120) -> SpamScore | None:
    """Score with SpamAssassin's local rules only (-L: no DNS or network tests, no Bayes, no
    user preferences), or None when it is not installed."""
    exe = shutil.which("spamassassin")
    if exe is None:
        return None
    args = [exe, "-L", "-t", "-x", "-p", "/dev/null", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0"]
    done = subprocess.run(args, input=data, capture_output=True, timeout=timeout, check=False)
    return parse_spamassassin(done.stdout.decode("utf-8", "replace"))


def check_spam(data: bytes) -> list[Finding]:
    result = spamassassin(data)
    if result is None:
        return [info("spamassassin", "spamassassin is not installed: not scored")]
    level = (
        "error"
        if result.score >= result.required
        else "warning"
        if result.score > SPAM_TARGET
        else "info"
    )
    found = [
        Finding(
            level,
            "spamassassin",
            f"score {result.score:.1f} with local rules (spam at {result.required:.1f}, "
            f"our bar {SPAM_TARGET}); {len(result.rules)} rules fired",
        )
    ]
    found += [
        info("spamassassin_rule", f"{points:+.1f} {name}: {text}")
        for name, points, text in result.rules
    ]
    return found


def check_message(data: bytes, config: Config | None = None, spam: bool = True) -> list[Finding]:
    """Every finding for one message, errors first."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    found = check_lines(data) + check_headers(msg) + check_parts(msg, config)
    found += check_dkim(msg, data, config)
    found += check_footer(config)
    if spam:
        found += check_spam(data)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.level])


__all__ = ["Finding", "SpamScore", "check_message", "parse_spamassassin", "spamassassin"]
