"""`salla-sync-bot`: a missing setting stops start-up with one line naming it (exit 2)."""

from __future__ import annotations

import time

import pytest

from bot.main import main

VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "ENERPIZE_API_URL",
             "ENERPIZE_API_KEY", "SALLA_ACCESS_TOKEN", "SALLA_REFRESH_TOKEN", "DATABASE_URL")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env file
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    return monkeypatch


def start(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_no_bot_token(clean_env, capsys):
    assert "SLACK_BOT_TOKEN is not set" in start([], capsys)


def test_http_mode_needs_the_signing_secret(clean_env, capsys):
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    err = start(["--http", "--port", "0"], capsys)
    assert "SLACK_SIGNING_SECRET is not set" in err and "xoxb-secret-value" not in err


def test_socket_mode_needs_the_app_token(clean_env, capsys):
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    assert "SLACK_APP_TOKEN" in start([], capsys)


def test_a_missing_core_setting_is_named_too(clean_env, capsys):
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    clean_env.setenv("SLACK_SIGNING_SECRET", "signing-secret-value")
    assert "ENERPIZE_API_URL is not set" in start(["--http", "--port", "0"], capsys)


def test_a_malformed_setting_is_named(clean_env, capsys):
    clean_env.setenv("SLACK_API_URL", "slack.com/api")
    assert "SLACK_API_URL is malformed" in start([], capsys)


def test_socket_mode_serves_the_health_check_too(tmp_path):
    """A bot on Socket Mode (no public URL) still answers ``GET /healthz`` and ``/metrics`` on its
    ``--webhook-port``, and takes no Slack request over HTTP."""
    import urllib.error
    import urllib.request

    from sandbox import EnerpizeSimulator, SallaSimulator, sample_store
    from sandbox.bot_process import BotProcess, bot_env
    from sandbox.slack_sim import SlackSimulator

    with SlackSimulator() as slack, SallaSimulator(store=sample_store()) as salla, EnerpizeSimulator() as enerpize:
        env = bot_env(slack, salla, enerpize, f"sqlite:///{tmp_path / 'bot.db'}", SLACK_APP_TOKEN=slack.app_token)
        with BotProcess(env, log_path=tmp_path / "bot.log", socket_mode=True) as bot:
            with urllib.request.urlopen(bot.url + "/healthz", timeout=5) as response:  # on --webhook-port
                assert response.status == 200
            with urllib.request.urlopen(bot.url + "/metrics", timeout=5) as response:
                assert b"salla_sync_runs_in_flight" in response.read()
            deadline = time.monotonic() + 10
            while not slack.socket_connections and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slack.socket_connections, (tmp_path / "bot.log").read_text()
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(bot.url + "/slack/events", data=b"{}", method="POST"),
                                       timeout=5)
            assert refused.value.code in (404, 405)
