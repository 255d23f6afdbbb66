"""What both simulators share: the server thread, the call log, latency, faults, rate limit.

Every request goes through one middleware, in this order:
record the call -> sleep ``latency`` -> armed "drop" fault -> 403 while the store is blocked ->
rate-limit slot -> armed "fail" fault -> 429 when the rate limit refused it -> authentication ->
the handler. When a rate limit is configured (``sandbox.ratelimit``: Salla's window and leak, or
a leaky bucket), every answer under the API prefix that took a slot carries the
``X-RateLimit-*`` headers; error answers under it count towards the abuse block
(``sandbox.blocking``).
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

from sandbox.blocking import BLOCKED_MESSAGE, ErrorBlock
from sandbox.faults import DROP, FAIL, Fault, FaultPlan
from sandbox.ratelimit import Admission, LeakyBucket, RateModel, rate_model as plan_model
from sandbox.server import LoopbackServer, LoopbackService

log = logging.getLogger("sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Call(NamedTuple):
    """One request as the simulator saw it (the path includes the API prefix).

    ``body``: a JSON request's body, decoded (the text as sent when it is not valid JSON); None
    when the request has no body or another content type.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any = None


async def _recorded_body(request: web.Request) -> Any:
    """The JSON body of ``request`` for the call log (aiohttp caches it: handlers still read it)."""
    if not request.can_read_body or request.content_type != "application/json":
        return None
    raw = await request.read()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


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
        rate_model: RateModel | str | None = None,
        block_after_errors: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.latency = latency
        self.rate_limit = _rate_limit(rate_limit_per_minute, bucket, rate_model)
        self.block = ErrorBlock(*block_after_errors) if block_after_errors is not None else ErrorBlock()
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

    def block_for(self, seconds: float) -> None:
        """Every API call answers 403 "blocked" for ``seconds`` (Salla's block after many errors)."""
        self.block.block_for(seconds)

    @property
    def bucket(self) -> RateModel | None:
        """The rate limit (the name predates the window model)."""
        return self.rate_limit

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
        body = await _recorded_body(request)
        with self._lock:
            self.calls.append(Call(method, path, dict(request.query), body))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.faults.take(DROP, method, path):
            return drop_connection(request)

        in_api = path.startswith(self.api_prefix)
        if in_api and self.block.blocked():
            return self._error(403, BLOCKED_MESSAGE)

        admission: Admission | None = None
        if self.rate_limit is not None and in_api:
            admission = self.rate_limit.take()

        response = await self._answer(request, handler, admission)
        if admission is not None:
            response.headers.update(
                {k: v for k, v in admission.headers().items() if k not in response.headers}
            )
        if in_api:
            self.block.record(response.status)
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


def _rate_limit(per_minute: int | None, bucket: tuple[int, float] | None,
                model: RateModel | str | None) -> RateModel | None:
    """The simulator's rate limit: a model object, a bucket's (capacity, refill a second), or a plan
    (requests a minute) as ``rate_model="bucket"`` (the default) or ``"window"``."""
    if model is not None and not isinstance(model, str):
        return model
    if bucket is not None:
        return LeakyBucket(*bucket)
    if per_minute is not None:
        return plan_model(model or "bucket", per_minute)
    if model is not None:
        raise ValueError("rate_model as a name needs rate_limit_per_minute")
    return None
