"""``python -m bench --quick`` runs end to end and reports every figure. Nothing here asserts a time:
the figures are for people to read (README "Performance"), not pass/fail on a loaded CI machine."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_quick_benchmark_reports_every_figure(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "bench.json").read_text())

    for part in ("command", "submission", "modal_open"):
        figures = report["acks"][part]
        assert figures["n"] == report["acks"]["users"] * report["acks"]["rounds"], part
        assert all(_number(figures[k]) for k in ("p50_ms", "p99_ms", "max_ms")), figures
    assert report["acks"]["refused"] == []

    runs = report["runs"]
    # each plan on the leaky bucket ("plan") and on Salla's documented window and leak ("window")
    assert [r["role"] for r in runs] == ["plan", "window"] * len(report["settings"]["plans"]) + ["serial"]
    assert [r["rate_model"] for r in runs[:2]] == ["bucket", "window"]
    for run in runs:
        for key in ("wall_seconds", "last_order_seconds", "ratio", "peak_rss_mb"):
            assert _number(run[key]), (key, run[key])
        assert all(_number(run["bound"][k]) for k in ("rate", "latency", "slack", "seconds"))
        assert run["salla_calls"] > 0 and run["enerpize_calls"] > 0 and run["slack_calls"] > 0
        assert len(run["finish_seconds"]) == run["orders"]
        assert run["results_missing"] == []  # every number has its line in the thread
        assert run["result_lines"] >= run["orders"]
    assert runs[-1]["concurrency"] == 1
    assert _number(report["speedup"]["speedup"])

    calls = report["calls"]
    assert all(_number(calls[k]) for k in ("salla_per_single_invoice_order", "enerpize_per_document_cold",
                                           "enerpize_per_document_warm"))
    assert _number(report["peak_rss_mb"])
    audit = report["audit"]
    assert audit["missing_found"] == 10 and audit["salla_calls"] > 0 and _number(audit["ratio"])
    assert {t["target"] for t in report["targets"]} >= {
        "ack p99, /salla-sync command", "ack p99, modal submission", "Salla calls per single-invoice order",
        "Enerpize calls per document, warm caches", "Slack API calls per run (most on any plan)",
        "results lost to Slack 429s (all runs)", "peak RSS of the bot"}
    assert all(isinstance(t["met"], bool) for t in report["targets"])
    for machine_fact in ("cores", "cpu", "python"):
        assert report["machine"][machine_fact]

    assert "Slack acknowledgement" in done.stdout and "The audit:" in done.stdout
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "orders_over_time.png").stat().st_size > 0
