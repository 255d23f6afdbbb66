"""Replicas starting at the same moment on a new database (a first deploy with several replicas)."""

from __future__ import annotations

import asyncio
import threading

from sandbox import EnerpizeSimulator, SallaSimulator
from sync_core.settings import load_settings
from sync_core.store import Store
from sync_core.wiring import open_service

REPLICAS = 6


def test_replicas_starting_at_once_all_start(database_url):
    with SallaSimulator() as salla, EnerpizeSimulator() as enerpize:
        settings = load_settings(_env_file=None, salla_api_url=salla.api_url, salla_token_url=salla.token_url,
                                 salla_access_token=salla.access_token, salla_refresh_token=salla.refresh_token,
                                 enerpize_api_url=enerpize.api_url, enerpize_api_key=enerpize.api_key,
                                 database_url=database_url)
        barrier = threading.Barrier(REPLICAS)
        errors: list[BaseException] = []

        async def start(store: Store) -> None:
            async with open_service(settings, store=store):
                pass

        def replica() -> None:
            store = Store(database_url, create=False)
            try:
                barrier.wait()
                asyncio.run(start(store))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                store.close()

        threads = [threading.Thread(target=replica) for _ in range(REPLICAS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        store = Store(database_url, create=False)
        assert store.load_tokens_row() is not None
        store.close()
