"""Run an aiohttp application on 127.0.0.1 in a background thread with its own event loop.

Tests, the demo and the benchmark talk to the simulators over real HTTP, from whatever thread
or event loop they like; the server never shares a loop with the code under test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web

_START_TIMEOUT = 5.0


class LoopbackServer:
    """An ``aiohttp.web.Application`` served on ``127.0.0.1`` (port 0 = any free port).

    ``app`` is an application or a function that builds one; pass a function to be able to
    start the server again after ``stop()`` (an application is bound to one event loop).
    ``start()`` returns the base URL (``http://127.0.0.1:PORT``); ``stop()`` closes every
    connection, cancels handlers still running (a "hanging" fault, for example) after
    ``shutdown_timeout`` seconds, and joins the thread. Usable as a context manager.
    """

    def __init__(self, app: web.Application | Callable[[], web.Application], *,
                 host: str = "127.0.0.1", port: int = 0, shutdown_timeout: float = 0.01) -> None:
        self.app = app
        self.host = host
        self.port = port
        # aiohttp reads a timeout of 0 as "wait forever", so keep it strictly positive.
        self.shutdown_timeout = max(shutdown_timeout, 0.001)
        self.base_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"loopback-{id(self):x}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("loopback server did not start in time")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise RuntimeError(f"loopback server failed to start: {self._error}") from self._error
        assert self.base_url is not None
        return self.base_url

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._thread = None
        self._loop = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- running code inside the server's loop -----------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 5.0) -> Any:
        """Run ``fn(*args)`` in the server thread and return its result.

        ``fn`` may be a plain function or a coroutine function; either way the caller blocks
        until it is done. Must not be called from the server thread itself.
        """
        if self._loop is None:
            raise RuntimeError("server is not running")

        async def invoke() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        app = self.app if isinstance(self.app, web.Application) else self.app()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = self._runner.addresses
        port = sockets[0][1]
        self.base_url = f"http://{self.host}:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Anything still pending (a handler that ignored cancellation, a stray task) goes too.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class LoopbackService:
    """What every simulator shares: its app served by a ``LoopbackServer`` (set ``_server`` in
    ``__init__``), ``start``/``stop`` or ``with``, and its ``api_url`` (``base_url`` + ``api_prefix``)."""

    api_prefix = ""
    _server: LoopbackServer
    base_url: str | None = None

    def start(self) -> str:
        self.base_url = self._server.start()
        return self.base_url

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        if self.base_url is None:
            raise RuntimeError("simulator is not started")
        return self.base_url + self.api_prefix
