"""Builds the sync service from settings: one HTTP client per API (httpx over aiohttp, see
sync_core/transport.py), the store, the token manager."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlalchemy.exc import IntegrityError

from sync_core.enerpize.client import EnerpizeClient
from sync_core.salla.client import SallaClient
from sync_core.salla.tokens import TokenManager
from sync_core.service import SyncService
from sync_core.settings import ConfigError, Settings
from sync_core.store import Store
from sync_core.store.token_cipher import TokenCipher, TokenKeyError
from sync_core.store.id_map import EnerpizeIdMap
from sync_core.transport import AiohttpTransport

log = logging.getLogger(__name__)


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


@asynccontextmanager
async def open_service(settings: Settings, *, store: Store | None = None) -> AsyncIterator[SyncService]:
    """The service for these settings; closes its HTTP clients on exit (the store is the caller's
    when passed in, with its own claim lease)."""
    settings.require("enerpize_api_url", "enerpize_api_key")
    own_store = store is None
    store = store or Store(settings.database_url,
                           claim_lease=timedelta(seconds=settings.salla_sync_claim_lease_seconds))
    key = _secret(settings.salla_sync_secret_key)
    try:
        store.cipher = TokenCipher(key) if key else None
        if store.seal_stored_tokens():
            log.info("the stored Salla tokens are now encrypted with SALLA_SYNC_SECRET_KEY")
    except TokenKeyError as exc:
        if own_store:
            store.close()
        raise ConfigError(str(exc)) from None
    if not key:
        log.warning("SALLA_SYNC_SECRET_KEY is not set: the Salla tokens are stored in plain text "
                    "(make a key with \"salla-sync db new-key\")")
    first_tokens = (_secret(settings.salla_access_token), _secret(settings.salla_refresh_token))
    try:
        tokens = store.load_tokens(*first_tokens)
    except IntegrityError:  # replicas starting at once on a new database: another one stored them first
        tokens = store.load_tokens(*first_tokens)
    if tokens is None:
        raise ConfigError("SALLA_ACCESS_TOKEN is not set (and no Salla token is stored yet)")
    timeout = httpx.Timeout(settings.salla_sync_http_timeout, connect=min(10.0, settings.salla_sync_http_timeout))
    limit = settings.salla_sync_concurrency * 2 + 4  # connections per API
    async with httpx.AsyncClient(timeout=timeout, transport=AiohttpTransport(limit=limit, api="salla")) as salla_http, \
            httpx.AsyncClient(timeout=timeout, transport=AiohttpTransport(limit=limit, api="enerpize")) as enerpize_http:
        manager = TokenManager(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                               token_url=settings.salla_token_url, client_id=settings.salla_client_id,
                               client_secret=_secret(settings.salla_client_secret), store=store, http=salla_http)
        salla = SallaClient(salla_http, api_url=settings.salla_api_url, tokens=manager)
        enerpize = EnerpizeClient(enerpize_http, api_url=settings.enerpize_api_url or "",
                                  api_key=_secret(settings.enerpize_api_key) or "",
                                  id_map=EnerpizeIdMap(store.engine, settings.enerpize_api_url or ""))
        try:
            yield SyncService(salla=salla, enerpize=enerpize, store=store, concurrency=settings.salla_sync_concurrency,
                              run_lease=timedelta(seconds=settings.salla_sync_lease_seconds),
                              native_guard=settings.enerpize_native_salla)
        finally:
            if own_store:
                store.close()
