"""``python -m bench``: the figures of README "Performance", against the simulators, in one command.

    python -m bench                  # the full benchmark (about 10 minutes on 2 cores)
    python -m bench --quick          # a smoke run: 10 orders, 10 ms, one plan, 4 users (about 35 s)

Each plan runs on both of the Salla simulator's rate models: a leaky bucket of the plan (role
"plan") and Salla's documented window with its 1 request a second leak (role "window").

Prints the table, writes ``bench.json`` and ``orders_over_time.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report as reporting
from bench.acks import measure_acks
from bench.audit import INVOICES as AUDIT_INVOICES
from bench.audit import MISSING as AUDIT_MISSING
from bench.audit import measure_audit
from bench.bounds import RATE_MODELS
from bench.calls import measure_calls
from bench.sync_runs import run_orders
from bench.webhooks import DELIVERIES as WEBHOOK_DELIVERIES
from bench.webhooks import measure_webhooks
from sync_core.settings import Settings


def default_concurrency() -> int:
    return int(Settings.model_fields["salla_sync_concurrency"].default)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=None,
                        help="seconds added to every Salla and Enerpize call (default 0.12; --quick: 0.01)")
    parser.add_argument("--plans", default=None,
                        help="Salla plans, requests a minute, comma-separated (default 120,360,720; --quick: 720)")
    parser.add_argument("--rate-models", default="bucket,window",
                        help="Salla rate models each plan runs on, comma-separated (bucket, window)")
    parser.add_argument("--orders", type=int, default=None, help="orders in each run (default 100; --quick: 10)")
    parser.add_argument("--users", type=int, default=None,
                        help="people acknowledged at once (default 20; --quick: 4)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of --users commands and submissions (default 10; --quick: 2)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help=f"SALLA_SYNC_CONCURRENCY of the bot (default: the product's, {default_concurrency()})")
    parser.add_argument("--out", type=Path, default=None,
                        help="where bench.json and the PNG go (default bench/results; --quick: bench/results/quick)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (for the test suite)")
    parser.add_argument("--skip-serial", action="store_true", help="leave out the concurrency-1 run")
    args = parser.parse_args(argv)
    quick = args.quick
    args.out = args.out or Path("bench/results/quick" if quick else "bench/results")  # a smoke run keeps the full one
    args.latency = args.latency if args.latency is not None else (0.01 if quick else 0.12)
    args.plans = [int(p) for p in (args.plans or ("720" if quick else "120,360,720")).split(",") if p.strip()]
    args.rate_models = [m.strip() for m in args.rate_models.split(",") if m.strip()]
    if not args.rate_models or any(m not in RATE_MODELS for m in args.rate_models):
        parser.error(f"--rate-models: each one of {', '.join(RATE_MODELS)}")
    args.orders = args.orders or (10 if quick else 100)
    args.users = args.users or (4 if quick else 20)
    args.rounds = args.rounds or (2 if quick else 10)
    if args.orders > 100:
        parser.error("--orders: a submission holds at most 100 numbers")
    return args


ROLES = {"bucket": "plan", "window": "window"}  # "plan" predates the window model
MODEL_WORDS = {"bucket": "leaky bucket", "window": "window + 1/s leak"}


def run_timeout(orders: int, plan: int, latency: float) -> float:
    """Generous: the rate limit's wait plus every call one after the other, twice over."""
    salla_calls = orders * 5
    return 60 + 2 * (max(0, salla_calls - plan) * 60 / plan + orders * 14 * latency + orders * 0.1)


async def main_async(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    concurrency = args.concurrency or default_concurrency()
    explicit = args.concurrency is not None
    report: dict[str, Any] = {
        "command": reporting.command_line(), "machine": reporting.machine(),
        "settings": {"latency": args.latency, "plans": args.plans, "rate_models": args.rate_models,
                     "orders": args.orders, "users": args.users,
                     "rounds": args.rounds, "concurrency": concurrency, "default_concurrency": not explicit,
                     "quick": args.quick,
                     # where the bench's simulators run (acks are measured from the bench process)
                     "simulators": {"slack": "bench process", "salla": "child process",
                                    "enerpize": "child process"}},
        "runs": [],
    }
    fastest = max(args.plans)

    def say(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    say("calls per order and per document (in process, no latency)")
    counts = await asyncio.to_thread(measure_calls)  # it runs its own event loop
    report["calls"] = {"salla_per_single_invoice_order": counts.salla_per_single_invoice_order,
                       "enerpize_per_document_cold": counts.enerpize_per_document_cold,
                       "enerpize_per_document_warm": counts.enerpize_per_document_warm,
                       "enerpize_per_document_by_dialect": {d: vars(c) for d, c in counts.enerpize.items()}}

    say(f"the audit: {AUDIT_INVOICES} invoices, {AUDIT_MISSING} missing, {min(args.plans)}/min plan (window + 1/s leak)")
    audit = await asyncio.to_thread(measure_audit, latency=args.latency, plan=min(args.plans))
    report["audit"] = audit.as_dict()

    # Where Salla's budget is the limit (the smallest plan), the time until all are synced is set
    # next to its bound; on the largest plan the sync runs at full speed beside the acknowledgements.
    webhook_plans = {"webhooks": min(args.plans)}
    if fastest > min(args.plans):
        webhook_plans["webhooks_full_speed"] = fastest
    for key, plan in webhook_plans.items():
        say(f"Salla webhooks: {WEBHOOK_DELIVERIES} deliveries in one second, {plan}/min plan")
        hooks = await asyncio.to_thread(measure_webhooks, latency=args.latency, plan=plan, workdir=workdir)
        report[key] = hooks.as_dict()

    say(f"acknowledgements: {args.users} users at once, {args.rounds} rounds, {fastest}/min plan")
    acks = await measure_acks(users=args.users, rounds=args.rounds, plan=fastest, latency=args.latency,
                              concurrency=args.concurrency, workdir=workdir)
    report["acks"] = acks.as_dict()

    for plan in args.plans:
        for model in args.rate_models:
            say(f"{args.orders}-order run on the {plan}/min plan ({MODEL_WORDS[model]}), concurrency {concurrency}")
            run = await run_orders(plan=plan, latency=args.latency, concurrency=concurrency, orders=args.orders,
                                   workdir=workdir, timeout=run_timeout(args.orders, plan, args.latency),
                                   name=f"plan{plan}-{model}", explicit_concurrency=explicit, rate_model=model)
            report["runs"].append({"role": ROLES[model], **run.as_dict()})
            say(f"  {run.wall_seconds:.1f} s, bound {run.bound.seconds:.1f} s ({run.ratio:.2f}x), "
                f"{run.salla_throttled} Salla 429s")

    if not args.skip_serial and "bucket" in args.rate_models:
        say(f"{args.orders}-order run on the {fastest}/min plan, one order at a time")
        serial = await run_orders(plan=fastest, latency=args.latency, concurrency=1, orders=args.orders,
                                  workdir=workdir, timeout=run_timeout(args.orders, fastest, args.latency) * 3,
                                  name=f"plan{fastest}-serial", explicit_concurrency=True)
        report["runs"].append({"role": "serial", **serial.as_dict()})
        say(f"  {serial.wall_seconds:.1f} s")
        parallel = next(r for r in report["runs"] if r["role"] == "plan" and r["plan_per_minute"] == fastest)
        report["speedup"] = {"plan_per_minute": fastest, "concurrency": concurrency,
                             "serial_seconds": serial.wall_seconds, "concurrent_seconds": parallel["wall_seconds"],
                             "speedup": serial.wall_seconds / parallel["wall_seconds"]}

    report["peak_rss_mb"] = max([acks.peak_rss_mb, *(r["peak_rss_mb"] for r in report["runs"])])
    return report


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwind as on Ctrl-C: each stack kills its bot and stops its simulators


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)  # SIGTERM (timeout, a cancelled CI job) would leave the bot running
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="salla-sync-bench-") as tmp:
        try:
            report = asyncio.run(main_async(args, Path(tmp)))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):  # what the bots said, for the post-mortem
                (args.out / log.name).write_bytes(log.read_bytes())
            raise
    report["duration_seconds"] = time.monotonic() - started
    report["targets"] = reporting.evaluate(report)
    written = [args.out / "bench.json"]
    if report["runs"]:
        if importlib.util.find_spec("matplotlib") is not None:
            written.append(args.out / "orders_over_time.png")
            reporting.chart(report, written[-1])
        else:
            print("[bench] no chart: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
    report["chart"] = str(written[1]) if len(written) > 1 else None
    written[0].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(reporting.table(report))
    print("\nwritten: " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
