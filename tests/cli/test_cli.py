"""``salla-sync`` as an on-call engineer runs it: a real process, real HTTP to the simulators."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys




def cli(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sync_core.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_sync_json_matches_the_contract_and_exits_0(env, sims, tmp_path):
    done = cli(env, "sync", "1001", "١٠٠٢", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert isinstance(out["run_id"], int)
    first, second = out["results"]
    assert first["number"] == "1001" and first["status"] == "Success" and first["reason"] is None
    [doc] = first["documents"]
    assert doc["kind"] == "invoice" and doc["salla_invoice_id"] == 560001
    assert doc["total"] == "310.50" and doc["currency"] == "SAR" and doc["enerpize_number"]
    assert [d["kind"] for d in second["documents"]] == ["invoice", "return"]


def test_some_order_not_synced_exits_1_with_a_table(env, tmp_path):
    done = cli(env, "sync", "1001", "1017", "1011", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.startswith("1017") and "Record not found" in line for line in lines)
    assert any(line.startswith("1011") and "Failed" in line and "under_review" in line for line in lines)
    assert "3 order(s): 1 Success, 1 Failed, 1 Record not found" in done.stdout


def test_bad_input_exits_2_naming_the_line_and_syncs_nothing(env, sims, tmp_path):
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("1001\n1002, 1003\n", encoding="utf-8")
    done = cli(env, "sync", "--file", str(numbers), cwd=tmp_path)
    assert done.returncode == 2
    assert 'Line 3 "1002, 1003": one number per line, no commas' in done.stderr
    salla, enerpize = sims
    assert salla.call_count() == 0 and enerpize.call_count() == 0


def test_missing_setting_exits_2_with_one_line_and_no_secret(env, tmp_path):
    env = dict(env)
    del env["ENERPIZE_API_URL"]
    done = cli(env, "sync", "1001", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: ENERPIZE_API_URL is not set"
    assert env["ENERPIZE_API_KEY"] not in done.stderr + done.stdout


def test_malformed_setting_is_named(env, tmp_path):
    done = cli(dict(env, SALLA_SYNC_CONCURRENCY="lots"), "sync", "1001", cwd=tmp_path)
    assert done.returncode == 2 and "SALLA_SYNC_CONCURRENCY is malformed" in done.stderr
    assert "Traceback" not in done.stderr


def test_retry_and_log(env, sims, tmp_path):
    salla, enerpize = sims
    enerpize.fail_next(status=400, count=1, path_contains="/invoices", method="POST")
    first = json.loads(cli(env, "sync", "1001", "1004", "--json", cwd=tmp_path).stdout)
    assert sorted(r["status"] for r in first["results"]) == ["Failed", "Success"]
    retried = cli(env, "retry", str(first["run_id"]), "--json", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert [r["status"] for r in json.loads(retried.stdout)["results"]] == ["Success"]
    failed_log = json.loads(cli(env, "log", "--status", "failed", "--json", cwd=tmp_path).stdout)
    assert len(failed_log) == 1 and failed_log[0]["reason"].startswith("Enerpize rejected the invoice")
    table = cli(env, "log", "--limit", "5", cwd=tmp_path).stdout
    assert table.splitlines()[0].startswith("time (UTC)") and len(table.splitlines()) == 4
    assert cli(env, "retry", "999", cwd=tmp_path).returncode == 2


def test_check_reports_each_dependency(env, sims, tmp_path):
    done = cli(env, "check", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", "database"], ["ok", "tokens"], ["ok", "salla"]] + \
        [["ok", "enerpize"]] * 5
    assert "stored in plain text: set SALLA_SYNC_SECRET_KEY" in lines[1]  # the warning, until a key is set
    # Per list, the filter spelling the tenant honours (the simulator's lists start empty).
    assert [line.split(None, 2)[2].split(":")[0] for line in lines[4:]] == [
        "invoices", "refund receipts", "clients", "products"]
    bad = cli(dict(env, ENERPIZE_API_KEY="wrong-key"), "check", cwd=tmp_path)
    assert bad.returncode == 1 and "FAIL  enerpize" in bad.stdout and "wrong-key" not in bad.stdout


def test_demo_runs_with_no_configuration(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SALLA_", "ENERPIZE_", "SLACK_", "DATABASE_"))}
    done = subprocess.run([sys.executable, "-m", "sync_core.cli", "demo"], env=clean, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    for word in ("Success", "Failed", "Record not found"):
        assert word in done.stdout
    # Salla's webhooks: both deliveries accepted, one order synced quietly, the other alerted with Retry.
    assert done.stdout.count("(signed): answered [200]") == 2
    assert "Success  invoice" in done.stdout.split("#C0ALERTS reads:")[0].split("Salla's webhooks")[1]
    alerts = done.stdout.split("#C0ALERTS reads:")[1].split("Download CSV")[0]
    assert "Order `1021` *Failed* — totals differ" in alerts and "[Retry]" in alerts and "1020" not in alerts
    assert not list(tmp_path.iterdir())  # the demo leaves no database behind


def test_log_csv_is_what_a_spreadsheet_reads(env, sims, tmp_path):
    import csv
    import io

    assert cli(env, "sync", "1001", "1002", "1099", cwd=tmp_path).returncode == 1
    done = subprocess.run([sys.executable, "-m", "sync_core.cli", "log", "--csv"], env=env, cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8-sig"))))
    assert sorted((r["number typed"], r["status"], r["kind"]) for r in rows) == [  # in the order they were written
        ("1001", "Success", "invoice"), ("1002", "Success", "invoice"), ("1002", "Success", "return"),
        ("1099", "Record not found", "")]
    assert next(r for r in rows if r["number typed"] == "1001")["total"] == "310.50"
    later = cli(env, "log", "--csv", "--from", "2099-01-01", cwd=tmp_path)
    assert later.returncode == 0 and len(later.stdout.strip().splitlines()) == 1  # the heading only
    bad = cli(env, "log", "--csv", "--from", "2026-12-05", "--to", "2026-12-01", cwd=tmp_path)
    assert bad.returncode == 2 and "the range ends (2026-12-01) before it starts (2026-12-05)" in bad.stderr


def test_tokens_encrypted_with_a_key_and_refused_with_the_wrong_one(env, sims, tmp_path):
    key = cli(env, "db", "new-key", cwd=tmp_path).stdout.strip()
    assert len(key) == 44
    keyed = dict(env, SALLA_SYNC_SECRET_KEY=key)
    done = cli(keyed, "sync", "1001", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "encrypted at rest" in cli(keyed, "check", cwd=tmp_path).stdout
    other = cli(env, "db", "new-key", cwd=tmp_path).stdout.strip()
    wrong = cli(dict(env, SALLA_SYNC_SECRET_KEY=other), "sync", "1004", cwd=tmp_path)
    assert wrong.returncode == 2 and "does not open the stored Salla tokens" in wrong.stderr
    assert other not in wrong.stderr and key not in wrong.stderr and "Traceback" not in wrong.stderr
    missing = cli(env, "sync", "1004", cwd=tmp_path)
    assert missing.returncode == 2 and "encrypted and SALLA_SYNC_SECRET_KEY is not set" in missing.stderr
    rotated = cli(keyed, "db", "rotate-key", other, cwd=tmp_path)
    assert rotated.returncode == 0 and "encrypted with the new key" in rotated.stdout
    assert cli(dict(env, SALLA_SYNC_SECRET_KEY=other), "sync", "1004", cwd=tmp_path).returncode == 0


URLSAFE_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _key_starting_with(sign: str) -> str:
    """A valid key whose base64 begins with ``sign``: the first 6 of its 32 bytes' bits pick it."""
    return base64.urlsafe_b64encode(bytes([URLSAFE_B64.index(sign) << 2]) + os.urandom(31)).decode()


def test_rotate_key_takes_any_key_new_key_prints_and_reads_it_from_stdin(env, sims, tmp_path):
    first = _key_starting_with("A")
    keyed = dict(env, SALLA_SYNC_SECRET_KEY=first)
    assert cli(keyed, "sync", "1001", cwd=tmp_path).returncode == 0
    dashed = _key_starting_with("-")  # one key in 64 that "db new-key" prints looks like an option
    assert dashed.startswith("-")
    rotated = cli(keyed, "db", "rotate-key", dashed, cwd=tmp_path)
    assert rotated.returncode == 0 and "encrypted with the new key" in rotated.stdout, rotated.stderr
    keyed = dict(env, SALLA_SYNC_SECRET_KEY=dashed)
    assert cli(keyed, "sync", "1004", cwd=tmp_path).returncode == 0
    piped = subprocess.run([sys.executable, "-m", "sync_core.cli", "db", "rotate-key"], env=keyed, cwd=tmp_path,
                           input=f"{first}\n", capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "encrypted with the new key" in piped.stdout, piped.stderr
    assert first not in piped.stdout + piped.stderr
    assert cli(dict(env, SALLA_SYNC_SECRET_KEY=first), "sync", "1002", cwd=tmp_path).returncode == 0
    assert cli(keyed, "sync", "1003", cwd=tmp_path).returncode == 2  # the old key no longer opens them
    bad = cli(dict(env, SALLA_SYNC_SECRET_KEY=first), "db", "rotate-key", "-not-a-key", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr == 'error: the new key is not a key salla-sync made: make one with ' \
        '"salla-sync db new-key"\n'
    assert cli(dict(env, SALLA_SYNC_SECRET_KEY=first), "sync", "1005", cwd=tmp_path).returncode != 2  # unchanged


def test_webhooks_subscribe_registers_both_events_once_and_check_says_so(env, sims, tmp_path):
    salla, _ = sims
    hooked = dict(env, SALLA_WEBHOOK_SECRET="salla-webhook-secret-0123")
    before = cli(hooked, "check", cwd=tmp_path)
    assert "FAIL  webhooks  not registered: invoice.created, order.status.updated" in before.stdout
    url = "https://sync.example.sa/salla/webhooks"
    done = cli(hooked, "webhooks", "subscribe", "--url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"invoice.created: registered for {url} (id 1, signed)",
                                        f"order.status.updated: registered for {url} (id 2, signed)"]
    assert [(h["event"], h["security_strategy"], h["secret"]) for h in salla.webhooks] == [
        ("invoice.created", "signature", "salla-webhook-secret-0123"),
        ("order.status.updated", "signature", "salla-webhook-secret-0123")]
    again = cli(hooked, "webhooks", "subscribe", "--url", url, cwd=tmp_path)
    assert "already registered" in again.stdout and len(salla.webhooks) == 2  # once
    assert "ok    webhooks  registered: invoice.created, order.status.updated" in cli(hooked, "check", cwd=tmp_path).stdout
    assert cli(env, "webhooks", "subscribe", "--url", url, cwd=tmp_path).returncode == 2  # no secret set
    local = cli(hooked, "webhooks", "subscribe", "--url", "http://localhost:3000/salla/webhooks", cwd=tmp_path)
    assert local.returncode == 2 and "public https address" in local.stderr
