"""The Salla token refresh lock: one holder at a time across threads and processes, on both backends."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from sync_core.store import LockTimeout, Store


@pytest.fixture
def stores(database_url):
    """Two stores on one database, as two processes would have (separate engines and pools)."""
    a, b = Store(database_url), Store(database_url)
    yield a, b
    a.close()
    b.close()


def test_a_second_holder_waits_and_times_out(stores):
    a, b = stores
    with a.token_refresh_lock():
        started = time.monotonic()
        with pytest.raises(LockTimeout), b.token_refresh_lock(timeout=0.3):
            pass
        assert time.monotonic() - started >= 0.25
        with pytest.raises(LockTimeout):
            b.token_refresh_lock(timeout=0).acquire()
        with pytest.raises(LockTimeout):  # the same store, another caller: excluded as well
            a.token_refresh_lock(timeout=0).acquire()
    with b.token_refresh_lock(timeout=1):
        pass


def test_the_waiter_gets_it_as_soon_as_it_is_released(stores):
    a, b = stores
    order = []
    held = threading.Event()

    def first():
        with a.token_refresh_lock():
            held.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with b.token_refresh_lock(timeout=10):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


def test_tokens_can_be_written_and_read_while_it_is_held(stores):
    a, b = stores
    a.save_tokens("access-0", "refresh-0", None)
    with a.token_refresh_lock():
        b.save_tokens("access-1", "refresh-1", None)  # another writer is not blocked
        a.save_tokens("access-2", "refresh-2", None)  # nor is the holder's own store
        row = b.load_tokens_row()
        assert (row.access_token, row.refresh_token) == ("access-2", "refresh-2")
    assert a.load_tokens_row().access_token == "access-2"


def test_load_tokens_row_is_none_before_any_token(stores):
    assert stores[0].load_tokens_row() is None


def test_only_one_of_many_concurrent_refreshers_refreshes(database_url):
    """The intended use: take the lock, re-read the row, refresh only if nobody did meanwhile."""
    stores = [Store(database_url) for _ in range(4)]
    stores[0].save_tokens("old-access", "old-refresh", None)
    refreshed = []
    barrier = threading.Barrier(len(stores))

    def refresher(i, store):
        barrier.wait()
        with store.token_refresh_lock(timeout=30):
            row = store.load_tokens_row()
            if row.access_token != "old-access":
                return  # another process refreshed while we waited: use its tokens
            time.sleep(0.1)  # the HTTP call to Salla
            store.save_tokens(f"new-access-{i}", f"new-refresh-{i}", None)
            refreshed.append(i)

    threads = [threading.Thread(target=refresher, args=(i, s)) for i, s in enumerate(stores)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(refreshed) == 1
        assert stores[1].load_tokens_row().access_token == f"new-access-{refreshed[0]}"
    finally:
        for s in stores:
            s.close()


async def test_async_waiting_does_not_block_the_event_loop(stores):
    a, b = stores
    a_holds = a.token_refresh_lock()
    a_holds.acquire()
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    asyncio.get_running_loop().call_later(0.3, a_holds.release)
    try:
        async with b.token_refresh_lock(timeout=10) as lock:
            assert lock.held
    finally:
        ticking.cancel()
    assert ticks >= 10  # the loop ran while we waited


async def test_an_async_waiter_cancelled_while_waiting_does_not_keep_the_lock(stores):
    a, b = stores
    holder = a.token_refresh_lock()
    holder.acquire()
    waiting = asyncio.create_task(b.token_refresh_lock(timeout=10).__aenter__())
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    holder.release()  # the cancelled waiter's thread gets it now, then hands it back
    await asyncio.sleep(0.5)
    async with a.token_refresh_lock(timeout=5):
        pass


HOLDER = """
import sys
from sync_core.store import Store
store = Store(sys.argv[1])
with store.token_refresh_lock():
    store.save_tokens("from-the-holder", "r", None)  # writing while holding it works
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def _holder(database_url):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, database_url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd())
    line = proc.stdout.readline()
    assert line.strip() == "held", proc.stderr.read()
    return proc


def test_another_process_holding_it_excludes_us_until_it_releases(stores, database_url):
    a, _ = stores
    proc = _holder(database_url)
    try:
        with pytest.raises(LockTimeout), a.token_refresh_lock(timeout=0.5):
            pass
        a.save_tokens("from-us", "r", None)  # we can still write meanwhile
        proc.stdin.write("\n")
        proc.stdin.flush()
        with a.token_refresh_lock(timeout=10):
            assert a.load_tokens_row().access_token == "from-us"
        assert proc.wait(30) == 0
    finally:
        proc.kill()


def test_a_holder_that_dies_leaves_no_lock_behind(stores, database_url):
    a, _ = stores
    proc = _holder(database_url)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    with a.token_refresh_lock(timeout=10):  # PostgreSQL ends the session; the kernel drops the flock
        pass
