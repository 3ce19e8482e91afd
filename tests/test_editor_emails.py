"""The setting `editor_emails` (issue #13): when `digest run` leaves a day waiting for a required
approval, each editor gets one plain email with the link to the day's editor page, once per day
(the approval_notices table keeps who was told). A failure warns and never fails the run.
The CLI in-process against the real aiosmtpd server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.store import Store

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_approval import WAITS, cli_env, invoke, subscribe
from .test_send import parse, text_of
from .test_send_stops import everyone_once

EDITORS = ("chief@example.org", "deputy@example.org")
LINK = f"https://news.example.org/editor/{SAMPLE_DAY}"
TOLD = f"notify: {SAMPLE_DAY} waits for approval; told"


def editors_env(
    config: Config, server: SMTPTestServer, tmp_path: Path, **settings: str
) -> dict[str, str]:
    env = cli_env(
        config,
        server,
        tmp_path,
        base_url="https://news.example.org/",
        editor_emails="Chief@Example.org, deputy@example.org,",
        **settings,
    )
    shutil.copytree(SAMPLES, Path(env["DIGEST_INBOX"]), dirs_exist_ok=True)
    return env


def editor_mails(server: SMTPTestServer) -> dict[str, int]:
    return {a: len(server.received_by(a)) for a in EDITORS}


# ---- the setting ------------------------------------------------------------------------------


def test_the_setting_takes_a_list_or_commas_and_refuses_a_bad_address(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).editor_emails == ()
    env = {"DIGEST_EDITOR_EMAILS": " A@Example.org,b@exämple.com , a@example.org"}
    assert load_config(env=env, cwd=tmp_path).editor_emails == (
        "a@example.org",
        "b@xn--exmple-cua.com",
    )
    assert load_config(env={"DIGEST_EDITOR_EMAILS": ""}, cwd=tmp_path).editor_emails == ()
    with pytest.raises(ConfigError, match=r"^DIGEST_EDITOR_EMAILS address 2 is not valid: "):
        load_config(env={"DIGEST_EDITOR_EMAILS": "a@example.org,nobody"}, cwd=tmp_path)
    (tmp_path / "digest.toml").write_text('editor_emails = ["c@example.org"]\n')
    assert load_config(env={}, cwd=tmp_path).editor_emails == ("c@example.org",)
    (tmp_path / "digest.toml").write_text('editor_emails = "c@example.org\\r\\nBcc: x@evil.org"\n')
    with pytest.raises(ConfigError, match=r"digest.toml: editor_emails address 1 is not valid"):
        load_config(env={}, cwd=tmp_path)
    (tmp_path / "digest.toml").write_text("editor_emails = 3\n")
    with pytest.raises(ConfigError, match=r"editor_emails must be a list of email addresses"):
        load_config(env={}, cwd=tmp_path)


# ---- digest run -------------------------------------------------------------------------------


def test_a_waiting_day_is_mailed_to_each_editor_once_then_sent_once_approved(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    subscribe(store, config, 3)
    env = editors_env(config, smtp_server, tmp_path, approval="required")
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert WAITS in r.stdout.splitlines()
    assert f"{TOLD} chief@example.org, deputy@example.org" in r.stdout.splitlines()
    assert r.stderr == "" and store.find_send(SAMPLE_DAY) is None
    assert len(smtp_server.messages) == 2 and editor_mails(smtp_server) == {a: 1 for a in EDITORS}
    for address in EDITORS:
        [got] = smtp_server.received_by(address)
        assert got.rcpt_tos == [address]
        msg = parse(got.data)
        assert msg["To"] == address and msg["Auto-Submitted"] == "auto-generated"
        assert SAMPLE_DAY in msg["Subject"] and "approval" in msg["Subject"]
        body = text_of(msg)
        assert f"\n{LINK}\n" in body and f"digest approve --date {SAMPLE_DAY}" in body
        assert env["DIGEST_SECRET_KEY"] not in got.data.decode()
    assert store.editors_told(SAMPLE_DAY) == {"chief@example.org", "deputy@example.org"}

    again = invoke(env, "run", "--date", SAMPLE_DAY)  # the next cron run: nobody mailed again
    assert again.exit_code == 0 and WAITS in again.stdout and "notify:" not in again.stdout
    assert len(smtp_server.messages) == 2

    assert invoke(env, "approve", "--date", SAMPLE_DAY).exit_code == 0
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0 and "notify:" not in r.stdout, r.output
    assert editor_mails(smtp_server) == {a: 1 for a in EDITORS}
    subscribers = [m for m in smtp_server.messages if m.rcpt_tos[0] not in EDITORS]
    assert len(subscribers) == 3


def test_with_approval_auto_no_editor_is_mailed(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    subscribe(store, config, 2)
    env = editors_env(config, smtp_server, tmp_path)
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0 and "notify:" not in r.stdout, r.output
    assert editor_mails(smtp_server) == {a: 0 for a in EDITORS}
    assert everyone_once(smtp_server, 2) == 0


def test_a_held_day_is_mailed_to_nobody(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    env = editors_env(config, smtp_server, tmp_path, approval="required")
    assert invoke(env, "ingest", env["DIGEST_INBOX"]).exit_code == 0
    assert invoke(env, "compose", "--date", SAMPLE_DAY).exit_code == 0
    assert invoke(env, "hold", "--date", SAMPLE_DAY).exit_code == 0
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0 and "is held" in r.stdout and "notify:" not in r.stdout, r.output
    assert smtp_server.messages == []


def test_an_editor_not_reached_is_a_warning_and_is_told_by_the_next_run(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    env = editors_env(config, smtp_server, tmp_path, approval="required")
    smtp_server.fail("deputy@example.org", "550 5.1.1 No such user", times=1)
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert f"{TOLD} chief@example.org" in r.stdout.splitlines()
    [warning] = r.stderr.splitlines()
    assert warning.startswith(f"warning: deputy@example.org was not told that {SAMPLE_DAY}")
    assert "550" in warning and env["DIGEST_SECRET_KEY"] not in r.output
    assert editor_mails(smtp_server) == {"chief@example.org": 1, "deputy@example.org": 0}

    r = invoke(env, "run", "--date", SAMPLE_DAY)  # only the one not told yet
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert f"{TOLD} deputy@example.org" in r.stdout.splitlines()
    assert editor_mails(smtp_server) == {a: 1 for a in EDITORS}


def test_an_unreachable_smtp_server_warns_and_the_run_still_exits_0(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    from .test_web_editor_errors import closed_port

    env = editors_env(config, smtp_server, tmp_path, approval="required", smtp_timeout="1")
    env["DIGEST_SMTP_PORT"] = str(closed_port())
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert WAITS in r.stdout.splitlines() and "notify:" not in r.stdout
    assert [line.split(":")[0] for line in r.stderr.splitlines()] == ["warning", "warning"]
    assert store.editors_told(SAMPLE_DAY) == set()
