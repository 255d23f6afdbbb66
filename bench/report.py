"""The benchmark's outputs: the table printed, ``bench.json``, and the chart of orders finished over time."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

TARGETS = {
    "ack_p99_ms": 100.0,
    "run_ratio": 1.25,
    "speedup": 8.0,
    "salla_per_single_invoice_order": 3.0,
    "enerpize_per_document_warm": 2.0,
    "slack_calls_per_run": 15,
    "peak_rss_mb": 150.0,
}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as info:
            kb = next(int(line.split()[1]) for line in info if line.startswith("MemTotal:"))
            memory_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": cpu or platform.processor(), "memory_gb": memory_gb,
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}"}


PLAN_ROLES = ("plan", "window")  # the runs of each plan: on the leaky bucket, on Salla's documented window


def run_name(run: dict[str, Any]) -> str:
    """The run's plan and rate model, as the table and the targets name it."""
    if run["role"] == "window":
        return f"{run['plan_per_minute']}/min window"
    return f"{run['plan_per_minute']}/min"


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, what was measured, and whether it is met."""
    out = []

    def target(name: str, measured: float | None, limit: float, *, at_least: bool = False, unit: str = "") -> None:
        met = measured is not None and (measured >= limit if at_least else measured <= limit)
        out.append({"target": name, "measured": measured, "limit": limit, "unit": unit,
                    "kind": "at least" if at_least else "at most", "met": met})

    acks = report.get("acks")
    if acks:
        target("ack p99, /salla-sync command", acks["command"]["p99_ms"], TARGETS["ack_p99_ms"], unit="ms")
        target("ack p99, modal submission", acks["submission"]["p99_ms"], TARGETS["ack_p99_ms"], unit="ms")
    for run in report["runs"]:
        if run["role"] in PLAN_ROLES:
            target(f"run / lower bound, {run_name(run)}", run["ratio"], TARGETS["run_ratio"], unit="×")
    speedup = report.get("speedup")
    if speedup:
        target(f"faster than one at a time, {speedup['plan_per_minute']}/min", speedup["speedup"],
               TARGETS["speedup"], at_least=True, unit="×")
    calls = report.get("calls")
    if calls:
        target("Salla calls per single-invoice order", calls["salla_per_single_invoice_order"],
               TARGETS["salla_per_single_invoice_order"])
        target("Enerpize calls per document, warm caches", calls["enerpize_per_document_warm"],
               TARGETS["enerpize_per_document_warm"])
    plan_runs = [r for r in report["runs"] if r["role"] in PLAN_ROLES]
    if plan_runs:
        target("Slack API calls per run (most on any plan)", max(r["slack_calls"] for r in plan_runs),
               TARGETS["slack_calls_per_run"])
        target("results lost to Slack 429s (all runs)", sum(len(r["results_missing"]) for r in report["runs"]), 0)
    target("peak RSS of the bot", report.get("peak_rss_mb"), TARGETS["peak_rss_mb"], unit="MB")
    return out


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _mark(met: bool) -> str:
    return "ok" if met else "MISSED"


def table(report: dict[str, Any]) -> str:
    """The table as printed (and pasted into the README)."""
    s = report["settings"]
    default = " (product default)" if s["default_concurrency"] else ""
    title = (f"salla-sync benchmark: {s['orders']} mixed orders, {s['latency'] * 1000:.0f} ms on every Salla and "
             f"Enerpize call, concurrency {s['concurrency']}{default}")
    lines = [title, ""]
    met = {t["target"]: t["met"] for t in report["targets"]}
    acks = report.get("acks")
    if acks:
        lines.append(f"Slack acknowledgement, {acks['users']} users at once x {acks['rounds']} rounds "
                     f"({acks['command']['n']} of each)")
        lines.append(f"  {'':26} {'p50':>8} {'p99':>8} {'max':>8}   target")
        for key, label, name in (("command", "/salla-sync command", "ack p99, /salla-sync command"),
                                 ("submission", "modal submission", "ack p99, modal submission")):
            a = acks[key]
            lines.append(f"  {label:26} {_ms(a['p50_ms']):>8} {_ms(a['p99_ms']):>8} {_ms(a['max_ms']):>8}   "
                         f"p99 <= 100 ms  {_mark(met[name])}")
        m = acks["modal_open"]
        lines.append(f"  {'(command -> views.open)':26} {_ms(m['p50_ms']):>8} {_ms(m['p99_ms']):>8} "
                     f"{_ms(m['max_ms']):>8}")
        if acks["refused"]:
            lines.append(f"  NOT a plain 200: {len(acks['refused'])} answers, e.g. {acks['refused'][0]}")
        lines.append("")
    runs = report["runs"]
    if runs:
        docs = runs[0]["documents"]
        lines.append(f"{runs[0]['orders']}-order run ({docs} documents), submission -> final thread message")
        lines.append(f"  {'plan, concurrency':26} {'wall':>8} {'last order':>10} {'bound':>8} {'ratio':>6}  "
                     f"{'Salla':>5} {'429':>4} {'Enerpize':>8} {'Slack':>5} {'lost':>4} {'RSS':>7}")
        for r in runs:
            label = f"{run_name(r)}, c={r['concurrency']}"
            ratio = f"{r['ratio']:.2f}x"
            lines.append(f"  {label:26} {r['wall_seconds']:7.1f}s {r['last_order_seconds']:9.1f}s "
                         f"{r['bound']['seconds']:7.1f}s {ratio:>6}  {r['salla_calls']:5d} {r['salla_throttled']:4d} "
                         f"{r['enerpize_calls']:8d} {r['slack_calls']:5d} {len(r['results_missing']):4d} "
                         f"{r['peak_rss_mb']:5.0f}MB")
        lines.append("  bound = max(rate, chain) + slack (\"window\": Salla's documented window + 1/s leak):")
        for r in runs:
            if r["role"] not in PLAN_ROLES:
                continue
            b = r["bound"]
            name = f"run / lower bound, {run_name(r)}"
            lines.append(f"    {run_name(r)}: max({b['rate']:.2f}, {b['latency']:.2f}) + {b['slack']:.2f} "
                         f"= {b['seconds']:.2f} s  (C={r['salla_calls']} Salla calls, chain "
                         f"{r['longest_chain_calls']} calls, {r['result_messages']} result message(s))  "
                         f"ratio <= 1.25  {_mark(met[name])}")
        sp = report.get("speedup")
        if sp:
            name = f"faster than one at a time, {sp['plan_per_minute']}/min"
            lines.append(f"  {sp['plan_per_minute']}/min: c={sp['concurrency']} is {sp['speedup']:.1f}x faster than "
                         f"c=1  (target >= 8x)  {_mark(met[name])}")
        lines.append("")
    calls = report.get("calls")
    lines.append(f"  {'calls':48} {'measured':>8}   target")
    if calls:
        lines.append(f"  {'Salla calls per single-invoice order':48} {calls['salla_per_single_invoice_order']:8.2f}   "
                     f"<= 3  {_mark(met['Salla calls per single-invoice order'])}")
        lines.append(f"  {'Enerpize calls per document, cold caches':48} {calls['enerpize_per_document_cold']:8.2f}")
        lines.append(f"  {'Enerpize calls per document, warm caches':48} {calls['enerpize_per_document_warm']:8.2f}   "
                     f"<= 2  {_mark(met['Enerpize calls per document, warm caches'])}")
        for dialect, per in (calls.get("enerpize_per_document_by_dialect") or {}).items():
            lines.append(f"  Enerpize calls per document, tenant filtering {dialect!r}: cold {per['cold']:.2f}, "
                         f"warm {per['warm']:.2f}, after a restart {per['restart_without_mapping']:.2f} -> "
                         f"{per['restart']:.2f} with the stored id mapping")
    plan_runs = [r for r in runs if r["role"] in PLAN_ROLES]
    if plan_runs:
        worst = max(plan_runs, key=lambda r: r["slack_calls"])
        methods = ", ".join(f"{k} {v}" for k, v in sorted(worst["slack_calls_by_method"].items()))
        lines.append(f"  {'Slack API calls per run (most on any plan)':48} {worst['slack_calls']:8d}   <= 15  "
                     f"{_mark(met['Slack API calls per run (most on any plan)'])}  ({methods})")
        lost = sum(len(r["results_missing"]) for r in runs)
        throttled = sum(r["slack_throttled"] for r in runs)
        lines.append(f"  {'results lost to Slack 429s (429s seen)':48} {lost:8d}   0  "
                     f"{_mark(met['results lost to Slack 429s (all runs)'])}  ({throttled})")
    lines.append(f"  {'peak RSS of the bot process':48} {report['peak_rss_mb']:6.0f}MB   <= 150 MB  "
                 f"{_mark(met['peak RSS of the bot'])}")
    audit = report.get("audit")
    if audit:
        lines.append("")
        lines.append(f"The audit: {audit['invoices']} Salla invoices of one day, {audit['missing_found']} missing from "
                     f"Enerpize (the ledger knows the rest), {audit['plan_per_minute']}/min plan (window + 1/s leak)")
        lines.append(f"  {'wall time / lower bound':48} {audit['wall_seconds']:6.2f} s / {audit['bound_seconds']:.2f} s = "
                     f"{audit['ratio']:.2f}x   <= 1.25x  {_mark(audit['ratio'] <= 1.25)}")
        lines.append(f"  {'Salla calls':48} {audit['salla_calls']:8d}   <= {audit['salla_target']}  "
                     f"{_mark(audit['salla_calls'] <= audit['salla_target'])}  ({audit['salla_throttled']} answered 429)")
        lines.append(f"  {'Enerpize calls':48} {audit['enerpize_calls']:8d}   <= {audit['enerpize_target']}  "
                     f"{_mark(audit['enerpize_calls'] <= audit['enerpize_target'])}")
        lines.append(f"  {'peak RSS of the auditing process':48} {audit['peak_rss_mb']:6.0f}MB")
    hooks = report.get("webhooks")
    if hooks:
        lines.append("")
        lines.append(f"Salla webhooks: {hooks['deliveries']} invoice.created deliveries spread over one second, "
                     f"{hooks['plan_per_minute']}/min plan")
        lines.append(f"  {'ack p50 / p99 / max':48} {hooks['ack_p50_ms']:5.0f} / {hooks['ack_p99_ms']:.0f} / "
                     f"{hooks['ack_max_ms']:.0f} ms   p99 <= 100 ms  {_mark(hooks['ack_p99_ms'] <= 100)}")
        lines.append(f"  {'deliveries lost':48} {hooks['lost']:8d}   0  {_mark(hooks['lost'] == 0)}")
        synced = hooks["synced_seconds"]
        ratio = hooks["ratio"]
        lines.append(f"  {'all synced and reported / rate bound':48} "
                     + (f"{synced:6.1f} s / {hooks['bound_seconds']:.1f} s = {ratio:.2f}x   <= 1.25x  {_mark(ratio <= 1.25)}"
                        if synced is not None else "not within the timeout  MISSED")
                     + f"  ({hooks['salla_calls']} Salla calls)")
        per_invoice = hooks["salla_calls"] / hooks["deliveries"]
        lines.append(f"  {'Salla calls per automatically synced invoice':48} {per_invoice:8.2f}   <= 1  {_mark(per_invoice <= 1)}")
    fast = report.get("webhooks_full_speed")
    if fast:
        lines.append(f"  {'the same on the ' + str(fast['plan_per_minute']) + '/min plan: ack p50 / p99 / max':48} "
                     f"{fast['ack_p50_ms']:5.0f} / {fast['ack_p99_ms']:.0f} / {fast['ack_max_ms']:.0f} ms   "
                     f"p99 <= 100 ms  {_mark(fast['ack_p99_ms'] <= 100)}")
        lines.append(f"  {'  all synced and reported':48} {fast['synced_seconds'] or float('nan'):6.1f} s   "
                     f"(Salla's budget is not the limit there: {fast['salla_calls']} calls fit its window)")
    lines.append("")
    m = report["machine"]
    lines.append(f"machine: {m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB RAM, Python {m['python']}, "
                 f"{m['system']}; took {report['duration_seconds']:.0f} s")
    return "\n".join(lines)


def chart(report: dict[str, Any], path: Path) -> None:
    """Orders finished over time, one panel per run, with the lower bound and the final thread message."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = report["runs"]
    columns = min(2, len(runs))
    rows = (len(runs) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.6 * rows), squeeze=False)
    for ax, run in zip(axes.flat, runs):
        times = run["finish_seconds"]
        ax.step([0.0, *times], list(range(len(times) + 1)), where="post", color="tab:blue", linewidth=1.8,
                label="orders finished")
        bound = run["bound"]["seconds"]
        ax.axvline(bound, color="tab:green", linestyle="--", linewidth=1.4, label=f"lower bound {bound:.1f} s")
        ax.axvline(run["wall_seconds"], color="tab:red", linestyle=":", linewidth=1.6,
                   label=f"final thread message {run['wall_seconds']:.1f} s")
        ax.set_title(f"{run_name(run)} plan, concurrency {run['concurrency']}: "
                     f"{run['ratio']:.2f}x the bound", fontsize=10)
        ax.set_xlabel("seconds since the submission")
        ax.set_ylabel("orders finished")
        ax.set_xlim(0, max(run["wall_seconds"], bound) * 1.05)
        ax.set_ylim(0, run["orders"] * 1.05)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    s = report["settings"]
    figure.suptitle(f"salla-sync: {s['orders']} mixed orders, {s['latency'] * 1000:.0f} ms per Salla/Enerpize call",
                    fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def command_line() -> str:
    return " ".join(["python -m bench", *sys.argv[1:]])
