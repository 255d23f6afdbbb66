"""The sync core against the Salla and Enerpize simulators, over real HTTP on loopback."""

from __future__ import annotations

import pytest

from sandbox import EnerpizeSimulator, SallaSimulator, sample_store
from sync_core.settings import Settings, load_settings
from sync_core.store import Store
from sync_core.wiring import open_service


def settings_for(salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str, **extra) -> Settings:
    return load_settings(
        _env_file=None,
        salla_api_url=salla.api_url, salla_token_url=salla.token_url,
        salla_access_token=salla.access_token, salla_refresh_token=salla.refresh_token,
        salla_client_id=salla.client_id, salla_client_secret=salla.client_secret,
        enerpize_api_url=enerpize.api_url, enerpize_api_key=enerpize.api_key,
        database_url=database_url, salla_sync_http_timeout=extra.pop("timeout", 5.0), **extra,
    )


@pytest.fixture
def salla():
    with SallaSimulator(store=sample_store()) as sim:
        yield sim


@pytest.fixture
def enerpize():
    with EnerpizeSimulator() as sim:
        yield sim


@pytest.fixture
def settings(salla, enerpize, database_url) -> Settings:
    return settings_for(salla, enerpize, database_url)


@pytest.fixture
def store(settings):
    store = Store(settings.database_url)
    yield store
    store.close()


@pytest.fixture
async def service(settings, store):
    async with open_service(settings, store=store) as service:
        service.lost_answer_pause = 0.05
        yield service
