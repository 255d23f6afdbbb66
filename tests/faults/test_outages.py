"""Salla answering 5xx in bursts, Slack's API down for a stretch: nothing lost, threads complete."""

from __future__ import annotations

import threading
import time
from collections import Counter

from faults_harness import add_orders, wait_for

from sandbox import SallaStore

BURST = 4  # fewer than the tries a read gets (sync_core.http.ATTEMPTS): a burst delays an order, never fails it


def _key(call) -> tuple:
    return call.method, call.path, tuple(sorted(call.query.items()))


def resent(salla) -> bool:
    """Every call a burst failed has been sent again since (the simulator logs a call on arrival)."""
    with salla._lock:
        calls, failed = Counter(map(_key, salla.calls)), Counter(map(_key, salla.failed))
    return all(calls[key] > times for key, times in failed.items())


def recovered(salla) -> bool:
    """The requests a burst caught are through before the next burst: each meets one burst at most,
    as the comment on BURST assumes (bursts armed back to back could fail one request five times).
    A call is logged on arrival and meets the faults after the simulator's latency, hence the pause."""
    if salla.faults.pending or not resent(salla):
        return False
    time.sleep(0.25)
    return not salla.faults.pending and resent(salla)


def test_salla_5xx_bursts(make_cluster):
    store = SallaStore()
    workload = add_orders(store, 30, first_reference=40_000)
    cluster = make_cluster(store, salla_sync_concurrency="2")  # a few orders at a time: a run long enough for bursts
    bot = cluster.bot("bot")
    salla = cluster.salla
    salla.fail_next(status=503, count=BURST)  # the first calls of the run
    bursts = [1]
    done = threading.Event()

    def more_bursts(run_id: int) -> None:  # another burst each time six more results are in
        for stored in (6, 12, 18, 24):
            wait_for(lambda: done.is_set() or (cluster.results_stored(run_id) >= stored and recovered(salla)),
                     interval=0.01)
            if done.is_set():
                return
            salla.fail_next(status=502 if stored % 12 else 500, count=BURST)
            bursts.append(1)

    run_id = cluster.submit(bot, workload.numbers, channel="C0SALLA5XX")
    watcher = threading.Thread(target=more_bursts, args=(run_id,), daemon=True)
    watcher.start()
    try:
        cluster.wait_reported(run_id)
    finally:
        done.set()
        watcher.join(10)
    check = cluster.check_run(run_id, workload)
    assert check.created_documents == check.expected_documents
    assert len(bursts) >= 3  # the run saw several bursts (it may end before the last ones are armed)
    print(f"\nSalla 5xx: {len(bursts)} bursts of {BURST}; {dict(check.statuses)}; documents "
          f"{check.created_documents}/{check.expected_documents}")


def test_slack_down_for_a_stretch_then_back(make_cluster):
    """Slack's API answers 503 to everything for a stretch: one run has its parent and progress
    posted when Slack goes down, another starts during the outage; the bot is killed and restarted
    meanwhile. Both runs sync anyway, and once Slack is back each has its whole thread (parent with
    the totals, every result once, the summary)."""
    store = SallaStore()
    first, second = add_orders(store, 20, first_reference=41_000), add_orders(store, 20, first_reference=41_100)
    cluster = make_cluster(store)
    slack = cluster.slack
    bot = cluster.bot("bot-1")
    view_2 = cluster.open_modal(bot, user="U0BOB", channel="C0DOWN2")
    run_1 = cluster.submit(bot, first.numbers, channel="C0DOWN1")
    wait_for(lambda: cluster.threads.get(run_1).progress_ts, what="the first run's progress message")

    slack.down = True
    cluster.submit_view(bot, view_2, second.numbers, user="U0BOB")  # the ack needs no Slack
    run_2 = cluster.run_in("C0DOWN2")
    # Both sync although nothing can be posted (a Slack outage blocks no run).
    wait_for(lambda: all(cluster.run(r).state == "finished" for r in (run_1, run_2)), what="both runs to sync")
    failed = slack.failed_calls()
    wait_for(lambda: slack.failed_calls() >= failed + 4, what="more tries to post")  # it keeps trying
    assert not any(cluster.reported(r) for r in (run_1, run_2))
    assert slack.messages("C0DOWN2") == []

    bot.kill()  # what is left to post is in the database, not in the process
    bot = cluster.bot("bot-2")  # starts although Slack is down
    failed = slack.failed_calls()
    wait_for(lambda: slack.failed_calls() > failed, what="the new process to try to post")

    slack.down = False
    cluster.wait_reported(run_1, run_2)
    for run_id, workload in ((run_1, first), (run_2, second)):
        check = cluster.check_run(run_id, workload)
        assert check.created_documents == check.expected_documents
        assert check.duplicated_lines == 0
