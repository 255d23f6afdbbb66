"""The Invoice Sync Log as a CSV a manager reconciles in a spreadsheet: one row per input number and
document, UTF-8 with a byte order mark so that Excel opens Arabic names and reasons correctly."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping

from sync_core.audit import AuditReport
from sync_core.store.tables import SyncRecord, SyncRun

COLUMNS = ("run", "number typed", "status", "reason", "salla order id", "salla reference", "salla invoice number",
           "kind", "enerpize number", "total", "currency", "who", "when (UTC)")


AUDIT_COLUMNS = ("reference number", "salla order id", "salla invoice id", "salla invoice number", "kind", "date",
                 "total", "currency")


def audit_csv(report: AuditReport) -> bytes:
    """An audit's missing invoices as CSV bytes (UTF-8 with BOM)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for m in report.missing:
        row = m.to_json()
        writer.writerow([row["reference_id"] or "", row["salla_order_id"] or "", row["salla_invoice_id"],
                         row["invoice_number"] or "", row["kind"] or "", row["date"] or "", row["total"], row["currency"]])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def records_csv(records: Iterable[SyncRecord], runs: Mapping[int, SyncRun]) -> bytes:
    """The rows as CSV bytes (UTF-8 with BOM); ``runs`` says who asked for each record's run."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in records:
        run = runs.get(r.run_id)
        writer.writerow([r.run_id, r.number, r.status, r.reason or "", r.salla_order_id or "", r.salla_reference or "",
                         r.salla_invoice_number or "", r.kind or "", r.enerpize_number or r.enerpize_id or "",
                         r.amount or "", r.currency or "", run.requested_by if run else "",
                         r.created_at.strftime("%Y-%m-%d %H:%M:%S") if r.created_at else ""])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
