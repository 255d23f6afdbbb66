"""Settings that point salla-sync at the simulators (tests, the demo, the benchmark)."""

from __future__ import annotations

from typing import Any

from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.slack_sim import SlackSimulator
from sync_core.settings import Settings, load_settings


def simulator_settings(salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str, *,
                       slack: SlackSimulator | None = None, signing_secret: str | None = None,
                       **extra: Any) -> Settings:
    """Settings for these simulators and database; nothing is read from the environment or .env
    files but what pydantic-settings reads for unset fields (``extra`` overrides anything)."""
    values: dict[str, Any] = dict(
        _env_file=None,
        salla_api_url=salla.api_url, salla_token_url=salla.token_url,
        salla_access_token=salla.access_token, salla_refresh_token=salla.refresh_token,
        salla_client_id=salla.client_id, salla_client_secret=salla.client_secret,
        enerpize_api_url=enerpize.api_url, enerpize_api_key=enerpize.api_key,
        database_url=database_url, salla_sync_http_timeout=5.0,
        salla_sync_allowed_users="", salla_sync_allowed_channels="",
    )
    if slack is not None:
        values.update(slack_bot_token=slack.token, slack_api_url=slack.api_url, slack_app_token=None,
                      slack_signing_secret=signing_secret)
    values.update(extra)
    return load_settings(**values)
