"""``salla-sync demo``: the whole chat flow against local simulators, no credentials needed.

It starts simulators of Slack, Salla and Enerpize on loopback, serves the real bot app over HTTP,
and sends it what Slack would, signed as Slack signs it: the ``/salla-sync`` command, the modal
submitted with a handful of numbers that show every status (an invoice + return order, a guest,
a number typed as an internal id, one with no invoice yet, one whose totals do not add up, one
that does not exist, one Salla fails to serve), then a click on "Re-run failed", then an audit of
the first ten days of November and a click on its "Sync N missing", then Salla's webhooks (two
new orders delivered by ``invoice.created``: one synced quietly, one alerted with Retry), then
"Download CSV" and a scrape of ``/metrics``. It prints the threads as a person reads them in Slack. The database is an embedded SQLite file
in a temporary folder, thrown away at the end.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import aiohttp
import click

from bot.app import build_app, close_app, deps_of, wait_for_runs
from bot.http import start_http
from bot.ids import ActionId
from bot.threads import ThreadStore
from bot.tuning import FAST
from sandbox import salla_records
from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.salla_webhooks import invoice_created
from sandbox.sample_store import sample_store
from sandbox.settings import simulator_settings
from sandbox.slack_driver import SlackDriver
from sandbox.slack_sim import SlackSimulator
from sync_core.http import ATTEMPTS
from sync_core.input_rules import parse_order_numbers
from sync_core.settings import Settings
from sync_core.store.token_cipher import new_key
from sync_core.terminal import format_results
from sync_core.webhooks import subscribe
from sync_core.wiring import open_service

DEMO_NUMBERS = ["1001", "1002", "1004", "418149281", "1011", "1016", "1017", "1007"]
SECRET = "demo-signing-secret"
USER, CHANNEL = "U0DEMO", "C0FINANCE"
ALERTS, STORE_ID, WEBHOOK_SECRET = "C0ALERTS", "1305146709", "demo-webhook-secret"
AUDIT_FROM, AUDIT_TO = "2026-11-01", "2026-11-10"


def _say(text: str) -> None:
    click.secho(text, bold=True)


def _print_thread(slack: SlackSimulator, channel: str, ts: str, skip: int = 0) -> int:
    messages = slack.thread(channel, ts)
    for index, text in enumerate(messages):
        if index < skip and index != 0:
            continue
        prefix = "│ " if index else ""
        for line in text.splitlines() or [""]:
            click.echo(f"    {prefix}{line}")
        if index == 0:
            click.echo("    └─ thread:")
    return len(messages)


async def _demo(numbers: list[str], settings: Settings, slack: SlackSimulator, salla: SallaSimulator,
                enerpize: EnerpizeSimulator) -> int:
    async with open_service(settings) as service, aiohttp.ClientSession() as http:
        app = build_app(settings, service, tuning=FAST)
        runner, port = await start_http(app)
        driver = SlackDriver(slack, f"http://127.0.0.1:{port}", SECRET, http)  # Slack, in front of the bot
        try:
            _say(f"@{USER} in #{CHANNEL}: /salla-sync")
            view = await driver.open_view(user=USER, channel=CHANNEL)  # acknowledged with an empty 200
            label = next(b["label"]["text"] for b in view["blocks"] if b.get("type") == "input")
            click.echo(f"    (ack 200; a modal opens: \"{view['title']['text']}\", field \"{label}\")\n")

            _say("A line with a comma is refused inline, and nothing runs:")
            _, body = await driver.submit(view, "1001\n1002, 1003", user=USER)
            click.echo(f"    {body}\n")

            # Salla fails every retry of one invoice read, so the re-run has something to fix.
            salla.fail_next(status=503, count=ATTEMPTS, path_contains="/orders/invoices/560009")
            _say("The modal is submitted with:")
            click.echo("    " + " ".join(numbers) + "\n")
            await driver.submit(view, numbers, user=USER)
            await wait_for_runs(app, timeout=120)
            thread = ThreadStore(service.store.engine).get(service.store.recent_runs(1)[0].id)
            assert thread is not None and thread.channel_id and thread.parent_ts and thread.progress_ts
            _say(f"#{CHANNEL} now reads:")
            seen = _print_thread(slack, thread.channel_id, thread.parent_ts)

            _say("\nSomeone on call clicks \"Re-run failed\" (and confirms):")
            rerun = ActionId.RERUN_FAILED.value
            await driver.post(slack.click(thread.channel_id, thread.progress_ts, rerun, user_id=USER))
            await wait_for_runs(app, timeout=120)
            _say("The same thread, after the re-run:")
            _print_thread(slack, thread.channel_id, thread.parent_ts, skip=seen)

            _say(f"\n@{USER}: /salla-sync audit {AUDIT_FROM} {AUDIT_TO}")
            await driver.command(f"audit {AUDIT_FROM} {AUDIT_TO}", user=USER, channel=CHANNEL)
            await wait_for_runs(app, timeout=120)
            audit_parent = slack.top_level(CHANNEL)[-1]
            _say(f"#{CHANNEL} gets a thread for it:")
            seen = _print_thread(slack, CHANNEL, audit_parent.ts)
            summary = slack.replies(CHANNEL, audit_parent.ts)[0]
            if "Sync " in summary.as_text():
                _say("\nThey click \"Sync N missing\" (and confirm):")
                await driver.post(slack.click(CHANNEL, summary.ts, ActionId.SYNC_AUDIT_MISSING.value, user_id=USER))
                await wait_for_runs(app, timeout=120)
                _say("The audit's thread, after the sync:")
                _print_thread(slack, CHANNEL, audit_parent.ts, skip=seen)

            await _webhooks(app, service, salla, slack, port)

            _say("\nA manager clicks \"Download CSV\" on the first run's summary; the file's first lines:")
            await driver.post(slack.click(thread.channel_id, thread.progress_ts, ActionId.DOWNLOAD_CSV.value,
                                          user_id=USER))
            await wait_for_runs(app, timeout=60)
            shared = slack.uploaded_files(thread.channel_id)[-1]
            for line in shared.content.decode("utf-8-sig").splitlines()[:4]:
                click.echo(f"    {line}")

            _say("\nPrometheus scrapes GET /metrics; some of what it reads:")
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = await response.text()
            for line in metrics.splitlines():
                if line.startswith(("salla_sync_orders_total", "salla_sync_api_calls_total")):
                    click.echo(f"    {line}")

            created = sum(len(d) for d in enerpize.documents.values())
            po_numbers = [d.po_number for docs in enerpize.documents.values() for d in docs]
            uploads = len(slack.uploaded_files())
            click.echo(f"\nEnerpize documents created: {created} ({len(set(po_numbers))} distinct Salla invoices)."
                       f"\nCalls: Salla {salla.call_count()}, Enerpize {enerpize.call_count()}, "
                       f"Slack {len(slack.calls())} (+{uploads} file upload{'' if uploads == 1 else 's'}). "
                       f"Top-level messages in #{CHANNEL}: {len(slack.top_level(CHANNEL))}.")
            click.echo("Try the terminal too: salla-sync sync 1001 --json, salla-sync audit --from 2026-11-01, "
                       "salla-sync log (with your .env).")
            return 0
        finally:
            await wait_for_runs(app, timeout=30)
            await runner.cleanup()
            await close_app(app)


async def _webhooks(app, service, salla: SallaSimulator, slack: SlackSimulator, port: int) -> None:
    """Two orders completed in the store: Salla delivers each invoice, signed; one syncs quietly,
    the other (its totals do not add up) lands in the alerts channel with Retry."""
    hook_url = "https://salla-sync.example.sa/salla/webhooks"
    await subscribe(service.salla, hook_url, WEBHOOK_SECRET)  # what `salla-sync webhooks subscribe --url ...` does
    _say(f"\nSalla's webhooks, registered for {hook_url}: two orders are completed in the store.")
    store = salla.store
    good = store.add_order(1020, customer=store.order_by_reference(1001).customer, date="2026-11-21 11:00:00",
                           lines=[salla_records.line("SSD 256GB", "135.00", sku="sam-ssd-256g")])
    bad = store.add_order(1021, customer=None, date="2026-11-21 11:05:00", lines=[salla_records.line("كابل شحن", "40.00")])
    deliveries = [invoice_created(STORE_ID, good, store.add_invoice(good)),
                  invoice_created(STORE_ID, bad, store.add_bad_invoice(bad, off_by="2.00"))]
    for order, body in zip((good, bad), deliveries, strict=True):
        statuses = await salla.deliver(body, to=f"http://127.0.0.1:{port}")
        click.echo(f"    invoice.created for order {order.reference_id} (signed): answered {statuses}")
    runs = await deps_of(app).webhooks.drain()  # the bot's worker does this as events arrive
    await wait_for_runs(app, timeout=120)
    _say("Their lines in the Invoice Sync Log (an automatic run knows each order by Salla's id; "
         "successes are not posted in Slack):")
    results = [r for run_id in runs for r in service.store.run_results(run_id)]
    for result, text_line in zip(results, format_results(results).splitlines(), strict=True):
        click.echo(f"    {text_line}   (order {result.salla_reference})")
    _say(f"#{ALERTS} reads:")
    for message in slack.top_level(ALERTS):
        for text_line in message.as_text().splitlines():
            click.echo(f"    {text_line}")


def run_demo(numbers_text: str | None = None) -> int:
    """Run the demo; returns the CLI exit code (2 for bad numbers)."""
    numbers = DEMO_NUMBERS
    if numbers_text:
        parsed = parse_order_numbers(numbers_text.replace(" ", "\n"))
        if not parsed.ok:
            click.echo("error: " + "\n".join(parsed.errors), err=True)
            return 2
        numbers = parsed.numbers
    with tempfile.TemporaryDirectory(prefix="salla-sync-demo-") as tmp, SlackSimulator() as slack, \
            SallaSimulator(store=sample_store(), latency=0.02) as salla, EnerpizeSimulator(latency=0.02) as enerpize:
        database_url = f"sqlite:///{Path(tmp) / 'salla_sync.db'}"
        click.echo(f"Simulators: Slack {slack.api_url}  Salla {salla.api_url}  Enerpize {enerpize.api_url}\n"
                   f"Database:   {database_url} (embedded SQLite, thrown away at the end)\n")
        # The tokens are encrypted at rest, as in a deployment with SALLA_SYNC_SECRET_KEY set.
        settings = simulator_settings(salla, enerpize, database_url, slack=slack, signing_secret=SECRET,
                                      salla_sync_secret_key=new_key(), salla_webhook_secret=WEBHOOK_SECRET,
                                      salla_store_id=STORE_ID, salla_sync_alerts_channel=ALERTS)
        return asyncio.run(_demo(numbers, settings, slack, salla, enerpize))
