"""``salla-sync audit`` as an on-call engineer runs it: a real process, real HTTP to the simulators."""

from __future__ import annotations

import json

from test_cli import cli


def test_audit_lists_what_is_missing_then_syncs_it(env, sims, tmp_path):
    salla, enerpize = sims
    found = cli(env, "audit", "--from", "2026-11-20", "--json", cwd=tmp_path)
    assert found.returncode == 1, found.stderr  # something is missing
    body = json.loads(found.stdout)
    assert (body["from"], body["to"], body["salla_invoices"], body["in_enerpize"]) == ("2026-11-20", "2026-11-20", 1, 0)
    [missing] = body["missing"]
    assert missing["reference_id"] == 1001 and missing["kind"] == "invoice" and missing["total"] == "310.50"

    synced = cli(env, "audit", "--from", "2026-11-20", "--sync", cwd=tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "1001  Success" in synced.stdout and "1 missing" in synced.stdout

    again = cli(env, "audit", "--from", "2026-11-20", cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout.strip() == "2026-11-20: 1 Salla invoice(s), 1 in Enerpize, 0 missing"
    assert len(enerpize.documents_with_po(f"SALLA-{missing['salla_invoice_id']}")) == 1


def test_a_bad_range_exits_2_with_one_line_and_reads_nothing(env, sims, tmp_path):
    salla, _ = sims
    done = cli(env, "audit", "--from", "2026-11-30", "--to", "2026-11-01", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: the range ends (2026-11-01) before it starts (2026-11-30)"
    assert salla.calls == []
