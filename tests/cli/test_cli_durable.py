"""A ``salla-sync sync`` killed half-way loses nothing: the next ``salla-sync`` (or a running bot)
finishes its run, each number once, and ``salla-sync log --run`` shows the results."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from test_cli import cli

from sandbox import INVOICES, REFUND_RECEIPTS
from sandbox.bot_process import BotProcess, bot_env
from sandbox.slack_sim import SlackSimulator
from sync_core.store import Store

NUMBERS = [str(n) for n in range(1001, 1011)]  # 1001-1010: 12 documents
LEASE = "2"


def start_sync(env, *numbers: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sync_core.cli", "sync", *numbers], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after(proc: subprocess.Popen, store: Store, results: int, timeout: float = 60) -> int:
    """SIGKILL ``proc`` once its run stored ``results`` results; the run's id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.recent_runs(1)
        if runs and len({r.number for r in store.run_records(runs[0].id)}) >= results:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return runs[0].id
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("the run never got that far")


@pytest.fixture
def slow(env, sims):
    """Every Salla call takes 0.2 s and one order is synced at a time, so a kill lands mid-run."""
    salla, _ = sims
    salla.latency = 0.2
    return {**env, "SALLA_SYNC_CONCURRENCY": "1", "SALLA_SYNC_LEASE_SECONDS": LEASE}


def documents(enerpize) -> list[str]:
    return [d.po_number for d in enerpize.documents[INVOICES] + enerpize.documents[REFUND_RECEIPTS]]


def test_a_killed_sync_is_finished_by_the_next_one_before_its_own_work(slow, sims, database_url, tmp_path):
    salla, enerpize = sims
    store = Store(database_url, create=False)
    try:
        run_id = kill_after(start_sync(slow, *NUMBERS), store, 3)
        left = len({r.number for r in store.run_records(run_id)})
        assert 3 <= left < len(NUMBERS)
        unfinished = cli(slow, "log", "--run", str(run_id), "--json")
        assert unfinished.returncode == 0
        assert len(json.loads(unfinished.stdout)["results"]) == left
        assert f"run {run_id} is not finished yet" in unfinished.stderr

        time.sleep(float(LEASE) + 0.2)  # the dead process's lease runs out
        salla.latency = 0.0
        done = cli(slow, "sync", "1012", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"run {run_id} (salla-sync cli by" in done.stderr and "finishing it first" in done.stderr
        assert json.loads(done.stdout)["results"][0]["number"] == "1012"  # stdout: this command's own run only
    finally:
        store.close()

    shown = cli(slow, "log", "--run", str(run_id), "--json")
    assert shown.returncode == 0 and "not finished" not in shown.stderr
    results = json.loads(shown.stdout)
    assert results["run_id"] == run_id
    assert [r["number"] for r in results["results"]] == NUMBERS  # each number one final status
    assert all(r["status"] in ("Success", "Failed") for r in results["results"])
    po_numbers = documents(enerpize)
    assert len(po_numbers) == len(set(po_numbers)) == 12 + 1  # every invoice once (and 1012's)


def test_a_killed_sync_is_finished_by_a_running_bot(slow, sims, database_url, tmp_path):
    salla, enerpize = sims
    store = Store(database_url, create=False)
    with SlackSimulator() as slack:
        bot = BotProcess(bot_env(slack, salla, enerpize, database_url, SALLA_SYNC_LEASE_SECONDS=LEASE),
                         log_path=tmp_path / "bot.log")
        try:
            bot.start(timeout=60)
            run_id = kill_after(start_sync(slow, *NUMBERS), store, 3)
            salla.latency = 0.0
            deadline = time.monotonic() + 30
            while store.get_run(run_id).reported_at is None and time.monotonic() < deadline:
                time.sleep(0.1)
            run = store.get_run(run_id)
            assert run.reported_at is not None, (tmp_path / "bot.log").read_text()
            assert [r.number for r in store.run_results(run_id)] == NUMBERS
            assert run.state == "finished" and run.owner is None
            assert slack.calls("chat.postMessage") == []  # a CLI run has no thread: its results are in the log only
        finally:
            bot.kill()
            store.close()
    po_numbers = documents(enerpize)
    assert len(po_numbers) == len(set(po_numbers)) == 12
    assert f"resuming run {run_id} (cli)" in (tmp_path / "bot.log").read_text()
