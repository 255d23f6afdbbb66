"""The aiohttp-backed httpx transport, over real loopback sockets.

Well-behaved answers come from an aiohttp.web server; the misbehaving ones (hang up after reading
a POST, answer too late, hold the only connection) from a raw asyncio server that records the
bytes of every request it read, so "the POST was not sent again" is counted, not assumed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket

import httpx
import pytest
from aiohttp import web

from sandbox.server import LoopbackServer
from sync_core.http import retry_after_seconds, write_transient
from sync_core.transport import AiohttpTransport

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    """HTTP/1.1 on asyncio streams. ``answer(request_bytes)`` returns the raw reply, or None to
    close the connection without one. Keep-alive unless the reply says otherwise."""

    def __init__(self, answer=None) -> None:
        self.answer = answer or (lambda request: OK)
        self.requests: list[bytes] = []
        self.connections = 0

    def methods(self) -> list[str]:
        return [r.split(b" ", 1)[0].decode() for r in self.requests]

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.answer(request)
                if asyncio.iscoroutine(reply):
                    reply = await reply
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def aiohttp_client(**kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(limit=kwargs.pop("limit", 4)), **kwargs)


async def test_requests_go_out_byte_for_byte_as_httpx_sends_them():
    async def send_all(client: httpx.AsyncClient, base: str) -> None:
        await client.get(f"{base}/invoices", headers={"apikey": "k-1"}, params={
            "filter[po_number]": "SALLA-1", "q": "طلب رقم ١/٢ & co", "id": ["1", "2"], "page": 2})
        await client.post(f"{base}/invoices", headers={"apikey": "k-1"},
                          json={"Invoice": {"po_number": "SALLA-1", "notes": "ملاحظة"}})
        await client.post(f"{base}/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "a+b/c="})
        await client.post(f"{base}/raw", content=b"no content type")
        client.cookies.clear()  # cookies are httpx's business: a cleared jar sends none
        await client.get(f"{base}/after-a-cookie")

    seen = {}
    for name, client in (("httpx", httpx.AsyncClient()), ("aiohttp", aiohttp_client())):
        server = RawServer(lambda request: OK.replace(b"\r\n\r\n", b"\r\nSet-Cookie: s=1; Path=/\r\n\r\n"))
        async with server as base, client:
            base = base.replace("127.0.0.1", "localhost")  # an IP address would keep cookies out of any jar
            await send_all(client, base)
        port = base.rsplit(":", 1)[1].encode()
        seen[name] = [r.replace(b"localhost:" + port, b"localhost:PORT") for r in server.requests]
    assert len(seen["aiohttp"]) == 5
    assert seen["aiohttp"] == seen["httpx"]
    request_line = seen["aiohttp"][0].split(b"\r\n", 1)[0]
    assert request_line.startswith(b"GET /invoices?filter%5Bpo_number%5D=SALLA-1&q=%D8%B7")
    assert b"&id=1&id=2&page=2 HTTP/1.1" in request_line


@pytest.fixture
def web_server():
    async def echo(request: web.Request) -> web.Response:
        answer = web.json_response({"body": await request.json(), "apikey": request.headers.get("apikey")},
                                   status=201, headers={"X-RateLimit-Remaining": "41"})
        answer.headers.add("Set-Cookie", "a=1")
        answer.headers.add("Set-Cookie", "b=2")
        return answer

    async def limited(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "7"})

    async def compressed(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(json.dumps({"data": ["x" * 50] * 100}).encode()),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/limited", limited)
    app.router.add_get("/compressed", compressed)
    with LoopbackServer(app) as server:
        yield server.base_url


async def test_answers_come_back_as_httpx_responses(web_server):
    async with aiohttp_client() as client:
        created = await client.post(f"{web_server}/echo", json={"Invoice": {"notes": "ملاحظة"}},
                                    headers={"apikey": "k-1"})
        limited = await client.get(f"{web_server}/limited")
    assert created.status_code == 201 and created.reason_phrase == "Created"
    assert created.json() == {"body": {"Invoice": {"notes": "ملاحظة"}}, "apikey": "k-1"}
    assert created.headers["X-RateLimit-Remaining"] == "41"
    assert created.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert limited.status_code == 429 and limited.json()["error"]["message"] == "slow down"
    assert retry_after_seconds(limited) == 7.0


async def test_a_compressed_answer_is_decoded_once_as_with_httpx_own_transport(web_server):
    async with httpx.AsyncClient() as reference, aiohttp_client() as client:
        expected = await reference.get(f"{web_server}/compressed")
        response = await client.get(f"{web_server}/compressed")
    assert response.json() == expected.json() == {"data": ["x" * 50] * 100}
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == expected.headers["Content-Length"]


async def test_a_refused_connection_is_a_connect_error_a_write_may_retry():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp_client() as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post(f"http://127.0.0.1:{port}/invoices", json={})
    assert write_transient(caught.value)


@pytest.mark.parametrize("reused", [False, True], ids=["new connection", "reused keep-alive connection"])
async def test_a_post_whose_answer_is_lost_is_ambiguous_and_never_sent_again(reused):
    server = RawServer(lambda request: None if request.startswith(b"POST") else OK)
    async with server as base, aiohttp_client(limit=1) as client:
        if reused:
            assert (await client.get(f"{base}/taxes")).status_code == 200
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as caught:
            await client.post(f"{base}/invoices", json={"Invoice": {"po_number": "SALLA-1"}})
    assert not write_transient(caught.value)
    assert server.methods() == (["GET", "POST"] if reused else ["POST"])
    assert server.connections == 1


async def test_a_redirect_is_returned_not_followed():
    redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
    server = RawServer(lambda request: redirect)
    async with server as base, aiohttp_client() as client:
        response = await client.post(f"{base}/invoices", json={})
    assert response.status_code == 307
    assert server.methods() == ["POST"]


async def test_an_answer_after_the_read_timeout_is_a_read_timeout():
    async def late(request: bytes) -> bytes:
        await asyncio.sleep(0.5)
        return OK

    server = RawServer(late)
    async with server as base, aiohttp_client(timeout=httpx.Timeout(5.0, read=0.1)) as client:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await client.post(f"{base}/invoices", json={})
    assert not write_transient(caught.value)
    assert server.methods() == ["POST"]


async def test_waiting_for_a_free_connection_times_out_before_anything_is_sent():
    release = asyncio.Event()

    async def held(request: bytes) -> bytes:
        await release.wait()
        return OK

    server = RawServer(held)
    timeout = httpx.Timeout(5.0, connect=0.1, pool=0.1)
    async with server as base, aiohttp_client(limit=1, timeout=timeout) as client:
        first = asyncio.create_task(client.get(f"{base}/taxes"))
        while not server.requests:
            await asyncio.sleep(0.01)
        with pytest.raises((httpx.PoolTimeout, httpx.ConnectTimeout)) as caught:
            await client.post(f"{base}/invoices", json={})
        assert write_transient(caught.value)
        assert server.methods() == ["GET"]  # the POST never left
        release.set()
        assert (await first).status_code == 200


async def test_the_service_clients_use_it(service):
    assert isinstance(service.salla._http._transport, AiohttpTransport)
    assert isinstance(service.enerpize.api._http._transport, AiohttpTransport)


async def test_http_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(monkeypatch):
    proxy = RawServer()
    async with proxy as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with aiohttp_client() as http:
            assert (await http.get("http://salla.test/orders?reference_id=1001")).status_code == 200
            with pytest.raises(httpx.ConnectError):  # not through the proxy: straight to a closed port
                await http.get("http://localhost:9/orders")
    assert [r.split(b"\r\n", 1)[0] for r in proxy.requests] == [b"GET http://salla.test/orders?reference_id=1001 HTTP/1.1"]
