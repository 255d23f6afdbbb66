"""The SQLite gate: one transaction at a time in the process, a new run's before the runs' work."""

from __future__ import annotations

import threading
import time

from sync_core.store import Store
from sync_core.store.gate import TransactionGate
from sync_core.store.runs import NewRun


def test_an_urgent_waiter_goes_before_one_that_waited_longer():
    gate = TransactionGate()
    order: list[str] = []
    gate.enter(urgent=False)  # the runs' work holds the database

    def wait(name: str, urgent: bool) -> None:
        gate.enter(urgent=urgent)
        order.append(name)
        gate.leave()

    work = threading.Thread(target=wait, args=("runs' work", False))
    work.start()
    time.sleep(0.05)  # it waits first
    new_run = threading.Thread(target=wait, args=("new run", True))
    new_run.start()
    time.sleep(0.05)
    assert order == []  # nobody passes while the gate is held
    gate.leave()
    work.join(5)
    new_run.join(5)
    assert order == ["new run", "runs' work"]


def test_a_sqlite_file_store_uses_one_gated_connection_per_engine(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        assert store.intake_engine is not store.engine
        assert store.engine.pool.size() == 1 and store.intake_engine.pool.size() == 1
        run = store.create_runs([NewRun(["1001"], "U1", "cli")])[0]  # the intake engine
        assert store.get_run(run.id).number_list == ["1001"]  # the other one, after it
    finally:
        store.close()
