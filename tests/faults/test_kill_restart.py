"""kill -9 the bot at random points of a 50-order run, restart it: nothing lost, nothing twice.

Each trial submits a new 50-number run over signed HTTP, SIGKILLs the bot once (some trials twice)
at a random point (after k of the 50 results were stored, plus a random few milliseconds; k = 0 is
"just after the submission was acked", "reporting" is "once it synced, while its results are
posted"), starts a new bot process on the same database and waits until the run is finished. The
next trial starts then, so its kills may also hit the previous run's posting. In the end: every
number has exactly one final status, the expected one; every Salla invoice is exactly one Enerpize
document (by po_number); each run's thread holds every number and the totals.

The trials run as three independent chains at once (each with its own database, simulators and bot),
so one chain's waits for leases overlap the other's work. Each chain's Enerpize tenant speaks
another filter dialect: none (every look-up reads the list), plain (Daftra's documented
``?po_number=``) and both.

SALLA_SYNC_FAULT_SEED=N replays the kill points; SALLA_SYNC_FAULT_TRIALS=N runs N trials.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

from faults_harness import Cluster, Workload, add_orders, wait_for

from sandbox import SallaStore

TRIALS = int(os.environ.get("SALLA_SYNC_FAULT_TRIALS", "10"))
DIALECTS = ("none", "plain", "both")  # one chain each
CHAINS = len(DIALECTS)
ORDERS = 50


def kill_points(rng: random.Random) -> list[tuple[int | str, float]]:
    """One or two kill points: (results stored before the kill, or "reporting"; extra delay in s)."""
    first = rng.choice(["reporting"] + list(range(0, ORDERS)))
    points: list[tuple[int | str, float]] = [(first, round(rng.uniform(0, 0.04), 3))]
    if first != "reporting" and rng.random() < 0.25:  # and once more while the resumed run goes on
        second = rng.choice(["reporting"] + list(range(first + 1, ORDERS)))
        points.append((second, round(rng.uniform(0, 0.04), 3)))
    return points


def kill_at(cluster: Cluster, bot, run_id: int, point: tuple[int | str, float]) -> str:
    """Wait for the point, SIGKILL the bot; what the run looked like then."""
    where, delay = point
    if where == "reporting":
        wait_for(lambda: cluster.run(run_id).state == "finished", interval=0.01, what="the run to finish")
    else:
        wait_for(lambda: cluster.results_stored(run_id) >= where, interval=0.01, what=f"{where} results")
    time.sleep(delay)
    bot.kill()
    thread = cluster.threads.get(run_id)
    stored = cluster.results_stored(run_id)
    with cluster.db.engine.connect() as conn:
        claimed = {po for (po,) in conn.exec_driver_sql("SELECT po_number FROM ledger WHERE state = 'claimed'")}
    landed = len(claimed & set(cluster.documents()))  # created in Enerpize, the answer lost with the process
    state = cluster.run(run_id).state
    posted = "parent posted" if thread and thread.parent_ts else "no parent yet"
    return (f"{where}+{delay * 1000:.0f}ms: {stored}/{ORDERS} stored, {len(claimed)} claims open "
            f"({landed} already created), {state}, {posted}")


def chain(cluster: Cluster, name: str, workloads: list[Workload], rng: random.Random) -> list[tuple]:
    """Trial after trial on one cluster; (trial, run id, kills, workload) of each."""
    bot = cluster.bot(f"{name}-bot-0")
    trials = []
    for trial, workload in enumerate(workloads):
        run_id = cluster.submit(bot, workload.numbers, channel=f"C0{name.upper()}T{trial:02d}")
        kills = []
        for k, point in enumerate(kill_points(rng)):
            kills.append(kill_at(cluster, bot, run_id, point))
            bot = cluster.bot(f"{name}-bot-{trial}-{k + 1}")  # the restart (a deploy, a supervisor)
        wait_for(lambda: cluster.run(run_id).state == "finished", what=f"run {run_id} to finish")
        trials.append((trial, run_id, kills, workload))
    cluster.wait_reported(*(run_id for _, run_id, _, _ in trials))
    return trials


def test_kill_9_at_random_points_then_restart(make_cluster, make_database):
    seed = int(os.environ.get("SALLA_SYNC_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
    print(f"\nkill -9 trials: seed {seed} (SALLA_SYNC_FAULT_SEED={seed} replays the kill points)")
    plans = []
    for index in range(CHAINS):
        store = SallaStore()
        count = TRIALS // CHAINS + (1 if index < TRIALS % CHAINS else 0)
        workloads = [add_orders(store, ORDERS, first_reference=20_000 + 1000 * index + 100 * t) for t in range(count)]
        database = {} if index == 0 else {"database_url": make_database()}
        cluster = make_cluster(store, dialect=DIALECTS[index], **database)
        plans.append((cluster, f"k{index}", workloads, random.Random(f"{seed}-{index}")))
    with ThreadPoolExecutor(CHAINS) as pool:
        outcomes = list(pool.map(lambda plan: chain(*plan), plans))

    print("chain | dialect | trial | run | kill points: results stored+delay -> the run then | numbers | statuses | "
          "documents expected/created | linked after a lost answer | numbers without a status | "
          "result lines posted twice")
    invoices = created = 0
    for (cluster, name, workloads, _), trials in zip(plans, outcomes):
        for trial, run_id, kills, workload in trials:
            check = cluster.check_run(run_id, workload)
            print(f"{name} | {cluster.dialect} | {trial} | {run_id} | {'; '.join(kills)} | {check.numbers} | {dict(check.statuses)} | "
                  f"{check.expected_documents}/{check.created_documents} | {check.linked} | {check.without_status} | "
                  f"{check.duplicated_lines}")
            assert check.duplicated_lines == 0, f"run {run_id}: a result line posted twice"  # the known gap, closed
            assert check.without_status == 0, f"run {run_id}: a number without a final status"
        documents = cluster.documents()
        assert all(count == 1 for count in documents.values()), "a document created twice"
        assert sum(documents.values()) == sum(len(w.po_numbers) for w in workloads)
        invoices += sum(len(w.po_numbers) for w in workloads)
        created += sum(documents.values())
    print(f"all {TRIALS} trials: {created} documents for {invoices} invoices, none twice, "
          "no number without a status")
