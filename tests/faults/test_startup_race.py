"""Replicas starting at the same moment on a new, empty database (a first deploy with several
replicas): one of them creates the schema, the others wait for it, and all of them start."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import inspect

from sandbox import EnerpizeSimulator, SallaSimulator
from sync_core.settings import load_settings
from sync_core.store import Store
from sync_core.store.schema import current_revision, head_revision
from sync_core.wiring import open_service

REPLICAS = 6


def test_replicas_starting_at_once_on_a_new_database_all_start(empty_database_url):
    with SallaSimulator() as salla, EnerpizeSimulator() as enerpize:
        settings = load_settings(_env_file=None, salla_api_url=salla.api_url, salla_token_url=salla.token_url,
                                 salla_access_token=salla.access_token, salla_refresh_token=salla.refresh_token,
                                 enerpize_api_url=enerpize.api_url, enerpize_api_key=enerpize.api_key,
                                 database_url=empty_database_url)
        barrier = threading.Barrier(REPLICAS)
        errors: list[BaseException] = []

        async def start(store: Store) -> None:
            async with open_service(settings, store=store):
                pass

        def replica() -> None:
            try:
                barrier.wait()
                store = Store(empty_database_url)  # each one finds no schema and may create it
                try:
                    asyncio.run(start(store))
                finally:
                    store.close()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=replica) for _ in range(REPLICAS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        store = Store(empty_database_url, create=False)
        try:
            assert current_revision(store.engine) == head_revision()
            assert {"sync_run", "ledger", "slack_thread"} <= set(inspect(store.engine).get_table_names())
            assert store.load_tokens_row() is not None  # the first tokens, stored once
        finally:
            store.close()
