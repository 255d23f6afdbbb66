"""The Enerpize transport: one authenticated, paced, retried call of api2, its errors in words.

Reads retry on anything transient. A create is retried only where Enerpize certainly did nothing;
any other failure of a create is ``OutcomeUnknown``, which the sync settles by looking the
document's key up before anything is sent again.
"""

from __future__ import annotations

from typing import Any

import httpx

from sync_core.http import (ATTEMPTS, ApiError, OutcomeUnknown, RateLimitPacer, Unreachable,
                            retry_after_seconds, with_retries, write_transient)


class EnerpizeRejected(Exception):
    """Enerpize refused a request for a reason a person can act on; nothing was created."""


def error_message(response: httpx.Response) -> str:
    """The reason in an api2 error answer (``validation_errors`` first), or its HTTP status."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    errors = body.get("validation_errors") or body.get("errors")
    if isinstance(errors, dict) and errors:
        parts = []
        for field, message in errors.items():
            if isinstance(message, list):
                message = ", ".join(map(str, message))
            elif isinstance(message, dict):
                message = ", ".join(f"{k} {v}" for k, v in message.items())
            parts.append(f"{field}: {message}")
        return "; ".join(parts)
    return str(body.get("message") or f"HTTP {response.status_code}")


def _status_words(status: int) -> str:
    return {401: "the API key was refused", 403: "the API key has no permission for this",
            404: "not found"}.get(status, f"HTTP {status}")


class EnerpizeApi:
    """GET and POST against one tenant's api2, answers as JSON objects."""

    def __init__(self, http: httpx.AsyncClient, *, api_url: str, api_key: str,
                 pacer: RateLimitPacer | None = None, attempts: int = ATTEMPTS) -> None:
        self._http = http
        self.base = api_url.rstrip("/")
        self._headers = {"apikey": api_key, "Accept": "application/json"}
        self.pacer = pacer or RateLimitPacer()
        self._attempts = attempts

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.pacer.send(
            lambda: self._http.request(method, f"{self.base}{path}", headers=self._headers, **kwargs))
        if response.status_code == 429 or response.status_code >= 500:
            raise ApiError(response.status_code, error_message(response), retry_after=retry_after_seconds(response))
        return response

    async def get(self, path: str, params: dict[str, Any] | None = None) -> dict:
        try:
            response = await with_retries(lambda: self._send("GET", path, params=params), attempts=self._attempts)
        except ApiError as exc:
            raise Unreachable(f"Enerpize is not answering (HTTP {exc.status}: {exc.message})") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"Enerpize could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise EnerpizeRejected(f"Enerpize refused {path}: {_status_words(response.status_code)}"
                                   f" ({error_message(response)})")
        return self._json(response, path)

    async def post(self, path: str, body: dict, what: str) -> str:
        """Create a record; return its id. Lost answers become OutcomeUnknown, never a blind retry."""
        try:
            response = await with_retries(lambda: self._send("POST", path, json=body),
                                          attempts=self._attempts, transient=write_transient)
        except ApiError as exc:
            if exc.status == 429:
                raise Unreachable("Enerpize kept answering 429 (rate limited)") from None
            raise OutcomeUnknown(f"Enerpize answered HTTP {exc.status} while creating the {what}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unreachable(f"Enerpize could not be reached ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"the answer from Enerpize was lost while creating the {what} "
                                 f"({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise EnerpizeRejected(f"Enerpize rejected the {what}: {error_message(response)}")
        answer = self._json(response, path)
        record_id = answer.get("id")
        if record_id in (None, ""):
            raise OutcomeUnknown(f"Enerpize accepted the {what} but did not say its id")
        return str(record_id)  # documented as a string in examples, an integer in the schema

    @staticmethod
    def _json(response: httpx.Response, path: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise EnerpizeRejected(f"Enerpize answered {path} with something that is not JSON") from None
        if not isinstance(body, dict):
            raise EnerpizeRejected(f"Enerpize answered {path} with something unexpected")
        return body
