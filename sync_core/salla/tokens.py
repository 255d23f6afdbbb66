"""Salla OAuth tokens: refreshed once per expiry, never with a refresh token used before.

Salla rotates the refresh token on every refresh and revokes everything when an old one is used
again, so refreshes are single-flight: concurrent 401s wait for the one refresh in progress and
then use its result. Both new tokens are stored in one transaction before anything uses them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta, timezone
from typing import Protocol

import httpx

log = logging.getLogger(__name__)


class SallaAuthError(Exception):
    """Salla will not accept our tokens; someone must reconnect the app."""


class StoredTokens(Protocol):
    access_token: str
    refresh_token: str


class TokenStore(Protocol):
    def save_tokens(self, access_token: str, refresh_token: str, expires_at: datetime | None) -> None: ...

    def load_tokens_row(self) -> StoredTokens | None: ...

    def token_refresh_lock(self) -> AbstractAsyncContextManager: ...


def expiry_from(answer: dict) -> datetime | None:
    """Salla's refresh answer: prefer the absolute ``expires`` over ``expires_in``."""
    if answer.get("expires"):
        try:
            return datetime.fromtimestamp(int(answer["expires"]), tz=timezone.utc)
        except (TypeError, ValueError, OverflowError):
            pass
    if answer.get("expires_in"):
        try:
            return datetime.now(timezone.utc) + timedelta(seconds=int(answer["expires_in"]))
        except (TypeError, ValueError):
            pass
    return None


class TokenManager:
    def __init__(self, *, access_token: str, refresh_token: str | None, token_url: str,
                 client_id: str | None, client_secret: str | None, store: TokenStore,
                 http: httpx.AsyncClient) -> None:
        self.access_token = access_token
        self._refresh_token = refresh_token
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._store = store
        self._http = http
        self._lock = asyncio.Lock()

    async def refresh(self, rejected_access_token: str) -> str:
        """Get a working access token after ``rejected_access_token`` was refused (401).

        Single-flight twice over: within this process (an asyncio lock) and across processes
        sharing the database (a database lock), so the refresh token is never sent twice.
        """
        async with self._lock:
            if self.access_token != rejected_access_token:
                return self.access_token  # refreshed here while we waited
            try:
                async with self._store.token_refresh_lock():
                    row = await asyncio.to_thread(self._store.load_tokens_row)
                    if row is not None and row.access_token != rejected_access_token:
                        # Another process refreshed while we waited for the lock: use its tokens.
                        self.access_token, self._refresh_token = row.access_token, row.refresh_token
                        return self.access_token
                    if row is not None:
                        self._refresh_token = row.refresh_token  # the stored one is the latest
                    return await self._refresh_now()
            except TimeoutError:
                raise SallaAuthError("another process has been refreshing the Salla token for too long; "
                                     "try again in a minute") from None

    async def authorized(self, access_token: str, refresh_token: str, expires_at: datetime | None) -> None:
        """New tokens Salla handed over (its ``app.store.authorize`` event): stored under the refresh
        lock, so no refresh in flight here or elsewhere overwrites them, then used."""
        async with self._lock:
            async with self._store.token_refresh_lock():
                await asyncio.to_thread(self._store.save_tokens, access_token, refresh_token, expires_at)
            self.access_token, self._refresh_token = access_token, refresh_token
        log.info("new Salla tokens stored (app.store.authorize)")

    async def _refresh_now(self) -> str:
        """POST the refresh grant; store both new tokens before anything uses them."""
        if not (self._refresh_token and self._client_id and self._client_secret):
            raise SallaAuthError("Salla refused the access token and no refresh token/client "
                                 "credentials are set (SALLA_REFRESH_TOKEN, SALLA_CLIENT_ID, SALLA_CLIENT_SECRET)")
        used, self._refresh_token = self._refresh_token, None  # never send the same one twice
        try:
            response = await self._http.post(self._token_url, data={
                "grant_type": "refresh_token", "refresh_token": used,
                "client_id": self._client_id, "client_secret": self._client_secret,
            }, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            # The answer may be lost after Salla rotated the token; reusing `used` could revoke
            # everything, so it is not reused: the operator reconnects if Salla did rotate.
            raise SallaAuthError(f"could not refresh the Salla token ({type(exc).__name__}); "
                                 "if this persists, reconnect the Salla app") from None
        if response.status_code != 200:
            raise SallaAuthError(f"Salla refused the token refresh (HTTP {response.status_code}); "
                                 "reconnect the Salla app and set new tokens")
        answer = response.json()
        access, refresh = answer.get("access_token"), answer.get("refresh_token")
        if not access or not refresh:
            raise SallaAuthError("Salla's token refresh answer had no tokens")
        await asyncio.to_thread(self._store.save_tokens, access, refresh, expiry_from(answer))
        self.access_token, self._refresh_token = access, refresh
        log.info("Salla access token refreshed")
        return access
