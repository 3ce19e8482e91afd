"""A day's approval before it goes out (issue #13): `approval = "required"` keeps `digest run`
from sending until `digest approve`; `digest hold` refuses `digest send` and stops a send under
way (every process), and approving again resumes it with nobody sent twice. Real SQLite and
PostgreSQL, the real aiosmtpd server, the CLI in-process and as separate processes, the
editor's Approve / Hold forms through the web app's test client, and migration 0005."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import time
import warnings
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text

from digest.cli import cli
from digest.config import Config, load_config
from digest.deliver.send import APPROVAL_EVERY
from digest.errors import ConfigError
from digest.jobs import approval
from digest.jobs import digests as digest_jobs
from digest.store import Store
from digest.store.migrate import _config, head
from digest.web import create_app

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_kill import digest_cli
from .test_send_stops import environment, everyone_once, prepare, states
from .test_web import BASE, cfg_fixture  # noqa: F401  (the cfg fixture)
from .test_web_editor import csrf_of, login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

WAITS = f"send: {SAMPLE_DAY} waits for approval (digest approve --date {SAMPLE_DAY})"
HELD = f"send: {SAMPLE_DAY} is held (digest approve --date {SAMPLE_DAY} releases it)"


def cli_env(
    config: Config, server: SMTPTestServer, tmp_path: Path, **settings: str
) -> dict[str, str]:
    """The CLI on the test database and SMTP server, with an inbox folder (empty unless the
    test fills it) and DIGEST_<KEY> settings."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    env = environment(config.database_url, server, tmp_path)
    env["DIGEST_INBOX"] = str(inbox)
    env.pop("DIGEST_APPROVAL", None)
    env.update({f"DIGEST_{k.upper()}": v for k, v in settings.items()})
    return env


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def status(env: dict[str, str]) -> dict[str, object]:
    r = invoke(env, "status", "--date", SAMPLE_DAY, "--json")
    assert r.exit_code == 0, r.output
    found: dict[str, object] = json.loads(r.stdout)
    return found


def subscribe(store: Store, config: Config, n: int) -> None:
    from digest.subscribers import new_subscriber

    store.upsert_subscribers(
        [
            new_subscriber(f"reader{i}@example.com", None, None, config.section_names)
            for i in range(n)
        ]
    )


def approvals(store: Store) -> list[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT date, state, changed_by FROM approvals ORDER BY date"))
        return [(d, s, b) for d, s, b in rows]


# ---- the setting ------------------------------------------------------------------------------


def test_approval_setting_defaults_to_auto_and_names_the_key_when_wrong(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).approval == "auto"
    assert load_config(env={"DIGEST_APPROVAL": "Required"}, cwd=tmp_path).approval_required
    with pytest.raises(ConfigError, match=r"^DIGEST_APPROVAL must be one of auto, required"):
        load_config(env={"DIGEST_APPROVAL": "sometimes"}, cwd=tmp_path)
    (tmp_path / "digest.toml").write_text('approval = "later"\n')
    with pytest.raises(ConfigError, match=r"digest.toml: approval must be one of"):
        load_config(env={}, cwd=tmp_path)


# ---- digest run, send, approve, hold, status --------------------------------------------------


def test_required_run_composes_and_waits_until_approved_then_sends_everyone_once(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    subscribe(store, config, 5)
    env = cli_env(config, smtp_server, tmp_path, approval="required")
    shutil.copytree(SAMPLES, Path(env["DIGEST_INBOX"]), dirs_exist_ok=True)

    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert f"compose: {SAMPLE_DAY}" in r.stdout and WAITS in r.stdout.splitlines()
    assert smtp_server.messages == [] and store.find_send(SAMPLE_DAY) is None
    assert status(env)["approval"] == "pending"
    r = invoke(env, "status", "--date", SAMPLE_DAY)
    assert r.stdout.splitlines()[0].endswith("(composed, not sent yet); approval: pending")

    # By hand, an editor is told to approve first.
    r = invoke(env, "send", "--date", SAMPLE_DAY)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == (
        f"error: the digest for {SAMPLE_DAY} waits for approval (approval is required): "
        f"approve it first with 'digest approve --date {SAMPLE_DAY}'\n"
    )
    again = invoke(env, "run", "--date", SAMPLE_DAY)  # the next cron run still waits
    assert again.exit_code == 0 and WAITS in again.stdout and smtp_server.messages == []

    r = invoke(env, "approve", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"approve: {SAMPLE_DAY} approved (was pending)")
    assert approvals(store) == [(SAMPLE_DAY, "approved", "cli")]
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert re.search(rf"send {SAMPLE_DAY} via smtp: 5 sent, 0 failed", r.stdout), r.stdout
    assert everyone_once(smtp_server, 5) == 0
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0 and "0 sent" in r.stdout and len(smtp_server.messages) == 5
    assert status(env) == {
        "queued": 0,
        "sent": 5,
        "failed": 0,
        "deferred": 0,
        "skipped": 0,
        "approval": "approved",
    }


def test_auto_sends_as_before_and_counts_an_undecided_day_approved(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    subscribe(store, config, 3)
    env = cli_env(config, smtp_server, tmp_path)
    shutil.copytree(SAMPLES, Path(env["DIGEST_INBOX"]), dirs_exist_ok=True)
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert "approv" not in r.output
    assert everyone_once(smtp_server, 3) == 0
    assert status(env)["approval"] == "approved" and approvals(store) == []


def test_hold_refuses_send_and_run_and_status_shows_each_state(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    prepare(store, config, 2)
    env = cli_env(config, smtp_server, tmp_path)
    assert status(env)["approval"] == "approved"

    r = invoke(env, "hold", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"hold: {SAMPLE_DAY} held (was approved)")
    assert status(env)["approval"] == "held"
    assert invoke(env, "status", "--date", SAMPLE_DAY).stdout.endswith("; approval: held\n")
    r = invoke(env, "send", "--date", SAMPLE_DAY)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == (
        f"error: the digest for {SAMPLE_DAY} is held: nothing is sent until "
        f"'digest approve --date {SAMPLE_DAY}'\n"
    )
    r = invoke(env, "run", "--date", SAMPLE_DAY)
    assert r.exit_code == 0 and HELD in r.stdout.splitlines(), r.output
    assert smtp_server.messages == [] and store.find_send(SAMPLE_DAY) is None
    # A dry run sends nobody anything: it goes ahead.
    r = invoke(env, "send", "--date", SAMPLE_DAY, "--dry-run")
    assert r.exit_code == 0, r.output

    assert invoke(env, "approve", "--date", SAMPLE_DAY).exit_code == 0
    assert status(env)["approval"] == "approved"
    r = invoke(env, "send", "--date", SAMPLE_DAY)
    assert r.exit_code == 0, r.output
    assert everyone_once(smtp_server, 2) == 0


def test_approving_or_holding_a_day_without_a_digest_is_an_error_naming_it(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    env = cli_env(config, smtp_server, tmp_path, approval="required")
    for command_name in ("approve", "hold"):
        r = invoke(env, command_name, "--date", "2026-11-30")
        assert (r.exit_code, r.stdout) == (1, "")
        assert r.stderr == (
            "error: no digest for 2026-11-30: compose it first (digest compose --date 2026-11-30)\n"
        )
    assert approvals(store) == []


def test_recomposing_withdraws_an_approval_but_keeps_a_hold(store: Store, config: Config) -> None:
    cfg = dataclasses.replace(config, approval="required")
    prepare(store, cfg, 1)
    approval.approve(store, cfg, SAMPLE_DAY, "cli")
    digest_jobs.compose_day(store, cfg, SAMPLE_DAY)  # what was approved is gone
    assert approval.state(store, cfg, SAMPLE_DAY) == "pending"
    approval.hold(store, cfg, SAMPLE_DAY, "cli")
    digest_jobs.compose_day(store, cfg, SAMPLE_DAY)
    assert approval.state(store, cfg, SAMPLE_DAY) == "held"


# ---- a hold while the day is being sent -------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--rate", "100", "--concurrency", "4"],
        ["--workers", "2", "--rate", "100", "--concurrency", "4"],
    ],
    ids=["one-process", "two-processes"],
)
def test_a_hold_mid_send_stops_it_and_approving_resumes_it_sending_nobody_twice(
    store: Store,
    config: Config,
    smtp_server: SMTPTestServer,
    tmp_path: Path,
    options: list[str],
) -> None:
    subscribers = 400
    prepare(store, config, subscribers)
    env = cli_env(config, smtp_server, tmp_path)
    first = digest_cli("send", "--date", SAMPLE_DAY, *options, env=env)
    try:
        smtp_server.wait_for(60, timeout=60)
    finally:
        # From this process, on a connection of its own, as the editor's page would.
        approval.hold(store, config, SAMPLE_DAY, "editor")
        held_at = time.monotonic()
        at_hold = len(smtp_server.messages)
        out, _ = first.communicate(timeout=60)
    took = time.monotonic() - held_at
    text_out = out.decode()
    left = states(store)
    sent = left["sent"]
    assert first.returncode == 1, text_out
    assert text_out.splitlines()[-1] == (
        f"send: {SAMPLE_DAY} held after {sent:,} sent; "
        f"digest approve --date {SAMPLE_DAY} resumes it"
    )
    # Promptly: what was in flight, and what could start before a process read the state.
    after = len(smtp_server.messages) - at_hold
    print(f"held after {at_hold} sent: {after} more went out; stopped in {took:.1f}s")
    assert after <= 8 + math.ceil(100 * (APPROVAL_EVERY + 0.15)), f"{after} went out after"
    assert took < 5, f"took {took:.1f}s to stop"
    assert "sending" not in left, left
    assert sent + left.get("queued", 0) == subscribers, left
    assert sent == len(smtp_server.messages) and 0 < sent < subscribers, left
    assert len({r for m in smtp_server.messages for r in m.rcpt_tos}) == sent

    # Still held: the next send is refused, the next cron run waits.
    again = digest_cli("send", "--date", SAMPLE_DAY, env=env)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 1 and "is held" in out.decode(), out.decode()
    assert len(smtp_server.messages) == sent

    assert invoke(env, "approve", "--date", SAMPLE_DAY).exit_code == 0
    resumed = digest_cli("run", "--date", SAMPLE_DAY, env=env)
    out, _ = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, out.decode()
    assert everyone_once(smtp_server, subscribers) == 0
    assert states(store) == {"sent": subscribers}


# ---- the editor's day page --------------------------------------------------------------------


def test_the_day_page_approves_and_holds_with_the_csrf_token_only(
    store: Store, cfg: Config
) -> None:
    cfg = dataclasses.replace(cfg, approval="required")
    prepare(store, cfg, 1)
    page_url = f"/editor/{SAMPLE_DAY}"
    with TestClient(create_app(cfg, store), base_url=BASE) as client:
        csrf = login(client)
        page = client.get(page_url).text
        assert '<dd class="approval-pending">pending</dd>' in page
        assert f'action="/editor/{SAMPLE_DAY}/approve"' in page
        assert f'action="/editor/{SAMPLE_DAY}/hold"' in page and csrf_of(page) == csrf

        for action in ("approve", "hold"):
            for token in ("", "0" * 64):
                r = client.post(f"{page_url}/{action}", data={"csrf": token})
                assert r.status_code == 403
        assert approvals(store) == []

        r = client.post(f"{page_url}/approve", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and "notice=approved" in r.headers["location"]
        assert approvals(store) == [(SAMPLE_DAY, "approved", "editor")]
        page = client.get(r.headers["location"]).text
        assert '<dd class="approval-approved">approved</dd>' in page
        assert "The digest is approved" in page
        assert f'action="/editor/{SAMPLE_DAY}/approve"' not in page

        r = client.post(f"{page_url}/hold", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert approvals(store) == [(SAMPLE_DAY, "held", "editor")]
        page = client.get(page_url).text
        assert '<dd class="approval-held">held</dd>' in page
        assert f'action="/editor/{SAMPLE_DAY}/hold"' not in page

        r = client.post("/editor/2026-11-30/approve", data={"csrf": csrf})
        assert r.status_code == 404 and "no digest for 2026-11-30" in r.text


# ---- the migration ----------------------------------------------------------------------------


def test_migration_0005_upgrades_from_0004_and_downgrades(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0004")
        assert not inspect(conn).has_table("approvals")
    engine.dispose()
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert r.output.strip() == f"db: 0004 -> {head()}" and head() >= "0005"

    store = Store(database_url)
    try:
        store.set_approval(SAMPLE_DAY, "held", "cli")
        store.set_approval(SAMPLE_DAY, "approved", "editor")  # the last decision wins
        assert approvals(store) == [(SAMPLE_DAY, "approved", "editor")]
        assert store.approval("2026-11-30", required=True) == "pending"
        assert store.approval("2026-11-30", required=False) == "approved"
        with store.engine.begin() as conn:
            command.downgrade(_config(conn), "0004")
            assert not inspect(conn).has_table("approvals")
            command.upgrade(_config(conn), "head")
            assert inspect(conn).has_table("approvals")
    finally:
        store.close()
