"""What both simulators share: the server thread, the call log, latency, faults, rate limit.

Every request goes through one middleware, in this order:
record the call -> sleep ``latency`` -> armed "drop" fault -> rate-limit slot ->
armed "fail" fault -> 429 when the bucket was empty -> authentication -> the handler.
When a bucket is configured, every answer under the API prefix carries the
``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web

from sandbox.faults import DROP, FAIL, Fault, FaultPlan
from sandbox.ratelimit import Admission, LeakyBucket
from sandbox.server import LoopbackServer, LoopbackService

log = logging.getLogger("sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Call(NamedTuple):
    """One request as the simulator saw it (the path includes the API prefix)."""

    method: str
    path: str
    query: dict[str, str]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def drop_connection(request: web.Request) -> web.Response:
    """Close the connection without answering; the client sees a protocol error."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)  # never reaches the client


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Simulator(LoopbackService):
    """Base class; subclasses set ``api_prefix`` and implement the three hooks at the bottom."""

    api_prefix = ""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit_per_minute: int | None = None,
        bucket: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.latency = latency
        if bucket is not None:
            self.bucket: LeakyBucket | None = LeakyBucket(*bucket)
        elif rate_limit_per_minute is not None:
            self.bucket = LeakyBucket.per_minute(rate_limit_per_minute)
        else:
            self.bucket = None
        self.faults = FaultPlan()
        self.calls: list[Call] = []
        self.failed: list[Call] = []  # the calls an armed "fail" fault answered
        self.throttled_count = 0
        self.base_url: str | None = None
        self._lock = threading.RLock()  # guards simulator state shared with the test thread
        self._server = LoopbackServer(self._build_app, host=host, port=port)

    @property
    def server(self) -> LoopbackServer:
        return self._server

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, status: int = 500, count: int = 1, path_contains: str | None = None, *,
                  method: str | None = None, retry_after: int = 1) -> None:
        """The next ``count`` matching calls answer ``status`` with the error envelope.

        429 and 503 answers carry ``Retry-After: retry_after``.
        """
        self.faults.arm(Fault(FAIL, count, status=status, path_contains=path_contains,
                              method=method, retry_after=retry_after))

    def drop_next(self, count: int = 1, path_contains: str | None = None, *,
                  method: str | None = None) -> None:
        """The next ``count`` matching calls get their connection closed, without an answer."""
        self.faults.arm(Fault(DROP, count, path_contains=path_contains, method=method))

    # -- observability -----------------------------------------------------------------------

    def call_count(self, method: str | None = None, path_contains: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for call in self.calls
                if (method is None or call.method == method.upper())
                and (path_contains is None or path_contains in call.path)
            )

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failed.clear()
            self.throttled_count = 0

    # -- the application ---------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        method, path = request.method, request.path
        with self._lock:
            self.calls.append(Call(method, path, dict(request.query)))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.faults.take(DROP, method, path):
            return drop_connection(request)

        admission: Admission | None = None
        if self.bucket is not None and path.startswith(self.api_prefix):
            admission = self.bucket.take()

        response = await self._answer(request, handler, admission)
        if admission is not None:
            response.headers.update(
                {k: v for k, v in admission.headers().items() if k not in response.headers}
            )
        return response

    async def _answer(self, request: web.Request, handler: Handler,
                      admission: Admission | None) -> web.StreamResponse:
        fault = self.faults.take(FAIL, request.method, request.path)
        if fault is not None:
            with self._lock:
                self.failed.append(Call(request.method, request.path, dict(request.query)))
            headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else None
            return self._error(fault.status, status_phrase(fault.status), headers=headers)
        if admission is not None and not admission.allowed:
            with self._lock:
                self.throttled_count += 1
            return self._error(429, "Too Many Requests", headers=admission.headers())
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        try:
            return await handler(request)
        except web.HTTPException as exc:  # unknown route, wrong method
            return self._error(exc.status, exc.reason)
        except Exception:
            log.exception("simulator handler failed on %s %s", request.method, request.path)
            return self._error(500, "Internal Server Error")

    # -- hooks for subclasses ----------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _error(self, status: int, message: str, *, headers: dict[str, str] | None = None,
               **extra: Any) -> web.Response:
        """An error answer in the API's own envelope."""
        raise NotImplementedError

    def _authenticate(self, request: web.Request) -> web.Response | None:
        """None when the request may proceed, else the 401 answer."""
        raise NotImplementedError
