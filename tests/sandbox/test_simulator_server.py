"""Quick checks of the simulators' loopback server itself: start, stop and threads."""

from __future__ import annotations

import threading
import time

import httpx
from simulator_helpers import _invoice_body, enerpize_client

from sandbox import EnerpizeSimulator, LoopbackServer, SallaSimulator


def test_server_starts_and_stops_fast_without_leaking_threads():
    before = threading.active_count()
    started = time.perf_counter()
    sim = SallaSimulator()
    url = sim.start()
    assert url.startswith("http://127.0.0.1:")
    sim.stop()
    sim.start()  # a stopped simulator can start again (state kept)
    sim.stop()
    assert time.perf_counter() - started < 0.5
    assert threading.active_count() == before


def test_stop_is_fast_even_with_a_hanging_request():
    sim = EnerpizeSimulator(hang_seconds=30)
    sim.start()
    client_id = sim.add_client(business_name="x")["id"]
    sim.lose_next_create("invoices", mode="hang")
    errors: list[Exception] = []

    def post() -> None:
        try:
            with enerpize_client(sim) as c:
                c.post("/invoices", json=_invoice_body(client_id, "SALLA-1"))
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=post)
    worker.start()
    while not sim.documents["invoices"]:
        time.sleep(0.005)
    started = time.perf_counter()
    sim.stop()
    worker.join(2)
    assert time.perf_counter() - started < 0.2
    assert errors and not worker.is_alive()


def test_loopback_server_call_runs_in_the_server_thread():
    from aiohttp import web

    with LoopbackServer(web.Application) as server:
        assert server.call(threading.current_thread).name.startswith("loopback-")
