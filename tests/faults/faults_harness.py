"""Fault tests with real processes: the bot as ``salla-sync-bot --http`` subprocesses (killed with
SIGKILL, run as replicas) against the Salla, Enerpize and Slack simulators and one shared database.

Everything is driven as Slack drives it (signed slash command, then the modal's submission, sent by
``sandbox.slack_driver``) and checked from the outside: the database (runs, the Invoice Sync Log,
the bot's threads), the Enerpize simulator (documents by ``po_number``) and the Slack simulator
(the run's thread).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.threads import SlackThread, ThreadStore
from sandbox import INVOICES, REFUND_RECEIPTS, EnerpizeSimulator, SallaSimulator, SallaStore
from sandbox.bot_process import SIGNING_SECRET, BotProcess, bot_env, free_port
from sandbox.sample_store import BAKHOOR, COFFEE, DALLAH, DATES, OUD, SHEMAGH, THOBE
from sandbox.slack_driver import Answer, BlockingSlackDriver
from sandbox.slack_sim import SlackRequest, SlackSimulator, _Refused
from sync_core.store import Store
from sync_core.store.tables import SyncRun

# Short leases so a dead process's work is taken over in seconds; the claim lease stays three
# HTTP timeouts long, as the settings require.
FAST_ENV = {
    "SALLA_SYNC_LEASE_SECONDS": "2",
    "SALLA_SYNC_CLAIM_LEASE_SECONDS": "3",
    "SALLA_SYNC_HTTP_TIMEOUT": "1",
}
STATUS_WORDS = ("Success", "Failed", "Record not found", "Cancelled")
PRODUCTS = [COFFEE, DALLAH, DATES, BAKHOOR, OUD, SHEMAGH, THOBE]
WAIT = 120.0  # generous: conditions, never times, are what the tests check


def wait_for(predicate: Callable[[], Any], timeout: float = WAIT, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


# --- the workload ----------------------------------------------------------------------------------

@dataclass
class Workload:
    numbers: list[str]
    po_numbers: set[str]  # the documents that must exist in the end, once each
    documents: dict[str, int]  # number -> Salla invoices (0: no invoice yet, or not found)
    expected: dict[str, str]  # number -> its final status


def add_orders(store: SallaStore, count: int, first_reference: int) -> Workload:
    """``count`` numbers: mostly one tax invoice; some sold and returned (invoice + credit note),
    some shipped in two invoices, a few with no invoice yet (Failed) and a few unknown (Record not found)."""
    numbers, po_numbers, documents, expected = [], set(), {}, {}
    for i in range(count):
        reference = first_reference + i
        number = str(reference)
        numbers.append(number)
        if i % 25 == 19:  # not in Salla at all
            documents[number], expected[number] = 0, "Record not found"
            continue
        customer = None if i % 10 == 0 else store.add_customer(f"عميل {reference}", mobile=f"555{reference:07d}")
        lines = [PRODUCTS[i % len(PRODUCTS)], PRODUCTS[(i * 3 + 1) % len(PRODUCTS)]]
        if i % 25 == 9:  # ordered, not invoiced yet
            store.add_order(reference, customer=customer, status_slug="under_review", lines=lines)
            documents[number], expected[number] = 0, "Failed"
            continue
        order = store.add_order(reference, customer=customer, lines=lines, shipping="15")
        if i % 10 == 3:
            invoices = [store.add_invoice(order), store.add_credit_note(order)]
        elif i % 10 == 7:
            invoices = [store.add_invoice(order, items=[order.items[0].as_line()], shipping="15"),
                        store.add_invoice(order, items=[order.items[1].as_line()])]
        else:
            invoices = [store.add_invoice(order)]
        po_numbers.update(f"SALLA-{invoice.id}" for invoice in invoices)
        documents[number], expected[number] = len(invoices), "Success"
    return Workload(numbers, po_numbers, documents, expected)


# --- a Slack that can be down ----------------------------------------------------------------------

class OutageSlack(SlackSimulator):
    """The Slack simulator, plus an outage switch: while ``down``, every Web API call answers 503."""

    down = False

    def _scripted(self, method: str) -> None:
        if self.down:
            raise _Refused("service_unavailable", status=503)
        super()._scripted(method)

    def failed_calls(self) -> int:
        return sum(1 for call in self.calls() if call.status >= 500)


# --- the cluster -----------------------------------------------------------------------------------

@dataclass
class RunCheck:
    """What one run ended as."""

    run_id: int
    numbers: int
    statuses: Counter
    expected_documents: int
    created_documents: int
    without_status: int
    linked: int  # documents found by po_number after their create's answer was lost (or its process died)
    duplicated_lines: int  # result lines posted twice (a kill while the results were being posted)


@dataclass
class Cluster:
    tmp_path: Path
    database_url: str
    store: SallaStore
    env: dict[str, str] = field(default_factory=dict)
    salla_latency: float = 0.005
    enerpize_latency: float = 0.005
    dialect: str = "both"  # which filter spellings the Enerpize tenant honours (interfaces.md)

    def __post_init__(self) -> None:
        self.slack = OutageSlack(port=free_port())  # a fixed port: it can be stopped and started again
        self.salla = SallaSimulator(store=self.store, latency=self.salla_latency)
        self.enerpize = EnerpizeSimulator(latency=self.enerpize_latency, hang_seconds=2.0, dialect=self.dialect)
        self.bots: list[BotProcess] = []
        self.db = Store(self.database_url, create=False)
        self.threads = ThreadStore(self.db.engine)
        self._open_lock = threading.Lock()

    def __enter__(self) -> Cluster:
        for sim in (self.slack, self.salla, self.enerpize):
            sim.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for bot in self.bots:
            bot.kill()
        self.db.close()
        for sim in (self.slack, self.salla, self.enerpize):
            sim.stop()

    # -- bots ------------------------------------------------------------------------------------

    def bot(self, name: str) -> BotProcess:
        env = bot_env(self.slack, self.salla, self.enerpize, self.database_url, **{**FAST_ENV, **self.env})
        bot = BotProcess(env, log_path=self.tmp_path / f"{name}.log")
        self.bots.append(bot)
        bot.start(timeout=60)
        return bot

    def logs(self) -> str:
        out = []
        for path in sorted(self.tmp_path.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            out.append(f"--- {path.name} (last 40 lines)\n" + "\n".join(text[-40:]))
        return "\n".join(out)

    # -- Slack, as Slack sends it ------------------------------------------------------------------

    def driver(self, bot: BotProcess) -> BlockingSlackDriver:
        """Slack in front of ``bot``: signs and sends what Slack sends."""
        return BlockingSlackDriver(self.slack, bot.url, SIGNING_SECRET)

    def post(self, bot: BotProcess, request: SlackRequest) -> Answer:
        return self.driver(bot).post(request)

    def open_modal(self, bot: BotProcess, *, user: str, channel: str) -> dict[str, Any]:
        """Type /salla-sync in ``channel``: the view the bot opened (one command at a time, so that
        each takes its own view from the simulator's ``opened_views``)."""
        with self._open_lock:
            return self.driver(bot).open_view(user=user, channel=channel)

    def submit_view(self, bot: BotProcess, view: dict[str, Any], numbers: Iterable[str], *, user: str) -> None:
        status, body = self.driver(bot).submit(view, numbers, user=user)
        assert status == 200 and not body, (status, body)  # an empty ack: the run is stored

    def submit(self, bot: BotProcess, numbers: list[str], *, channel: str, user: str = "U0ALICE") -> int:
        view = self.open_modal(bot, user=user, channel=channel)
        self.submit_view(bot, view, numbers, user=user)
        return self.run_in(channel)

    def run_in(self, channel: str) -> int:
        """The run whose thread was asked for in ``channel`` (one per channel in these tests)."""
        rows = [t for t in self.thread_rows() if t.requested_channel == channel]
        assert len(rows) == 1, rows
        return rows[0].run_id

    def thread_rows(self) -> list[SlackThread]:
        return [t for run in self.db.recent_runs(1000) if (t := self.threads.get(run.id)) is not None]

    # -- the database ------------------------------------------------------------------------------

    def results_stored(self, run_id: int) -> int:
        """How many of the run's numbers have their result stored (a cheap query: tests poll it)."""
        with self.db.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(DISTINCT number) FROM sync_record WHERE run_id = %d"
                                        % int(run_id)).scalar()

    def run(self, run_id: int) -> SyncRun:
        run = self.db.get_run(run_id)
        assert run is not None
        return run

    def reported(self, run_id: int) -> bool:
        """Results, summary and totals are all in Slack: the run's report is done."""
        run = self.run(run_id)
        return run.reported_at is not None and run.state == "finished"

    def wait_reported(self, *run_ids: int, timeout: float = WAIT) -> None:
        wait_for(lambda: all(self.reported(r) for r in run_ids), timeout, 0.1,
                 f"runs {run_ids} to finish and be reported in Slack")

    def documents(self) -> Counter:
        docs = self.enerpize.documents[INVOICES] + self.enerpize.documents[REFUND_RECEIPTS]
        return Counter(d.po_number for d in docs)

    # -- the verdict -------------------------------------------------------------------------------

    def check_run(self, run_id: int, workload: Workload, *, documents: Counter | None = None) -> RunCheck:
        """Every number has exactly one final status (the expected one); every invoice became one
        document, none twice; the run's Slack thread is complete."""
        run = self.run(run_id)
        assert run.state == "finished", run
        assert run.number_list == workload.numbers
        records = self.db.run_records(run_id)
        by_number: dict[str, list] = {}
        for record in records:
            by_number.setdefault(record.number, []).append(record)
        without = [n for n in workload.numbers if n not in by_number]
        assert not without, f"numbers left without a status: {without}"
        statuses: Counter = Counter()
        for number, rows in by_number.items():
            invoices = [r.salla_invoice_id for r in rows if r.salla_invoice_id is not None]
            assert len(invoices) == len(set(invoices)), f"{number} has a document recorded twice: {rows}"
            if not invoices:
                assert len(rows) == 1, f"{number} has {len(rows)} results: {rows}"
            assert len(invoices) == workload.documents[number], (number, rows)
            overall = "Failed" if any(r.status == "Failed" for r in rows) else rows[0].status
            assert overall == workload.expected[number], (number, [(r.status, r.reason) for r in rows])
            statuses[overall] += 1
        assert run.succeeded + run.failed + run.not_found + run.cancelled == len(workload.numbers)

        documents = documents if documents is not None else self.documents()
        mine = {po: count for po, count in documents.items() if po in workload.po_numbers}
        twice = {po: count for po, count in mine.items() if count > 1}
        assert not twice, f"documents created more than once: {twice}"
        missing = workload.po_numbers - set(mine)
        assert not missing, f"invoices without a document: {sorted(missing)}"
        duplicated = self.check_thread(run_id, workload, statuses)
        linked = sum(1 for r in records if r.reason and r.reason.startswith("already in Enerpize as"))
        return RunCheck(run_id, len(workload.numbers), statuses, len(workload.po_numbers), sum(mine.values()),
                        len(without), linked, duplicated)

    def check_thread(self, run_id: int, workload: Workload, statuses: Counter) -> int:
        """The parent in the channel with the totals, every number's lines among the replies with
        its status, the progress message turned into the summary. Returns lines posted twice."""
        thread = self.threads.get(run_id)
        assert thread is not None and thread.channel_id and thread.parent_ts and thread.progress_ts, thread
        assert thread.channel_id == thread.requested_channel
        parents = self.slack.top_level(thread.channel_id)
        assert [p.ts for p in parents] == [thread.parent_ts], "one parent message per run"
        parent = parents[0].as_text()
        assert "Totals" in parent, parent
        for status, count in statuses.items():
            assert f"{count} {status}" in parent, (status, count, parent)
        assert "Sync finished" in self.slack.message(thread.channel_id, thread.progress_ts).as_text()
        replies = self.slack.replies(thread.channel_id, thread.parent_ts)
        is_result = {m.ts: bool(m.blocks) and all(b.get("type") == "section" for b in m.blocks) for m in replies}
        results = [m for m in replies if is_result[m.ts]]
        others = [m.ts for m in replies if not is_result[m.ts]]
        assert others == [thread.progress_ts], "one progress message per run, turned into the summary"
        lines = [line for m in results for line in m.lines()]
        seen: Counter = Counter()
        for number in workload.numbers:
            mine = [line for line in lines if f"`{number}`" in line]
            assert mine, f"{number} is not in the thread"
            for line in mine:
                words = [w for w in STATUS_WORDS if w in line]
                assert words == [workload.expected[number]], line
            expected_lines = max(workload.documents[number], 1)
            assert len(mine) % expected_lines == 0, (number, mine)
            seen[number] = len(mine) // expected_lines
        return sum(count - 1 for count in seen.values())
