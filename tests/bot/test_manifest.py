"""manifest.yml creates the app the bot expects: its command, minimum scopes, interactivity, Home tab."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.ids import COMMAND

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def test_the_manifest_declares_what_the_bot_uses():
    text = MANIFEST.read_text(encoding="utf-8")
    assert f"- command: {COMMAND}\n" in text
    assert "home_tab_enabled: true" in text and "messages_tab_enabled: true" in text
    assert re.search(r"interactivity:\n\s+is_enabled: true", text)
    assert "- app_home_opened" in text
    scopes = re.findall(r"^\s+- ([a-z.:]+)(?:\s+#.*)?$", text.split("bot:\n", 1)[1].split("settings:")[0], re.M)
    assert scopes == ["commands", "chat:write", "chat:write.public", "channels:join", "im:write", "files:write",
                      "channels:history", "groups:history", "im:history"]
    assert len(re.findall(r"url: https://YOUR-HOST/slack/events$", text, re.M)) == 3


def test_the_manifest_is_valid_yaml_when_pyyaml_is_there():
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["features"]["slash_commands"][0]["command"] == COMMAND
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def test_the_manifest_is_valid_against_slacks_own_schema():
    """Checked against the app manifest schema Slack publishes (``shared/reference/official``)."""
    yaml = pytest.importorskip("yaml")
    import json

    from jsonschema import Draft7Validator

    schema_path = MANIFEST.parents[1] / "shared" / "reference" / "official" / "slack-app-manifest.schema.1.0.0.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []
    broken = {**manifest, "display_information": {}}  # the check can fail: a manifest without a name
    assert list(Draft7Validator(schema).iter_errors(broken))
