"""The terminal reporter: how a CLI run shows its results (a table, or the ``--json`` object)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from sync_core.audit import AuditReport
from sync_core.money import fmt
from sync_core.reporting import LiveRun, QuietReporter, ReportCursor
from sync_core.results import OrderResult, SyncStatus, result_lines


def format_results(results: Sequence[OrderResult]) -> str:
    lines = [line for result in results for line in result_lines(result)]
    if not lines:
        return "(no results)"
    width = max(len(line.number) for line in lines)
    status_width = max(len(line.status.value) for line in lines)
    return "\n".join(f"{line.number:<{width}}  {line.status.value:<{status_width}}  {line.detail}".rstrip()
                     for line in lines)


def summary(results: Sequence[OrderResult]) -> str:
    counts = {s: sum(1 for r in results if r.status is s) for s in SyncStatus}
    parts = [f"{counts[s]} {s.value}" for s in SyncStatus if counts[s]]
    return f"{len(results)} order(s): " + ", ".join(parts)


def run_json(run_id: int, results: Sequence[OrderResult]) -> str:
    return json.dumps({"run_id": run_id, "results": [r.to_json() for r in results]}, ensure_ascii=False)


def print_run(run_id: int, results: Sequence[OrderResult], as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        print(run_json(run_id, results), file=out)
    else:
        print(format_results(results), file=out)
        print(f"\nrun {run_id}: {summary(results)}", file=out)


def format_audit(report: AuditReport) -> str:
    """The audit as a table: one line per missing invoice, then the counts."""
    lines = []
    if report.missing:
        rows = [(m.number or "?", m.invoice_number or str(m.salla_invoice_id), m.kind.value if m.kind else "?",
                 m.date.isoformat() if m.date else "", f"{fmt(abs(m.total))} {m.currency}") for m in report.missing]
        widths = [max(len(r[i]) for r in rows + [HEADINGS]) for i in range(len(HEADINGS))]
        for row in [HEADINGS, *rows]:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        lines.append("")
    lines.append(f"{report.range}: {report.salla_invoices} Salla invoice(s), {report.in_enerpize} in Enerpize, "
                 f"{len(report.missing)} missing")
    return "\n".join(lines)


HEADINGS = ("number", "salla invoice", "kind", "date", "total")


class TerminalReporter(QuietReporter):
    """Prints the run's results once it is done: on stdout for the run this command asked for; on
    stderr, headed, for a run an earlier ``salla-sync`` left unfinished and this one finished."""

    def __init__(self, *, as_json: bool = False, out: TextIO | None = None, left_by_earlier: bool = False) -> None:
        self.as_json = as_json
        self.out = out
        self.left_by_earlier = left_by_earlier

    async def start(self, live: LiveRun) -> None:
        if self.left_by_earlier:
            print(f"run {live.run_id} (salla-sync {live.run.source} by {live.run.requested_by}) was left unfinished; "
                  "finishing it first", file=self.out or sys.stderr)

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        out = self.out or (sys.stderr if self.left_by_earlier else sys.stdout)
        print_run(live.run_id, results, self.as_json and not self.left_by_earlier, out)
        if self.left_by_earlier:
            print(file=out)
        return True
