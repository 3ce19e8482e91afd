"""Setting values (issue 11, item 17): control characters are refused at load time, in the
environment and in digest.toml, naming the key and never printing the value; and the
max_document_bytes setting (item 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import _SCALARS, DEFAULTS_FILE, load_config
from digest.errors import ConfigError

# Every string setting that reaches a message header, a URL or a log line.
HEADER_KEYS = {
    "name": "Defence Daily",
    "from": "Defence Daily <digest@news.example.org>",
    "base_url": "https://news.example.org",
    "return_path": "returns@news.example.org",
    "bounce_address": "bounces@news.example.org",
    "unsubscribe_mailto": "unsubscribe@news.example.org",
    "smtp_host": "smtp.example.org",
    "smtp_username": "digest-user",
    "dkim_selector": "d2026",
    "dkim_domain": "news.example.org",
    "more_section": "More headlines",
    "database_url": "sqlite:///digest.db",
    "outbox": "outbox",
    "inbox": "inbox",
    "lock_file": "digest.lock",
    "templates": "templates",
    "smtp_ca_file": "ca.pem",
    "dkim_key_file": "dkim.key",
}
CONTROLS = {
    "CRLF": "\r\n",
    "LF": "\n",
    "CR": "\r",
    "TAB": "\t",
    "NUL": "\x00",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
}
MARK = "Bcc: victim-4711@example.net"


def injected(good: str, control: str) -> str:
    return f"{good}{control}{MARK}"


@pytest.mark.parametrize("control", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("key", HEADER_KEYS)
def test_a_control_character_in_the_environment_is_refused(
    key: str, control: str, tmp_path: Path
) -> None:
    env_key = f"DIGEST_{key.upper()}"
    with pytest.raises(ConfigError) as info:
        load_config(env={env_key: injected(HEADER_KEYS[key], control)}, cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(f"{env_key} must not contain line breaks or other control")
    assert "victim" not in message and HEADER_KEYS[key] not in message
    assert "\n" not in message and "\r" not in message


@pytest.mark.parametrize("key", HEADER_KEYS)
def test_a_control_character_in_the_config_file_is_refused(key: str, tmp_path: Path) -> None:
    toml = tmp_path / "digest.toml"  # a JSON string is a TOML basic string
    value = json.dumps(injected(HEADER_KEYS[key], "\r\n"))
    toml.write_text(f"{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(env={}, cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(f"{toml}: {key} must not contain line breaks")
    assert "victim" not in message


def test_every_setting_but_the_secrets_refuses_a_line_break() -> None:
    """A setting added later is covered too, unless it is a secret (see below)."""
    assert set(HEADER_KEYS) <= set(_SCALARS)
    for key, (_, parse) in _SCALARS.items():
        if key not in {"smtp_password", "secret_key", "editor_password"}:
            with pytest.raises(ValueError):
                parse(key, injected("x", "\r\n"))


def test_surrounding_line_breaks_are_trimmed_not_refused(tmp_path: Path) -> None:
    """A value read with $(cat file) ends in a newline: trimmed, as all surrounding space is."""
    config = load_config(env={"DIGEST_BASE_URL": "https://news.example.org\r\n"}, cwd=tmp_path)
    assert config.base_url == "https://news.example.org"


def test_secrets_are_not_checked_and_never_printed(tmp_path: Path) -> None:
    """Passwords reach no header (SMTP AUTH sends them base64-encoded); any byte may be in
    one. A bad one elsewhere is still reported without printing any of them."""
    env = {
        "DIGEST_SMTP_PASSWORD": "pa\tss\x7fword",
        "DIGEST_SECRET_KEY": "key\u2028one",
        "DIGEST_BASE_URL": "https://x.example.org\nBcc: someone",
    }
    with pytest.raises(ConfigError) as info:
        load_config(env=env, cwd=tmp_path)
    assert "pa\tss" not in str(info.value) and "key" not in str(info.value)
    del env["DIGEST_BASE_URL"]
    config = load_config(env=env, cwd=tmp_path)
    assert config.smtp_password == "pa\tss\x7fword"
    assert "pa\tss" not in repr(config)


def test_a_section_name_with_a_line_break_is_refused(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text(
        '[[sections]]\nname = "Space\\r\\nBcc: x@example.net"\nkeywords = ["rocket"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sections\[1\]\.name must not contain line breaks"):
        load_config(env={}, cwd=tmp_path)


def test_the_cli_refuses_an_injected_base_url_before_doing_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_BASE_URL": f"https://news.example.org\r\n{MARK}",
    }
    r = CliRunner().invoke(cli, ["preview", "--date", "2026-11-26"], env=env)
    assert r.exit_code == 2
    assert "DIGEST_BASE_URL must not contain line breaks" in r.output
    assert "victim" not in r.output
    assert not (tmp_path / "outbox").exists() and not (tmp_path / "digest.db").exists()


# ---- max_document_bytes (item 16) ---------------------------------------------------------


def test_max_document_bytes_default_and_environment(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).max_document_bytes == 5_000_000
    config = load_config(env={"DIGEST_MAX_DOCUMENT_BYTES": "20000"}, cwd=tmp_path)
    assert config.max_document_bytes == 20_000
    with pytest.raises(ConfigError, match="DIGEST_MAX_DOCUMENT_BYTES must be a whole number"):
        load_config(env={"DIGEST_MAX_DOCUMENT_BYTES": "5MB"}, cwd=tmp_path)


def test_default_toml_documents_every_key() -> None:
    toml = DEFAULTS_FILE.read_text(encoding="utf-8")
    missing = [k for k in _SCALARS if f"\n{k} = " not in toml]
    assert not missing
