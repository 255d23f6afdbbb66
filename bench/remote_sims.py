"""The Salla and Enerpize simulators in a child process of the bench, so they do not share its GIL.

The bench measures acknowledgement latency with an aiohttp client in its own process; simulators
serving a run in that process (threads, same GIL) would add their CPU to every figure it takes.
Here they run in a fresh interpreter started with multiprocessing's "spawn" context, and the bench
talks to them over one pipe:

    with RemoteSims(workload.store, plan=720, latency=0.12, rate_model="window") as sims:
        bot_env(slack, sims.salla, sims.enerpize, database_url)  # URLs and credentials, as the child started
        sims.salla.calls()              # [Call(method, path, query), ...]: one round trip over the pipe
        sims.salla.throttled_count()    # 429s the rate limit answered: one round trip
        sims.enerpize.call_count()      # one round trip

Every read of the simulators' state is a method (a request over the pipe and its answer), never a
property. The store is sent once at start (a copy: what the child's Salla simulator serves).

Stopping: ``close()`` (``__exit__``) asks the child to stop its servers and waits for it; a child that
does not exit is terminated, then killed. The child ignores SIGINT (Ctrl-C reaches the whole process
group; the bench's ``__exit__`` stops it in order) and stops by itself when the pipe closes, i.e.
when the bench process is gone however it died, so no simulator outlives the bench.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Self

from sandbox.enerpize_books import INVOICES
from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.salla_store import SallaStore
from sandbox.simulator import Call

START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Endpoints:
    """What a bot needs to reach the child's simulators (``sandbox.bot_process.bot_env`` reads it)."""

    salla_api_url: str
    salla_token_url: str
    salla_access_token: str
    salla_refresh_token: str
    salla_client_id: str
    salla_client_secret: str
    enerpize_api_url: str
    enerpize_api_key: str


class RemoteSalla:
    """The child's ``SallaSimulator`` as the bench uses it. The URLs and credentials are those it
    started with (the simulator rotates the tokens on a refresh; the bot's environment needs the first)."""

    def __init__(self, sims: RemoteSims, endpoints: Endpoints) -> None:
        self._sims = sims
        self.api_url = endpoints.salla_api_url
        self.token_url = endpoints.salla_token_url
        self.access_token = endpoints.salla_access_token
        self.refresh_token = endpoints.salla_refresh_token
        self.client_id = endpoints.salla_client_id
        self.client_secret = endpoints.salla_client_secret

    def calls(self) -> list[Call]:
        """A copy of the simulator's call log (``SallaSimulator.calls``), throttled calls included."""
        return self._sims.request("salla.calls")

    def throttled_count(self) -> int:
        """``SallaSimulator.throttled_count``: calls answered 429 by the rate limit."""
        return self._sims.request("salla.throttled_count")

    def set_invoices_per_page(self, count: int) -> None:
        """The most invoices a page of the invoice list holds (Salla's lists: 60)."""
        self._sims.request("salla.per_page", count)

    def reset_counters(self) -> None:
        self._sims.request("salla.reset")


class RemoteEnerpize:
    """The child's ``EnerpizeSimulator`` as the bench uses it."""

    def __init__(self, sims: RemoteSims, endpoints: Endpoints) -> None:
        self._sims = sims
        self.api_url = endpoints.enerpize_api_url
        self.api_key = endpoints.enerpize_api_key

    def call_count(self, method: str | None = None, path_contains: str | None = None) -> int:
        """``EnerpizeSimulator.call_count``."""
        return self._sims.request("enerpize.call_count", method, path_contains)

    def add_invoices(self, po_numbers: list[str], date: str) -> None:
        """Invoices made earlier under these ``po_number`` keys (one client, one line each)."""
        self._sims.request("enerpize.add_invoices", po_numbers, date)

    def reset_counters(self) -> None:
        self._sims.request("enerpize.reset")


class RemoteSims:
    """Starts the child on ``start()`` / ``__enter__``; ``salla`` and ``enerpize`` exist from then on."""

    def __init__(self, store: SallaStore, *, plan: int | None, latency: float, rate_model: str = "bucket") -> None:
        self._store = pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL)
        self.plan = plan
        self.latency = latency
        self.rate_model = rate_model  # Salla's plan as a leaky bucket, or as its documented window and leak
        self._process: Any = None  # multiprocessing's SpawnProcess
        self._conn: Connection | None = None
        self._unanswered: str | None = None  # a request that timed out: its late answer is still in the pipe
        self._salla: RemoteSalla | None = None
        self._enerpize: RemoteEnerpize | None = None

    @property
    def salla(self) -> RemoteSalla:
        if self._salla is None:
            raise RuntimeError("the simulators are not started")
        return self._salla

    @property
    def enerpize(self) -> RemoteEnerpize:
        if self._enerpize is None:
            raise RuntimeError("the simulators are not started")
        return self._enerpize

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        if self._process is not None:
            raise RuntimeError("already started")
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._conn = ours
        self._process = context.Process(target=_child,
                                        args=(theirs, self._store, self.plan, self.latency, self.rate_model),
                                        name="bench-salla-enerpize", daemon=True)
        try:
            try:
                self._process.start()
            finally:
                theirs.close()  # only the child holds its end now: its death is an EOF here
            endpoints = self._answer("start", timeout)
        except BaseException:
            self.close()
            raise
        self._salla = RemoteSalla(self, endpoints)
        self._enerpize = RemoteEnerpize(self, endpoints)
        return self

    def quiet(self) -> None:
        """Silence the child's ``sandbox`` logger: a killed bot leaves requests half-sent, and the
        simulators need not say so. Best effort: a child that is already gone has nothing to say."""
        try:
            self.request("quiet", timeout=STOP_TIMEOUT)
        except (RuntimeError, OSError, EOFError):  # TimeoutError is an OSError
            pass

    def close(self) -> None:
        """Stop the child's servers and the child; idempotent. Terminates, then kills, a child that
        does not exit within ``STOP_TIMEOUT`` seconds."""
        process, conn = self._process, self._conn
        self._process, self._conn, self._salla, self._enerpize = None, None, None, None
        self._unanswered = None
        if process is None:
            return
        try:
            if conn is not None:
                try:
                    conn.send(("stop", ()))
                except OSError:  # the child is gone already
                    pass
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
        finally:
            if conn is not None:
                conn.close()  # even if interrupted above: the child stops on this EOF

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the pipe ----------------------------------------------------------------------------

    def request(self, op: str, *args: Any, timeout: float = REQUEST_TIMEOUT) -> Any:
        """Send one request to the child and return its answer (one at a time: not thread-safe)."""
        if self._conn is None:
            raise RuntimeError("the simulators are not started")
        if self._unanswered is not None:
            raise RuntimeError(f"the simulators' process never answered {self._unanswered!r}")
        self._conn.send((op, args))
        return self._answer(op, timeout)

    def _answer(self, op: str, timeout: float) -> Any:
        assert self._conn is not None and self._process is not None
        if not self._conn.poll(timeout):
            self._unanswered = op
            raise TimeoutError(f"the simulators' process did not answer {op!r} within {timeout:.0f} s")
        try:
            status, value = self._conn.recv()
        except EOFError:
            self._process.join(1)
            raise RuntimeError(f"the simulators' process exited (code {self._process.exitcode}) "
                               f"before answering {op!r}") from None
        if status != "ok":
            raise RuntimeError(f"the simulators' process failed on {op!r}:\n{value}")
        return value


# -- the child ---------------------------------------------------------------------------------

def _child(conn: Connection, store: bytes, plan: int | None, latency: float, rate_model: str) -> None:
    """The child's main: start both simulators, send their endpoints, answer requests until "stop"
    or until the pipe closes (the bench is gone), then stop both simulators."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    salla = enerpize = None
    try:
        try:
            salla = SallaSimulator(store=pickle.loads(store), latency=latency, rate_limit_per_minute=plan,
                                   rate_model=rate_model if plan is not None else None)
            enerpize = EnerpizeSimulator(latency=latency)
            salla.start()
            enerpize.start()
        except BaseException:
            conn.send(("error", traceback.format_exc()))
            return
        conn.send(("ok", Endpoints(salla.api_url, salla.token_url, salla.access_token, salla.refresh_token,
                                   salla.client_id, salla.client_secret, enerpize.api_url, enerpize.api_key)))

        def quiet() -> None:
            logging.getLogger("sandbox").setLevel(logging.CRITICAL)

        def add_invoices(po_numbers: list[str], date: str) -> None:
            client = enerpize.add_client(client_number="salla-guest", business_name="Salla guest")
            for po_number in po_numbers:
                enerpize.books.add_document(INVOICES, {
                    "Invoice": {"client_id": client["id"], "date": date, "po_number": po_number},
                    "InvoiceItem": [{"item": "x", "unit_price": 10, "quantity": 1}]})

        def per_page(count: int) -> None:
            salla.invoices_per_page = count

        handlers = {
            "salla.calls": lambda: list(salla.calls),
            "salla.per_page": per_page,
            "salla.reset": salla.reset_counters,
            "enerpize.add_invoices": add_invoices,
            "enerpize.reset": enerpize.reset_counters,
            "salla.throttled_count": lambda: salla.throttled_count,
            "enerpize.call_count": enerpize.call_count,
            "quiet": quiet,
        }
        while True:
            try:
                op, args = conn.recv()
            except EOFError:
                break
            if op == "stop":
                break
            try:
                answer = ("ok", handlers[op](*args))
            except Exception:
                answer = ("error", traceback.format_exc())
            try:
                conn.send(answer)
            except OSError:
                break
    finally:
        logging.getLogger("sandbox").setLevel(logging.CRITICAL)  # the bot may be killed by now
        for simulator in (enerpize, salla):
            if simulator is not None:
                simulator.stop()
        conn.close()
