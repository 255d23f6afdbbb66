"""Named mutexes shared by every process that uses one database.

PostgreSQL: a session-level advisory lock (``pg_advisory_lock``) held on a dedicated connection;
it is scoped to the database and dies with the session, so a crashed holder never leaves it
behind. SQLite: an exclusive ``flock`` on a file next to the database file (not a transaction:
the holder must still be able to write through its other connections, e.g. ``save_tokens``
while holding the token lock). An in-memory SQLite database lives in one process, so a thread
lock is enough there.

A lock object works both as ``with lock:`` and as ``async with lock:``; the async form waits in a
worker thread so the event loop keeps running while another process holds the lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
import weakref
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

try:  # POSIX; elsewhere a process-local lock is all we can offer for SQLite
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_POLL = 0.05  # seconds between tries on a lock file


class LockTimeout(TimeoutError):
    """The lock was still held by someone else when the timeout ran out."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name (``salla-sync:<name>``)."""
    digest = hashlib.sha256(f"salla-sync:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_thread_locks: weakref.WeakKeyDictionary[Engine, dict[str, threading.Lock]] = weakref.WeakKeyDictionary()
_thread_locks_guard = threading.Lock()


def _thread_lock(engine: Engine, name: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(engine, {}).setdefault(name, threading.Lock())


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine; None for an in-memory database."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return os.path.abspath(database)


class DatabaseLock:
    """One named lock on one database. Not re-entrant; make a new object per use."""

    def __init__(self, engine: Engine, name: str, *, timeout: float | None = None) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self.timeout = timeout
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._tlock: threading.Lock | None = None
        self.held = False

    # --- acquire / release -------------------------------------------------------------------

    def acquire(self) -> None:
        if self.held:
            raise RuntimeError(f"the {self.name} lock is already held by this object")
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            self._acquire_pg()
        elif dialect == "sqlite" and sqlite_file(self.engine) and fcntl is not None:
            self._acquire_file(f"{sqlite_file(self.engine)}.{self.name}.lock")
        else:  # in-memory SQLite (one process) or a backend without a lock of its own
            lock = _thread_lock(self.engine, self.name)
            if not lock.acquire(timeout=-1 if self.timeout is None else max(self.timeout, 0)):
                raise LockTimeout(f"the {self.name} lock is held by someone else")
            self._tlock = lock
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if conn.in_transaction():
                    conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                conn.commit()
                conn.close()
            except Exception:  # the session is gone or broken: the lock went with it
                log.warning("could not release the %s lock cleanly; dropping its connection", self.name)
                conn.invalidate()
                conn.close()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        if self._tlock is not None:
            lock, self._tlock = self._tlock, None
            lock.release()

    def _acquire_pg(self) -> None:
        conn = self.engine.connect()
        try:
            if self.timeout is not None and self.timeout <= 0:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
                conn.commit()
                if not got:
                    raise LockTimeout(f"the {self.name} lock is held by someone else")
            else:
                # lock_timeout bounds the wait; set for this transaction only (0 = wait for ever).
                wait_ms = 0 if self.timeout is None else max(1, int(self.timeout * 1000))
                conn.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{wait_ms}ms"})
                try:
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
                except DBAPIError as exc:
                    if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                        raise LockTimeout(f"the {self.name} lock was still held after {self.timeout:g}s") from None
                    raise
                conn.commit()  # the advisory lock is session-level: it outlives the transaction
        except BaseException:
            try:
                conn.rollback()
            finally:
                conn.close()
            raise
        self._conn = conn

    def _acquire_file(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if self.timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + self.timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise LockTimeout(f"the {self.name} lock was still held after {self.timeout:g}s") from None
                        time.sleep(_POLL)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    # --- context managers ----------------------------------------------------------------------

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    async def __aenter__(self) -> DatabaseLock:
        waiting = asyncio.ensure_future(asyncio.to_thread(self.acquire))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The worker thread may still get the lock after we gave up: hand it back then.
            waiting.add_done_callback(lambda f: f.cancelled() or f.exception() is not None
                                      or threading.Thread(target=self.release, daemon=True).start())
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.release)
