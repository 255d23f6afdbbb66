"""An httpx transport that sends through one aiohttp session: httpx stays the API, aiohttp the wire.

Why: httpcore 1.0.9's pool checks every pooled connection on every request
(``AsyncConnectionPool._assign_requests_to_connections`` -> ``has_expired`` ->
``is_socket_readable``). Profiled at 2.6-2.9 ms of client CPU per request at 8+ concurrent
requests, against ~0.8 ms with aiohttp. Client CPU per request over 2000 GETs to a loopback
aiohttp server in another process (three runs, shared 2-core machine, httpx.AsyncClient on top in
both cases): httpx's own transport 1.8-2.5 ms at 8 concurrent and 4.0-5.1 ms at 32; this one
0.95-1.1 ms and 0.8-1.2 ms (of which httpx's client itself is about half).

Everything above the wire is unchanged: ``response.status_code``/``.headers``/``.json()``,
``httpx.Timeout`` and httpx's exceptions. The request goes out as httpx built it (method, the URL
exactly as httpx encoded it, its headers in order, its body bytes); aiohttp adds no header of its
own, follows no redirect and keeps no cookies. The response body is handed over still encoded
(``auto_decompress=False``) and httpx decodes it as it does with its own transport.

Errors, the part that matters: ``sync_core.http.write_transient`` sends a POST *again* after
ConnectError, ConnectTimeout or PoolTimeout, so only failures that happen while aiohttp is still
getting a connection (``BaseConnector.connect``: waiting for a free slot, DNS, TCP, TLS), before
any byte of the request is written, become those. Everything later is ambiguous for a write:

    aiohttp 3.14 (checked in the installed source)        httpx
    ConnectionTimeoutError (pool wait or connect timed out) ConnectTimeout
    ClientConnectorError and subclasses (refused, DNS,     ConnectError
      TLS handshake and certificate, proxy)
    SocketTimeoutError (sock_read), bare TimeoutError       ReadTimeout
    ServerDisconnectedError (also a reused keep-alive       RemoteProtocolError
      connection), ClientPayloadError, ClientResponseError
    ClientConnectionResetError (writing to a closed socket) WriteError
    ClientOSError after connecting, anything else           ReadError

aiohttp raises ConnectionTimeoutError only around ``connector.connect`` (client.py,
``_connect_and_send_request``) and ClientConnectorError only from the connector's connection
setup. aiohttp does retry a request once on ClientOSError/ServerDisconnectedError, but only when
``retry_persistent_connection = self._retry_connection and method in IDEMPOTENT_METHODS``
(client.py; IDEMPOTENT_METHODS = GET, HEAD, OPTIONS, TRACE, PUT, DELETE), so a POST is never
sent twice by this transport (PUT and DELETE are in that set: a write sent with either would need
that retry turned off first; the sync writes only with POST). Timeouts map per request: httpx ``connect`` -> ``sock_connect``,
``pool`` + ``connect`` -> ``connect`` (aiohttp's covers the wait for a slot and the connecting),
``read`` -> ``sock_read``. aiohttp has no write timeout (its read timer starts once the body is
written), so a generous ``total`` backstops a peer that never reads.
"""

from __future__ import annotations

import asyncio
import urllib.request
from functools import lru_cache

import aiohttp
import httpx
from yarl import URL

from sync_core.metrics import trace_config

KEEPALIVE_SECONDS = 5.0  # httpx's default keepalive_expiry: an idle connection is not reused after this
TOTAL_FACTOR = 3  # the backstop total: every phase taking its whole timeout, three times over

# Everything aiohttp would add on its own; httpx already sent what it meant to.
_NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


@lru_cache(maxsize=64)
def _client_timeout(connect: float | None, read: float | None, write: float | None,
                    pool: float | None) -> aiohttp.ClientTimeout:
    parts = (connect, read, write, pool)
    return aiohttp.ClientTimeout(
        total=None if None in parts else TOTAL_FACTOR * sum(parts),
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect, sock_read=read)


@lru_cache(maxsize=256)
def _bypassed(host: str) -> bool:
    return bool(urllib.request.proxy_bypass_environment(host))


def _httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    # Order matters: the aiohttp timeouts are also connection errors and OSErrors.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind: type[httpx.TransportError] = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, asyncio.TimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientConnectionResetError):
        kind = httpx.WriteError
    else:
        kind = httpx.ReadError
    return kind(f"{type(exc).__name__}: {exc}", request=request)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one ``aiohttp.ClientSession`` of at most ``limit`` connections.

    The session is opened on the first request (it belongs to the running event loop) and
    closed by ``aclose()``, which ``httpx.AsyncClient`` calls on exit.
    """

    def __init__(self, *, limit: int, api: str | None = None) -> None:
        self._limit = limit
        self._api = api  # counted and timed as this API in the metrics (sync_core/metrics.py)
        self._session: aiohttp.ClientSession | None = None
        # The CA bundle httpx would use. Made here, at start: loading it takes ~70 ms of CPU, which
        # must not land on the event loop while it is answering Slack.
        self._ssl = httpx.create_ssl_context()
        # HTTP(S)_PROXY / NO_PROXY, read once as httpx does (aiohttp's trust_env would read the
        # environment and ~/.netrc again on every request: a third of the client's CPU, measured).
        self._proxies = urllib.request.getproxies_environment()

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=KEEPALIVE_SECONDS, ssl=self._ssl)
        traces = [trace_config(self._api)] if self._api else []
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     auto_decompress=False, trust_env=False,  # proxies: _proxy_for
                                     trace_configs=traces)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            async with self._session.request(
                    request.method, URL(str(request.url), encoded=True),
                    headers=[(k.decode(), v.decode()) for k, v in request.headers.raw],
                    data=body or None, skip_auto_headers=_NO_AUTO_HEADERS, allow_redirects=False,
                    proxy=self._proxy_for(request.url),
                    timeout=_client_timeout(timeout.get("connect"), timeout.get("read"),
                                            timeout.get("write"), timeout.get("pool"))) as response:
                content = await response.read()
        except (aiohttp.ClientError, OSError) as exc:  # asyncio.TimeoutError is an OSError
            raise _httpx_error(exc, request) from exc
        return httpx.Response(response.status, headers=response.raw_headers, stream=httpx.ByteStream(content),
                              extensions={"http_version": f"HTTP/{response.version.major}.{response.version.minor}"
                                          .encode(), "reason_phrase": (response.reason or "").encode()})

    def _proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        return None if proxy is None or _bypassed(url.host) else proxy

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
