"""`salla-sync-bot`: a missing setting stops start-up with one line naming it (exit 2)."""

from __future__ import annotations

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
